#include "optimizer/simplify_algebra.hpp"

#include <algorithm>
#include <cmath>

#include "optimizer/simplify_products.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;

// x ** p for the exponents that have a cheaper exact spelling.
Var power(const Match& m) {
  const Var& base = m[x];
  auto p = uniform_value(m[y]);
  if (!p || !is_float(base.dtype())) return {};
  auto make = [&](std::string_view op, std::vector<Var> in) { return m.make(op, std::move(in)); };
  if (*p == 1) return base;
  if (*p == 2) return make("sqr", {base});
  if (*p == 3) return make("mul", {base, make("sqr", {base})});
  if (*p == 4) return make("sqr", {make("sqr", {base})});
  if (*p == 0.5) return make("sqrt", {base});
  if (*p == -0.5) return make("rsqrt", {base});
  if (*p == -1) return make("true_div", {m.constant(1, base.dtype()), base});
  if (*p == -2) return make("true_div", {m.constant(1, base.dtype()), make("sqr", {base})});
  if (*p == 0) return ones_like(base, m.node().location());
  return {};
}

// The terms of a tree of `op` nodes (add or mul), left to right.
void collect_terms(const Var& v, const OpDef& op, std::vector<Var>& terms) {
  if (is_op(v, op)) {
    collect_terms(v.node()->input(0), op, terms);
    collect_terms(v.node()->input(1), op, terms);
  } else {
    terms.push_back(v);
  }
}

// Constants first, then by creation order: a fixed order, so equal term sets give equal chains.
bool term_before(const Var& a, const Var& b) {
  const bool ca = is_constant(a), cb = is_constant(b);
  if (ca != cb) return ca;
  if (a.node()->id() != b.node()->id()) return a.node()->id() < b.node()->id();
  return a.index() < b.index();
}

// Rebuilds a + or * tree as the canonical left-deep chain; null when it already is one.
//
// Only the tree's root is sorted: inner links (read only by the same op) are left to it, so
// a chain of n links costs n log n, not n^2, whatever order its terms came in. The chain it
// builds is then walked link by link: each appends a term after the last one of a canonical
// chain, settled in constant time (as is the usual `total = total + x` on a canonical total).
// A term that sorts inside a canonical chain rebuilds only the links after it.
Var canonical_chain(const Match& m) {
  const OpDef& op = m.node().op();
  if (m.only_feeds(m.node().output(0), {&op})) return {};
  const Var& head = m.node().input(0);
  const Var& term = m.node().input(1);
  if (is_op(head, op) && !m.only_feeds(head, {&op}) && !is_op(term, op) && !is_constant(term)) {
    std::vector<Var> after;  // the chain's last terms that sort after `term`, last first
    Var prefix = head;
    while (is_op(prefix, op) && term_before(term, prefix.node()->input(1))) {
      after.push_back(prefix.node()->input(1));
      prefix = prefix.node()->input(0);
    }
    if (after.empty()) return {};  // already in order
    Var chain;
    if (!is_op(prefix, op) && term_before(term, prefix)) {  // `term` goes first
      after.push_back(prefix);
      chain = term;
    } else {
      chain = m.make(op, {prefix, term});
    }
    for (auto it = after.rbegin(); it != after.rend(); ++it) chain = m.make(op, {chain, *it});
    return chain;
  }
  std::vector<Var> terms;
  collect_terms(m.node().output(0), op, terms);
  std::vector<Var> sorted = terms;
  std::stable_sort(sorted.begin(), sorted.end(), term_before);
  // Already canonical: a left-deep chain (only the first input may be the op), in order,
  // with at most one constant.
  bool left_deep = true;
  for (const Node* n = &m.node(); &n->op() == &op; n = n->input(0).node().get())
    if (is_op(n->input(1), op)) left_deep = false;
  const bool one_constant = sorted.size() < 2 || !is_constant(sorted[1]);
  if (left_deep && one_constant && std::equal(terms.begin(), terms.end(), sorted.begin(),
                                              [](const Var& a, const Var& b) { return a.same(b); }))
    return {};
  Var chain = sorted[0];
  for (std::size_t i = 1; i < sorted.size(); ++i) chain = m.make(op, {chain, sorted[i]});
  return chain;
}

}  // namespace

std::vector<Rule> simplify_algebra_rules() {
  auto same = [](Slot s) { return [s](const Match& m) { return m[s]; }; };
  return {
      // First: a chain's inner links are left to its root (canonical_chain), so the root
      // must be sorted before another rule replaces it (x+(-y) -> x-y would keep x unsorted).
      // a + (b + c) -> (a + b) + c, sorted; constants merge
      {"flatten and sort +", op("add", {x, y}), canonical_chain},
      // a * (b * c) -> (a * b) * c, sorted; constants merge
      {"flatten and sort *", op("mul", {x, y}), canonical_chain},
      // x*1 -> x
      {"x*1 -> x", op("mul", {x, c(1)}), same(x)},
      // x+0 -> x
      {"x+0 -> x", op("add", {x, c(0)}), same(x)},
      // x-0 -> x
      {"x-0 -> x", op("sub", {x, c(0)}), same(x)},
      // x/1 -> x
      {"x/1 -> x", op("true_div", {x, c(1)}), same(x)},
      // 0-x -> -x
      {"0-x -> -x", op("sub", {c(0), x}), [](const Match& m) { return m.make("neg", {m[x]}); }},
      // x*-1 -> -x
      {"x*-1 -> -x", op("mul", {x, c(-1)}), [](const Match& m) { return m.make("neg", {m[x]}); }},
      // --x -> x
      {"--x -> x", op("neg", {op("neg", {x})}), same(x)},
      // x-x -> 0
      {"x-x -> 0", op("sub", {x, x}),
       [](const Match& m) { return zeros_like(m[x], m.node().location()); }},
      // x/x -> 1 where x is never 0
      {"x/x -> 1", op("true_div", {x, x}),
       [](const Match& m) {
         return never_zero(m[x]) ? ones_like(m[x], m.node().location()) : Var();
       }},
      // x - (-y) -> x + y
      {"x-(-y) -> x+y", op("sub", {x, op("neg", {y})}),
       [](const Match& m) { return m.make("add", {m[x], m[y]}); }},
      // x + (-y) -> x - y
      {"x+(-y) -> x-y", op("add", {x, op("neg", {y})}),
       [](const Match& m) { return m.make("sub", {m[x], m[y]}); }},
      // x ** c -> x*x, sqrt(x), 1/x, ...
      {"x**c -> multiplies", op("pow", {x, any_constant(y)}), power},
      // exp(log x) -> x
      {"exp(log x) -> x", op("exp", {op("log", {x})}), same(x)},
      // log(exp x) -> x
      {"log(exp x) -> x", op("log", {op("exp", {x})}), same(x)},
      // cast(x) to x's own dtype -> x
      {"cast to own dtype -> x", op("cast", {x}),
       [](const Match& m) { return m[x].dtype() == m.dtype() ? m[x] : Var(); }},
  };
}

}  // namespace cgvm
