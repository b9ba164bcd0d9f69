#include "optimizer/simplify_shapes.hpp"

#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;

// The node's first input, when its type already is the node's type with every size known:
// the op does nothing.
Var unchanged_input(const Match& m) {
  const Var& in = m.input(0);
  const TensorType& out = m.node().output_types()[0];
  return in.type() == out && out.fully_known() ? in : Var();
}

// reshape(reshape(x, ...), dims) -> reshape(x, dims)
Var reshape_of_reshape(const Match& m) {
  const Var& inner = m.input(0);
  if (&inner.node()->op() != &m.node().op()) return {};
  std::vector<Var> inputs = m.node().inputs();
  inputs[0] = inner.node()->input(0);
  return m.make(m.node().op(), std::move(inputs), m.node().attrs());
}

// dimshuffle(dimshuffle(x, p), q) -> dimshuffle(x, p∘q), or x when that is the identity.
Var dimshuffle_of_dimshuffle(const Match& m) {
  const Ints& q = m.node().attrs().get_ints("pattern");
  const Ints& p = m[y].node()->attrs().get_ints("pattern");
  Ints composed;
  for (std::int64_t i : q) composed.push_back(i == -1 ? -1 : p[i]);
  return m.make("dimshuffle", {m[x]}, Attrs{{"pattern", composed}});
}

// dimshuffle(x, [0, 1, ..., rank-1]) -> x
Var identity_dimshuffle(const Match& m) {
  const Ints& pattern = m.node().attrs().get_ints("pattern");
  if (static_cast<int>(pattern.size()) != m[x].rank()) return {};
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] != static_cast<std::int64_t>(i)) return {};
  return m[x];
}

// shape_of(x; axis) -> the static size, when the type knows it
Var known_size(const Match& m) {
  const std::int64_t size = m[x].static_shape()[m.node().attrs().get_int("axis")];
  return size == unknown_dim ? Var() : m.constant(static_cast<double>(size), DType::Int64);
}

// shape_of(elementwise(a, b); i) -> shape_of(a; i) for an input whose size i is the
// result's (not a broadcast 1): the size is known without computing the op.
Var size_of_elementwise(const Match& m) {
  const Node& e = *m[x].node();
  if (e.op().family != OpFamily::Elementwise || m[x].index() != 0) return {};
  const int axis = static_cast<int>(m.node().attrs().get_int("axis"));
  const int rank = m[x].rank();
  for (const Var& in : e.inputs()) {
    const int a = axis - (rank - in.rank());  // ranks align to the right
    if (a >= 0 && in.static_shape()[a] != 1)
      return m.make("shape_of", {in}, Attrs{{"axis", std::int64_t{a}}});
  }
  return {};
}

}  // namespace

std::vector<Rule> simplify_shapes_rules() {
  return {
      // reshape(reshape(x, s), t) -> reshape(x, t)
      {"reshape(reshape x) -> reshape x", node("reshape"), reshape_of_reshape},
      // reshape(x, shape of x) -> x
      {"reshape to own shape -> x", node("reshape"), unchanged_input},
      // broadcast_to(x, shape of x) -> x
      {"broadcast_to own shape -> x", node("broadcast_to"), unchanged_input},
      // dimshuffle(dimshuffle(x, p), q) -> dimshuffle(x, p∘q)
      {"dimshuffle(dimshuffle x) -> dimshuffle x", op("dimshuffle", {op("dimshuffle", {x}, y)}),
       dimshuffle_of_dimshuffle},
      // dimshuffle(x, identity) -> x
      {"identity dimshuffle -> x", op("dimshuffle", {x}), identity_dimshuffle},
      // shape_of(x; i) -> k when x's type knows size k
      {"known size -> constant", op("shape_of", {x}), known_size},
      // shape_of(a op b; i) -> shape_of(a; i) when a is not broadcast along i
      {"size of elementwise -> size of input", op("shape_of", {x}), size_of_elementwise},
  };
}

}  // namespace cgvm
