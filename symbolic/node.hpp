#pragma once
// The graph IR: immutable, hash-consed nodes and the Var handle users hold.
//
// A Node is one application of an op to input Vars, with attributes; it may have several
// outputs (scan, random draws). Nodes are hash-consed: asking for op(inputs; attrs) twice
// returns the same object, so common subexpressions are shared for free and graph equality
// is pointer equality. Every node remembers the source line of the user call that created
// it; errors and printouts point there.
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include "symbolic/attrs.hpp"
#include "symbolic/type.hpp"

namespace cgvm {

struct OpDef;
class Node;
using NodePtr = std::shared_ptr<const Node>;

// A handle to one output of a node. Cheap to copy. Operators and methods that build new
// nodes are declared in the family headers (symbolic/elementwise.hpp, reduce.hpp, ...).
class Var {
 public:
  Var() = default;
  explicit Var(NodePtr node, int index = 0) : node_(std::move(node)), index_(index) {}

  const NodePtr& node() const { return node_; }
  int index() const { return index_; }
  bool is_null() const { return node_ == nullptr; }
  explicit operator bool() const { return node_ != nullptr; }
  // Same node, same output: identity, not value equality (operator== is not overloaded,
  // as in Theano; use eq() for the elementwise comparison).
  bool same(const Var& other) const { return node_ == other.node_ && index_ == other.index_; }

  const TensorType& type() const;
  DType dtype() const { return type().dtype; }
  int rank() const { return type().rank(); }
  const Shape& static_shape() const { return type().shape; }
  // The name given to an input or shared variable ("" otherwise).
  std::string name() const;

  // --- methods, defined with their op families -------------------------------------
  // (kept here so that x.sum() reads like numpy; each forwards to the free function)
  Var sum(const struct Axes& axes, bool keepdims = false,
          std::source_location loc = std::source_location::current()) const;
  Var sum(std::source_location loc = std::source_location::current()) const;
  Var mean(const struct Axes& axes, bool keepdims = false,
           std::source_location loc = std::source_location::current()) const;
  Var mean(std::source_location loc = std::source_location::current()) const;
  Var max(const struct Axes& axes, bool keepdims = false,
          std::source_location loc = std::source_location::current()) const;
  Var max(std::source_location loc = std::source_location::current()) const;
  Var min(const struct Axes& axes, bool keepdims = false,
          std::source_location loc = std::source_location::current()) const;
  Var min(std::source_location loc = std::source_location::current()) const;
  Var reshape(const std::vector<struct Dim>& shape,
              std::source_location loc = std::source_location::current()) const;
  Var dimshuffle(const std::vector<std::int64_t>& pattern,
                 std::source_location loc = std::source_location::current()) const;
  Var T(std::source_location loc = std::source_location::current()) const;
  Var astype(DType dtype, std::source_location loc = std::source_location::current()) const;
  // Symbolic size of one dimension (an int64 scalar; a constant when statically known).
  Var shape(std::int64_t axis, std::source_location loc = std::source_location::current()) const;
  // Indexing, numpy style: x(1), x(slice(1, -1), slice()), x(idx_vector) (advanced, axis 0).
  // Fixed arities rather than a variadic template: each entry converts to Index at the
  // user's call, which records that line for errors. More entries: subtensor(x, {...}).
  Var operator()(std::source_location loc = std::source_location::current()) const;
  Var operator()(const struct Index& i0) const;
  Var operator()(const struct Index& i0, const struct Index& i1) const;
  Var operator()(const struct Index& i0, const struct Index& i1, const struct Index& i2) const;
  Var operator()(const struct Index& i0, const struct Index& i1, const struct Index& i2,
                 const struct Index& i3) const;
  Var operator()(const struct Index& i0, const struct Index& i1, const struct Index& i2,
                 const struct Index& i3, const struct Index& i4) const;
  Var operator()(const struct Index& i0, const struct Index& i1, const struct Index& i2,
                 const struct Index& i3, const struct Index& i4, const struct Index& i5) const;
  Var operator[](const struct Index& index) const;

 private:
  NodePtr node_;
  int index_ = 0;
};

struct VarHash {
  std::size_t operator()(const Var& v) const {
    return std::hash<const void*>()(v.node().get()) * 31 + static_cast<std::size_t>(v.index());
  }
};
struct VarEq {
  bool operator()(const Var& a, const Var& b) const { return a.same(b); }
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  const OpDef& op() const { return *op_; }
  const std::vector<Var>& inputs() const { return inputs_; }
  const Var& input(int i) const { return inputs_[i]; }
  const Attrs& attrs() const { return attrs_; }
  const std::vector<TensorType>& output_types() const { return types_; }
  int num_outputs() const { return static_cast<int>(types_.size()); }
  Var output(int i = 0) const;
  const std::source_location& location() const { return loc_; }
  std::size_t hash() const { return hash_; }
  // Creation order of live nodes: stable, readable ids for printing and deterministic order.
  std::uint64_t id() const { return id_; }

  Node(const OpDef& op, std::vector<Var> inputs, Attrs attrs, std::vector<TensorType> types,
       std::source_location loc, std::size_t hash, std::uint64_t id);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

 private:
  const OpDef* op_;
  std::vector<Var> inputs_;
  Attrs attrs_;
  std::vector<TensorType> types_;
  std::source_location loc_;
  std::size_t hash_;
  std::uint64_t id_;
};

// Finds or creates op(inputs; attrs). Runs the op's type inference, which raises
// cgvm::Error (naming the op, the input types and `loc`) when the inputs do not fit.
NodePtr make_node(const OpDef& op, std::vector<Var> inputs, Attrs attrs,
                  std::source_location loc);
// make_node(...)->output(0), for the common single-output case.
Var apply(const OpDef& op, std::vector<Var> inputs, Attrs attrs, std::source_location loc);

// Number of live nodes (tests check that graphs are freed).
std::size_t live_node_count();

}  // namespace cgvm
