#pragma once
// Small argument types of the user API: axes of a reduction, dimensions of a shape (static
// or symbolic), and index entries (integers, slices, index tensors, new axes).
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <source_location>
#include <variant>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

// Axes of a reduction: all of them (default), one, or a list. Negative axes count from the
// end.
struct Axes {
  bool all = true;
  std::vector<std::int64_t> list;

  Axes() = default;
  Axes(int axis) : all(false), list{axis} {}
  Axes(std::int64_t axis) : all(false), list{axis} {}
  Axes(std::initializer_list<std::int64_t> axes) : all(false), list(axes) {}
  Axes(std::vector<std::int64_t> axes) : all(false), list(std::move(axes)) {}
};

// One dimension of a shape argument: a static size (or -1 for "infer" in reshape) or a
// symbolic int scalar such as x.shape(0).
struct Dim {
  std::variant<std::int64_t, Var> value;
  Dim(int size) : value(std::int64_t{size}) {}
  Dim(std::int64_t size) : value(size) {}
  Dim(Var size) : value(std::move(size)) {}
};
using Dims = std::vector<Dim>;

// Python's None inside a slice.
struct NoneT {};
inline constexpr NoneT none{};

// One bound of a slice: none, a static integer, or a symbolic int scalar.
struct Bound {
  std::variant<NoneT, std::int64_t, Var> value;
  Bound(NoneT = none) : value(NoneT{}) {}
  Bound(int v) : value(std::int64_t{v}) {}
  Bound(std::int64_t v) : value(v) {}
  Bound(Var v) : value(std::move(v)) {}
  bool is_none() const { return std::holds_alternative<NoneT>(value); }
};

struct Slice {
  Bound start, stop, step;
};
// slice(start, stop, step), like Python's start:stop:step; slice() is a whole dimension.
inline Slice slice(Bound start = none, Bound stop = none, Bound step = none) {
  return Slice{std::move(start), std::move(stop), std::move(step)};
}

// A new axis of size 1, numpy's np.newaxis (Theano's 'x' in dimshuffle patterns is -1).
struct NewAxisT {};
inline constexpr NewAxisT newaxis{};

// One entry of an index expression. An integer (static or a symbolic int scalar) picks one
// element and drops the dimension; a slice keeps it; an integer tensor of rank >= 1 is an
// advanced index (gather); newaxis inserts a dimension. The location of the indexing
// expression is captured here because operator() cannot take a default argument.
struct Index {
  std::variant<std::int64_t, Slice, Var, NewAxisT> value;
  std::source_location loc;

  Index(int i, std::source_location l = std::source_location::current())
      : value(std::int64_t{i}), loc(l) {}
  Index(std::int64_t i, std::source_location l = std::source_location::current())
      : value(i), loc(l) {}
  Index(Slice s, std::source_location l = std::source_location::current())
      : value(std::move(s)), loc(l) {}
  Index(Var v, std::source_location l = std::source_location::current())
      : value(std::move(v)), loc(l) {}
  Index(NewAxisT, std::source_location l = std::source_location::current())
      : value(NewAxisT{}), loc(l) {}
};

}  // namespace cgvm

namespace cgvm {

// Turns a shape argument into int64 scalar Vars (static sizes become constants), for ops
// that take their shape as inputs. A symbolic dim that is not an integer scalar is an Error
// naming `op`.
std::vector<Var> dim_vars(const Dims& dims, std::string_view op, std::source_location loc);
// The static sizes of such dim inputs: the constant's value, or unknown_dim.
Shape static_sizes(std::span<const Var> dims);

}  // namespace cgvm
