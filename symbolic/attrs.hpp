#pragma once
// Op attributes: a small ordered list of named, hashable, printable values (an axis list, a
// target dtype, a constant's Array, a shared variable's state...). Part of a node's identity.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/array.hpp"

namespace cgvm {

class SharedState;  // symbolic/shared.hpp
struct Subgraph;    // symbolic/graph.hpp: a loop's body

using Ints = std::vector<std::int64_t>;
// A subgraph compares by identity: two nodes are equal only when they hold the same body.
using AttrValue = std::variant<std::int64_t, double, bool, std::string, DType, Ints, Array,
                               std::shared_ptr<SharedState>, std::shared_ptr<const Subgraph>>;

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items);

  Attrs& set(std::string name, AttrValue value);
  bool has(std::string_view name) const;
  const AttrValue& get(std::string_view name) const;  // InternalError when missing

  std::int64_t get_int(std::string_view name) const;
  double get_double(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  const std::string& get_string(std::string_view name) const;
  DType get_dtype(std::string_view name) const;
  const Ints& get_ints(std::string_view name) const;
  const Array& get_array(std::string_view name) const;
  const std::shared_ptr<SharedState>& get_shared(std::string_view name) const;
  const std::shared_ptr<const Subgraph>& get_subgraph(std::string_view name) const;

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  std::size_t hash() const;
  bool operator==(const Attrs& other) const;
  // "axes=[0, 1], keepdims=true". Arrays print as their type and, when small, values.
  std::string str() const;

 private:
  std::vector<std::pair<std::string, AttrValue>> items_;
};

}  // namespace cgvm
