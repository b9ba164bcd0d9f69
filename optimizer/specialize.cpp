#include "optimizer/specialize.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "symbolic/contraction.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;

// A matmul of two float matrices, the only products gemm takes.
bool is_matrix_product(const Var& v) {
  if (!is_op(v, "matmul")) return false;
  const Var &a = v.node()->input(0), &b = v.node()->input(1);
  return a.rank() == 2 && b.rank() == 2 && is_float(a.dtype());
}

// A scalar constant as gemm's alpha: one element, of no more dims than the product (so it
// stretches without making the product larger).
std::optional<double> scale_of(const Var& k) {
  const Array* value = constant_value(k);
  if (!value || value->size() != 1 || k.rank() > 2) return std::nullopt;
  auto alpha = uniform_value(k);
  // 0 * (a @ b) is NaN where a or b holds inf or NaN; gemm with alpha 0 would skip reading them.
  if (alpha == 0.0) return std::nullopt;
  return alpha;
}

// alpha * (a @ b), as the gemm rules read their product operand.
struct Product {
  Var a, b;
  double alpha = 1;
  const Node* node = nullptr;  // the matmul: its line is the gemm's
};

Product product(const Var& dot, double alpha) {
  return {dot.node()->input(0), dot.node()->input(1), alpha, dot.node().get()};
}

// `v` as a product that its one consumer may fold in: dot(a,b), k*dot(a,b) or -dot(a,b), each
// node read only there (else the product would run twice).
std::optional<Product> product_of(const Match& m, const Var& v) {
  if (!m.single_use(v)) return std::nullopt;
  if (is_matrix_product(v)) return product(v, 1);
  if (is_op(v, "neg") && is_matrix_product(v.node()->input(0)) && m.single_use(v.node()->input(0)))
    return product(v.node()->input(0), -1);
  if (!is_op(v, "mul")) return std::nullopt;
  for (int i : {0, 1}) {
    const Var &k = v.node()->input(i), &dot = v.node()->input(1 - i);
    if (!is_matrix_product(dot) || !m.single_use(dot)) continue;
    if (auto alpha = scale_of(k)) return product(dot, *alpha);
  }
  return std::nullopt;
}

// Whether `c` stretches to the product's [m, n] without making it larger: no more than two
// dims, and a static 1 of the product meets a static 1 of c. (Every other static mismatch is
// already an error of the add.)
bool addend_fits(const Var& c, const Product& p) {
  if (c.rank() > 2) return false;
  const Shape product_shape{p.a.static_shape()[0], p.b.static_shape()[1]};
  for (int j = 0; j < c.rank(); ++j)
    if (product_shape[j + 2 - c.rank()] == 1 && c.static_shape()[j] != 1) return false;
  return true;
}

// gemm(a, b, c, alpha, beta), at the product's source line.
Var gemm_of(const Product& p, const Var& c, double alpha, double beta) {
  return gemm(p.a, p.b, c, alpha, beta, p.node->location());
}

// c + k*dot(a,b), in either order.
Var add_product(const Match& m) {
  for (auto [term, c] : {std::pair{m[x], m[y]}, std::pair{m[y], m[x]}}) {
    auto p = product_of(m, term);
    if (p && addend_fits(c, *p)) return gemm_of(*p, c, p->alpha, 1);
  }
  return {};
}

// k*dot(a,b) - c, or (`product_first` false) c - k*dot(a,b).
Var sub_product(const Match& m, bool product_first) {
  const Var &term = product_first ? m[x] : m[y], &c = product_first ? m[y] : m[x];
  auto p = product_of(m, term);
  if (!p || !addend_fits(c, *p)) return {};
  return product_first ? gemm_of(*p, c, p->alpha, -1) : gemm_of(*p, c, -p->alpha, 1);
}

// A scaled product alone: gemm with no addend. Where an add or sub is its one reader, that
// rule takes the scale with the addend instead.
Var scaled_product(const Match& m, const Var& dot, double alpha) {
  const Var self = m.node().output(0);
  if (!is_matrix_product(dot) || !m.single_use(dot)) return {};
  if (m.single_use(self) && m.only_feeds(self, {&op_named("add"), &op_named("sub")})) return {};
  return gemm_of(product(dot, alpha), m.constant(0, m.dtype()), alpha, 0);
}

// A weight a horizontal merge may join: an input or a constant (never rewritten, so that
// every product of a group sees the same weights) with static sizes, of the products' dtype.
bool mergeable_weight(const Var& w, DType dtype) {
  return (is_input(w) || is_constant(w)) && w.rank() == 2 && w.type().fully_known() &&
         w.dtype() == dtype;
}

// dot(x, W1), dot(x, W2), ... -> the columns of dot(x, concatenate(W1, W2, ..., axis 1)).
// Each product of the group finds the same group (the readers of x, in node order) and
// builds the same joined product, which hash-consing makes one node. Not for a single row
// of x: a matrix @ vector product streams its weights once, and joining them first would
// copy them once more.
Var merge_siblings(const Match& m) {
  const Var &left = m[x], &weight = m[y];
  if (!is_matrix_product(m.node().output(0)) || left.static_shape()[0] == 1 ||
      !mergeable_weight(weight, left.dtype()))
    return {};
  // The readers are nodes of the graph as given: compare with what `left` and this product
  // were there (the walk may have rebuilt both); the weights are never rebuilt.
  const Node* given_left = m.original(left);
  const Node* given_self = m.original(m.node().output(0));
  std::vector<const Node*> group;
  for (const Node* r : m.readers(left))
    if (r->op().name == "matmul" && r->input(0).node().get() == given_left &&
        r->input(0).index() == left.index() &&
        mergeable_weight(r->input(1), left.dtype()) &&
        r->input(1).static_shape()[0] == weight.static_shape()[0])
      group.push_back(r);
  std::sort(group.begin(), group.end(),
            [](const Node* a, const Node* b) { return a->id() < b->id(); });
  group.erase(std::unique(group.begin(), group.end()), group.end());  // matmul(x, x): twice
  if (group.size() < 2 || std::find(group.begin(), group.end(), given_self) == group.end())
    return {};
  std::vector<Var> weights;
  std::vector<Dim> widths;
  std::size_t index = 0;
  for (const Node* r : group) {
    if (r == given_self) index = weights.size();
    weights.push_back(r->input(1));
    widths.push_back(Dim(r->input(1).static_shape()[1]));
  }
  const auto& loc = m.node().location();
  Var joined = matmul(left, concatenate(weights, 1, loc), loc);
  return split(joined, widths, 1, loc)[index];
}

// a @ b with an inner size of 1 (a column times a row): an outer product, which is the
// broadcast a * b, one loop that fuses with what reads it, where BLAS would make a product
// call and a buffer of its own.
Var outer_product(const Match& m) {
  const Var &a = m[x], &b = m[y];
  if (a.rank() != 2 || b.rank() != 2 || a.static_shape()[1] != 1 || b.static_shape()[0] != 1)
    return {};
  return m.make("mul", {a, b});
}

}  // namespace

std::vector<Rule> specialize_rules() {
  return {
      // k*dot(a,b) + c -> gemm(a, b, c, k, 1)
      {"dot(a,b) + c -> gemm", op("add", {x, y}), add_product},
      // k*dot(a,b) - c -> gemm(a, b, c, k, -1)
      {"dot(a,b) - c -> gemm", op("sub", {x, y}),
       [](const Match& m) { return sub_product(m, true); }},
      // c - k*dot(a,b) -> gemm(a, b, c, -k, 1)
      {"c - dot(a,b) -> gemm", op("sub", {x, y}),
       [](const Match& m) { return sub_product(m, false); }},
      // k*dot(a,b) -> gemm(a, b, 0, k, 0)
      {"k*dot(a,b) -> gemm", op("mul", {any_constant(z), op("matmul", {x, y}, w)}),
       [](const Match& m) {
         auto alpha = scale_of(m[z]);
         return alpha ? scaled_product(m, m[w], *alpha) : Var();
       }},
      // -dot(a,b) -> gemm(a, b, 0, -1, 0)
      {"-dot(a,b) -> gemm", op("neg", {op("matmul", {x, y}, w)}),
       [](const Match& m) { return scaled_product(m, m[w], -1); }},
      // a @ b with inner size 1 -> a * b (broadcast)
      {"outer product dot -> a * b", op("matmul", {x, y}), outer_product},
      // dot(x,W1), dot(x,W2) -> columns of dot(x, [W1 W2])
      {"dot(x,W1), dot(x,W2) -> dot(x, [W1 W2])", op("matmul", {x, y}), merge_siblings},
  };
}

}  // namespace cgvm
