#include "optimizer/simplify_shapes.hpp"

#include <algorithm>

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

// shape_of(reduce(x, axes); i) -> shape_of(x; j) for the axis j of x that is the result's i
Var size_of_reduction(const Match& m) {
  const Node& r = *m[x].node();
  if (r.op().family != OpFamily::Reduce || !r.attrs().has("axes") || m[x].index() != 0)
    return {};
  const Ints& axes = r.attrs().get_ints("axes");
  const bool keepdims = r.attrs().has("keepdims") && r.attrs().get_bool("keepdims");
  const std::int64_t axis = m.node().attrs().get_int("axis");
  auto reduced = [&](std::int64_t a) { return std::find(axes.begin(), axes.end(), a) != axes.end(); };
  std::int64_t source = -1;
  if (keepdims) {
    source = reduced(axis) ? -1 : axis;
  } else {  // the result's axis i is the i-th axis of x that is not reduced
    for (std::int64_t a = 0, kept = 0; a < r.input(0).rank(); ++a)
      if (!reduced(a) && kept++ == axis) source = a;
  }
  if (source < 0) return {};
  return m.make("shape_of", {r.input(0)}, Attrs{{"axis", source}});
}

// shape_of(dimshuffle(x, p); i) -> shape_of(x; p[i]) where p[i] is an axis of x
Var size_of_dimshuffle(const Match& m) {
  const Ints& pattern = m[y].node()->attrs().get_ints("pattern");
  const std::int64_t from = pattern[m.node().attrs().get_int("axis")];
  if (from < 0) return {};
  return m.make("shape_of", {m[x]}, Attrs{{"axis", from}});
}

// shape_of(a @ b; 0) -> shape_of(a; 0), shape_of(a @ b; 1) -> shape_of(b; 1) for matrices:
// the size of a product is known without running it (nor keeping it for its shape alone).
Var size_of_product(const Match& m) {
  const Node& p = *m[x].node();
  if (p.op().name != "matmul" || p.input(0).rank() != 2 || p.input(1).rank() != 2) return {};
  const std::int64_t axis = m.node().attrs().get_int("axis");
  return m.make("shape_of", {p.input(static_cast<int>(axis))}, Attrs{{"axis", axis}});
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
      // shape_of(sum(x, axes); i) -> shape_of(x; j) for the kept axis j
      {"size of reduction -> size of input", op("shape_of", {x}), size_of_reduction},
      // shape_of(dimshuffle(x, p); i) -> shape_of(x; p[i])
      {"size of dimshuffle -> size of input", op("shape_of", {op("dimshuffle", {x}, y)}),
       size_of_dimshuffle},
      // shape_of(a @ b; i) -> shape_of(a; 0) or shape_of(b; 1)
      {"size of product -> size of operand", op("shape_of", {x}), size_of_product},
  };
}

}  // namespace cgvm
