#include "optimizer/stabilize.hpp"

#include <algorithm>

#include "optimizer/simplify_products.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;

// Whether `v` is already shifted: x - max(x, ...), or x - where(isinf(m), 0, m) with
// m = max(x, ...) (logsumexp's guard against an infinite max).
bool is_shifted(const Var& v) {
  const Node& n = *v.node();
  if (n.op().name != "sub") return false;
  auto is_max_of_x = [&](const Var& s) {
    return s.node()->op().name == "max" && s.node()->input(0).same(n.input(0));
  };
  const Var& s = n.input(1);
  return is_max_of_x(s) || (s.node()->op().name == "where" && is_max_of_x(s.node()->input(2)));
}

// x - max(x, axes of `reduction`, keepdims): the shift for a sum(exp(x)) over those axes.
Var shift(const Match& m, const Var& v, const Node& reduction) {
  Attrs attrs = reduction.attrs();
  attrs.set("keepdims", true);
  Var peak = m.make("max", {v}, attrs);
  return m.make("sub", {v, peak});
}

Var shifted_logsumexp(const Match& m) {
  if (is_shifted(m[x])) return {};
  const Node& total = *m[z].node();
  Var shifted = shift(m, m[x], total);
  Var peak = shifted.node()->input(1);
  if (!total.attrs().get_bool("keepdims")) peak = m.make("max", {m[x]}, total.attrs());
  Var lse = m.make("log", {m.make("sum", {m.make("exp", {shifted})}, total.attrs())});
  return m.make("add", {peak, lse});
}

// A fraction with exp(x) above and sum(exp(x)) below: softmax written without the shift, or
// however a backward pass spelled it (g / sum(exp x) * exp x for the gradient of
// logsumexp). Both are shifted by max(x) over the sum's axes, which keeps exp from
// overflowing and the quotient as it was: the shifts cancel where the sum keeps its axes (or
// has none left); otherwise they would meet other rows.
Var shifted_exp_ratio(const Match& m) {
  if (!fraction_root(m)) return {};
  Fraction f = fraction_of(m.node().output(0));
  for (Var& total : f.den) {
    if (total.node()->op().name != "sum" ||
        (!total.node()->attrs().get_bool("keepdims") && total.rank() != 0))
      continue;
    const Var& e = total.node()->input(0);
    if (e.node()->op().name != "exp" || is_shifted(e.node()->input(0))) continue;
    auto above = std::find_if(f.num.begin(), f.num.end(), [&](const Var& v) { return v.same(e); });
    if (above == f.num.end()) continue;
    Var shifted = m.make("exp", {shift(m, e.node()->input(0), *total.node())});
    *above = shifted;
    total = m.make("sum", {shifted}, total.node()->attrs());
    return build_fraction(m, f);
  }
  return {};
}

Var neg_softplus(const Match& m, const Var& v) {
  return m.make("neg", {m.make("softplus", {v})});
}

}  // namespace

std::vector<Rule> stabilize_rules() {
  return {
      // log(1+x) -> log1p(x)
      {"log(1+x) -> log1p(x)", op("log", {op("add", {c(1), x})}),
       [](const Match& m) { return m.make("log1p", {m[x]}); }},
      // exp(x)-1 -> expm1(x)
      {"exp(x)-1 -> expm1(x)", op("sub", {op("exp", {x}), c(1)}),
       [](const Match& m) { return m.make("expm1", {m[x]}); }},
      // 1 - sigmoid(x) -> sigmoid(-x)
      {"1-sigmoid x -> sigmoid(-x)", op("sub", {c(1), op("sigmoid", {x})}),
       [](const Match& m) { return m.make("sigmoid", {m.make("neg", {m[x]})}); }},
      // log(sigmoid x) -> -softplus(-x); log(1 - sigmoid x) = log(sigmoid(-x)) -> -softplus(x)
      {"log(sigmoid x) -> -softplus(-x)", op("log", {op("sigmoid", {x})}),
       [](const Match& m) {
         const Var& v = m[x];
         return neg_softplus(m, v.node()->op().name == "neg" ? v.node()->input(0) : m.make("neg", {v}));
       }},
      // log1p(-sigmoid x) -> -softplus(x)
      {"log1p(-sigmoid x) -> -softplus(x)", op("log1p", {op("neg", {op("sigmoid", {x})})}),
       [](const Match& m) { return neg_softplus(m, m[x]); }},
      // log(exp(a)/b) -> a - log(b)
      {"log(exp(a)/b) -> a - log(b)", op("log", {op("true_div", {op("exp", {x}), y})}),
       [](const Match& m) { return m.make("sub", {m[x], m.make("log", {m[y]})}); }},
      // log(where(m, a, k)) -> where(m, log a, log k)
      {"log(where(m, a, k)) -> where(m, log a, log k)",
       op("log", {op("where", {x, y, any_constant(z)})}),
       [](const Match& m) {
         return m.make("where", {m[x], m.make("log", {m[y]}), m.make("log", {m[z]})});
       }},
      // exp(x) * k / sum(exp x) -> exp(x - max x) * k / sum(exp(x - max x)); softmax too
      {"exp(x)/sum(exp x) in a product -> shifted", op("mul", {x, y}), shifted_exp_ratio},
      {"exp(x)/sum(exp x) in a product -> shifted", op("true_div", {x, y}), shifted_exp_ratio},
      // log(sum(exp x)) -> max x + log(sum(exp(x - max x)))
      {"logsumexp without shift -> shifted", op("log", {op("sum", {op("exp", {x})}, z)}),
       shifted_logsumexp},
  };
}

}  // namespace cgvm
