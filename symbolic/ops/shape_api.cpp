// The shape family's user functions: argument normalisation, static folding, and the
// compositions (transpose, squeeze, zeros, stack, split, repeat, tile, flatten...) built on
// the primitive ops of shape.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "symbolic/elementwise.hpp"
#include "symbolic/index.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/shape_internal.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace shape_detail {

std::string parts_mismatch(std::span<const TensorType> parts, int skip_axis) {
  for (const TensorType& t : parts)
    if (t.rank() != parts[0].rank())
      return fmt::format("parts {} and {} have different ranks", parts[0].str(), t.str());
  for (int j = 0; j < parts[0].rank(); ++j) {
    if (j == skip_axis) continue;
    const TensorType* known = nullptr;  // the first part with a static size here
    for (const TensorType& t : parts) {
      if (t.shape[j] == unknown_dim) continue;
      if (!known) known = &t;
      else if (t.shape[j] != known->shape[j])
        return fmt::format("parts {} and {} differ in dimension {}", known->str(), t.str(), j);
    }
  }
  return {};
}

int own_axis(const Var& dim, const Var& x) {
  if (&dim.node()->op() != &ops::shape_of_op() || !dim.node()->input(0).same(x)) return -1;
  return static_cast<int>(dim.node()->attrs().get_int("axis"));
}

}  // namespace shape_detail

Dims dims_of(const Var& x, std::source_location loc) {
  Dims dims;
  for (int i = 0; i < x.rank(); ++i) {
    std::int64_t d = x.static_shape()[i];
    dims.push_back(d == unknown_dim ? Dim(x.shape(i, loc)) : Dim(d));
  }
  return dims;
}

namespace {

Var int_scalar(std::int64_t value, std::source_location loc) {
  return constant(Array::scalar<std::int64_t>(value), loc);
}

Var dim_var(const Dim& d, std::source_location loc) {
  if (auto* s = std::get_if<std::int64_t>(&d.value)) return int_scalar(*s, loc);
  return std::get<Var>(d.value);
}

// factor * x.shape(from) * ... * x.shape(to - 1): static when every size is.
Dim size_product(const Var& x, int from, int to, std::int64_t factor,
                 std::source_location loc) {
  Var symbolic;
  for (int j = from; j < to; ++j) {
    std::int64_t d = x.static_shape()[j];
    if (d != unknown_dim) factor *= d;
    else symbolic = symbolic.is_null() ? x.shape(j, loc) : mul(symbolic, x.shape(j, loc), loc);
  }
  if (symbolic.is_null()) return factor;  // (!symbolic would build a logical_not node)
  return factor == 1 ? symbolic : mul(symbolic, factor, loc);
}

// The dims are exactly x's own sizes (so reshape/broadcast_to would change nothing).
bool is_own_shape(const Var& x, const std::vector<Var>& dims) {
  if (static_cast<int>(dims.size()) != x.rank()) return false;
  for (int i = 0; i < x.rank(); ++i) {
    auto c = constant_int(dims[i]);
    bool same = c ? x.static_shape()[i] != unknown_dim && *c == x.static_shape()[i]
                  : shape_detail::own_axis(dims[i], x) == i;
    if (!same) return false;
  }
  return true;
}

// An axis normalised for the attribute; left as given when out of range, so that the op's
// inference reports it with the input types.
std::int64_t attr_axis(std::int64_t axis, int rank) {
  int a = normalize_axis(axis, rank);
  return a >= 0 ? a : axis;
}

[[noreturn]] void axis_error(std::string_view op, std::int64_t axis, const Var& x,
                             std::source_location loc) {
  throw_error(op, fmt::format("axis {} is out of range for {}", axis, x.type().str()), loc);
}

std::vector<Var> with_x(const Var& x, std::vector<Var> dims) {
  dims.insert(dims.begin(), x);
  return dims;
}

}  // namespace

Var Var::shape(std::int64_t axis, std::source_location loc) const {
  int a = normalize_axis(axis, rank());
  if (a >= 0 && static_shape()[a] != unknown_dim) return int_scalar(static_shape()[a], loc);
  return apply(ops::shape_of_op(), {*this}, Attrs{{"axis", attr_axis(axis, rank())}}, loc);
}

Var shape(const Var& x, std::source_location loc) { return make_vector(dims_of(x, loc), loc); }

Var make_vector(const Dims& dims, std::source_location loc) {
  std::vector<Var> vars = dim_vars(dims, "make_vector", loc);
  std::vector<std::int64_t> values;
  for (const Var& v : vars)
    if (auto c = constant_int(v)) values.push_back(*c);
  // All static -> a constant vector.
  if (values.size() == vars.size())
    return constant(Array::from_vector(values, {static_cast<std::int64_t>(values.size())}),
                    loc);
  return apply(ops::make_vector_op(), std::move(vars), {}, loc);
}

Var reshape(const Var& x, const Dims& shape, std::source_location loc) {
  std::vector<Var> dims = dim_vars(shape, "reshape", loc);
  if (is_own_shape(x, dims)) return x;  // reshape(x, x.shape) -> x
  return apply(ops::reshape_op(), with_x(x, std::move(dims)), {}, loc);
}

Var Var::reshape(const std::vector<Dim>& shape, std::source_location loc) const {
  return cgvm::reshape(*this, shape, loc);
}

Var flatten(const Var& x, int ndim, std::source_location loc) {
  // Theano allows ndim 1 for a scalar (giving a 1-vector) but nothing past x's rank.
  if (ndim < 1 || (ndim > 1 && ndim > x.rank()))
    throw_error("flatten", fmt::format("ndim {} is out of range for {}", ndim, x.type().str()),
                loc);
  Dims dims = dims_of(x, loc);
  dims.resize(ndim - 1, 0);
  dims.push_back(size_product(x, ndim - 1, x.rank(), 1, loc));
  return reshape(x, dims, loc);
}

Var dimshuffle(const Var& x, const std::vector<std::int64_t>& pattern,
               std::source_location loc) {
  bool identity = static_cast<int>(pattern.size()) == x.rank();
  for (std::size_t i = 0; identity && i < pattern.size(); ++i)
    identity = pattern[i] == static_cast<std::int64_t>(i);
  if (identity) return x;
  return apply(ops::dimshuffle_op(), {x}, Attrs{{"pattern", Ints(pattern)}}, loc);
}

Var Var::dimshuffle(const std::vector<std::int64_t>& pattern, std::source_location loc) const {
  return cgvm::dimshuffle(*this, pattern, loc);
}

Var transpose(const Var& x, const std::vector<std::int64_t>& perm, std::source_location loc) {
  const int rank = x.rank();
  Ints pattern;
  if (perm.empty()) {
    for (int i = rank - 1; i >= 0; --i) pattern.push_back(i);
    return dimshuffle(x, pattern, loc);
  }
  std::vector<bool> seen(rank, false);
  for (std::int64_t p : perm) {
    int a = normalize_axis(p, rank);
    if (static_cast<int>(perm.size()) != rank || a < 0 || seen[a])
      throw_error("transpose",
                  fmt::format("axes [{}] are not a permutation of the axes of {}",
                              fmt::join(perm, ", "), x.type().str()),
                  loc);
    seen[a] = true;
    pattern.push_back(a);
  }
  return dimshuffle(x, pattern, loc);
}

Var Var::T(std::source_location loc) const { return transpose(*this, {}, loc); }

Var expand_dims(const Var& x, std::int64_t axis, std::source_location loc) {
  int a = normalize_axis(axis, x.rank() + 1);
  if (a < 0)
    throw_error("expand_dims",
                fmt::format("axis {} is out of range for {} (the result has rank {})", axis,
                            x.type().str(), x.rank() + 1),
                loc);
  Ints pattern;
  for (int i = 0; i < x.rank(); ++i) pattern.push_back(i);
  pattern.insert(pattern.begin() + a, -1);
  return dimshuffle(x, pattern, loc);
}

Var squeeze(const Var& x, const Axes& axes, std::source_location loc) {
  std::vector<bool> drop(x.rank(), false);
  for (int i = 0; i < x.rank(); ++i) drop[i] = axes.all && x.static_shape()[i] == 1;
  for (std::int64_t axis : axes.list) {
    int a = normalize_axis(axis, x.rank());
    if (a < 0) axis_error("squeeze", axis, x, loc);
    if (x.static_shape()[a] != 1)
      throw_error("squeeze",
                  fmt::format("cannot squeeze axis {} of {}: its size is not statically 1",
                              axis, x.type().str()),
                  loc);
    drop[a] = true;
  }
  Ints pattern;
  for (int i = 0; i < x.rank(); ++i)
    if (!drop[i]) pattern.push_back(i);
  return dimshuffle(x, pattern, loc);
}

Var broadcast_to(const Var& x, const Dims& shape, std::source_location loc) {
  std::vector<Var> dims = dim_vars(shape, "broadcast_to", loc);
  if (is_own_shape(x, dims)) return x;  // broadcast_to(x, x.shape) -> x
  return apply(ops::broadcast_to_op(), with_x(x, std::move(dims)), {}, loc);
}

Var full(const Dims& shape, double value, DType dtype, std::source_location loc) {
  return broadcast_to(constant(value, dtype, loc), shape, loc);
}
Var zeros(const Dims& shape, DType dtype, std::source_location loc) {
  return full(shape, 0, dtype, loc);
}
Var ones(const Dims& shape, DType dtype, std::source_location loc) {
  return full(shape, 1, dtype, loc);
}
Var zeros_like(const Var& x, std::source_location loc) {
  return full(dims_of(x, loc), 0, x.dtype(), loc);
}
Var ones_like(const Var& x, std::source_location loc) {
  return full(dims_of(x, loc), 1, x.dtype(), loc);
}

Var concatenate(const std::vector<Var>& parts, std::int64_t axis, std::source_location loc) {
  if (parts.empty()) throw_error("concatenate", "needs at least one part", loc);
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].is_null())
      throw_error("concatenate", fmt::format("part {} is a null Var", i), loc);
  DType dtype = parts[0].dtype();
  for (const Var& p : parts) dtype = promote(dtype, p.dtype());
  std::vector<Var> same;
  for (const Var& p : parts) same.push_back(cast(p, dtype, loc));
  const std::int64_t a = attr_axis(axis, parts[0].rank());
  if (same.size() == 1 && a >= 0 && a < parts[0].rank()) return same[0];  // one part -> itself
  return apply(ops::concatenate_op(), std::move(same), Attrs{{"axis", a}}, loc);
}

Var stack(const std::vector<Var>& parts, std::int64_t axis, std::source_location loc) {
  if (parts.empty()) throw_error("stack", "needs at least one part", loc);
  std::vector<TensorType> types;
  for (const Var& p : parts) {
    if (p.is_null()) throw_error("stack", "a part is a null Var", loc);
    types.push_back(p.type());
  }
  // Stacked parts must agree in every dimension; checked here to report their own shapes.
  std::string why = shape_detail::parts_mismatch(types, -1);
  if (!why.empty()) throw_error("stack", why, loc);
  int a = normalize_axis(axis, parts[0].rank() + 1);
  if (a < 0)
    throw_error("stack",
                fmt::format("axis {} is out of range for parts of {} (the result has rank {})",
                            axis, types[0].str(), parts[0].rank() + 1),
                loc);
  std::vector<Var> expanded;
  for (const Var& p : parts) expanded.push_back(expand_dims(p, a, loc));
  return concatenate(expanded, a, loc);
}

// The pieces are views x[..., start:stop]. Symbolic sizes that do not add up to the
// dimension are not detected: the last slices just come out short.
std::vector<Var> split(const Var& x, const std::vector<Dim>& sizes, std::int64_t axis,
                       std::source_location loc) {
  int a = normalize_axis(axis, x.rank());
  if (a < 0) axis_error("split", axis, x, loc);
  std::vector<Var> size_vars = dim_vars(sizes, "split", loc);
  std::vector<std::string> shown;
  std::int64_t total = 0;
  bool all_static = true;
  for (const Var& s : size_vars) {
    auto c = constant_int(s);
    shown.push_back(c ? std::to_string(*c) : "?");
    if (c && *c < 0)
      throw_error("split", fmt::format("negative size {} in [{}] (x: {})", *c,
                                       fmt::join(shown, ", "), x.type().str()), loc);
    if (c) total += *c;
    else all_static = false;
  }
  const std::int64_t dim = x.static_shape()[a];
  if (all_static && dim != unknown_dim && total != dim)
    throw_error("split",
                fmt::format("sizes [{}] add up to {}, but axis {} of {} has size {}",
                            fmt::join(shown, ", "), total, axis, x.type().str(), dim),
                loc);
  std::vector<Var> pieces;
  Dim start = 0;
  for (const Var& s : size_vars) {
    auto c = constant_int(s);
    auto* st = std::get_if<std::int64_t>(&start.value);
    Dim stop = c && st ? Dim(*st + *c) : Dim(add(dim_var(start, loc), s, loc));
    auto bound = [](const Dim& d) {
      return std::visit([](const auto& v) { return Bound(v); }, d.value);
    };
    std::vector<Index> index(a, Index(slice(), loc));
    index.emplace_back(slice(bound(start), bound(stop)), loc);
    pieces.push_back(subtensor(x, index, loc));
    start = stop;
  }
  return pieces;
}

Var repeat(const Var& x, std::int64_t repeats, std::int64_t axis, std::source_location loc) {
  int a = normalize_axis(axis, x.rank());
  if (a < 0) axis_error("repeat", axis, x, loc);
  if (repeats < 0)
    throw_error("repeat", fmt::format("repeats must be >= 0, got {} (x: {})", repeats,
                                      x.type().str()), loc);
  if (repeats == 1) return x;
  // [.., n, ..] -> [.., n, 1, ..] -> [.., n, repeats, ..] -> [.., n * repeats, ..]
  Dims stretched = dims_of(x, loc);
  stretched.insert(stretched.begin() + a + 1, repeats);
  Var b = broadcast_to(expand_dims(x, a + 1, loc), stretched, loc);
  Dims out = dims_of(x, loc);
  out[a] = size_product(x, a, a + 1, repeats, loc);
  return reshape(b, out, loc);
}

Var tile(const Var& x, const std::vector<std::int64_t>& reps, std::source_location loc) {
  for (std::int64_t r : reps)
    if (r < 0)
      throw_error("tile", fmt::format("reps must be >= 0, got [{}] (x: {})",
                                      fmt::join(reps, ", "), x.type().str()), loc);
  // numpy pads the shorter of reps and x's shape with leading 1s.
  const int rank = std::max(static_cast<int>(reps.size()), x.rank());
  Ints r(rank - reps.size(), 1);
  r.insert(r.end(), reps.begin(), reps.end());
  Ints lead(rank - x.rank(), -1);
  for (int i = 0; i < x.rank(); ++i) lead.push_back(i);
  Var y = dimshuffle(x, lead, loc);
  if (std::all_of(r.begin(), r.end(), [](std::int64_t v) { return v == 1; })) return y;
  // Each tiled axis i gets a new axis of size r[i] in front: [.., r_i, n_i, ..], which
  // then merges into r_i * n_i.
  Ints pattern;
  Dims stretched, out;
  Dims sizes = dims_of(y, loc);
  for (int i = 0; i < rank; ++i) {
    if (r[i] != 1) {
      pattern.push_back(-1);
      stretched.push_back(r[i]);
    }
    pattern.push_back(i);
    stretched.push_back(sizes[i]);
    out.push_back(size_product(y, i, i + 1, r[i], loc));
  }
  return reshape(broadcast_to(dimshuffle(y, pattern, loc), stretched, loc), out, loc);
}

}  // namespace cgvm
