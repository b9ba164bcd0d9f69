#include "optimizer/simplify_products.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ranges>

#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;

// Every element of the constant satisfies `pred` (small constants only).
template <class Pred>
bool constant_all(const Var& v, Pred pred) {
  const Array* a = constant_value(v);
  if (!a || a->size() > 4096) return false;
  auto values = a->to_double_vector();
  return std::all_of(values.begin(), values.end(), pred);
}

// Mathematically > 0 for every input (depth-limited: graphs can be deep).
bool positive(const Var& v, int depth = 0) {
  if (depth > 16 || v.index() != 0) return false;
  const Node& n = *v.node();
  std::string_view op = n.op().name;
  if (op == "exp" || op == "sigmoid" || op == "softplus" || op == "cosh") return true;
  if (is_constant(v)) return constant_all(v, [](double e) { return e > 0; });
  auto all_inputs = [&] {
    return std::all_of(n.inputs().begin(), n.inputs().end(),
                       [&](const Var& in) { return positive(in, depth + 1); });
  };
  // A sum over an empty axis is 0; a softmax over zero classes has no meaning to keep.
  if (op == "sum" || op == "mean" || op == "max" || op == "min" || op == "sqrt" ||
      op == "broadcast_to" || op == "dimshuffle" || op == "reshape")
    return positive(n.input(0), depth + 1);
  if (op == "mul" || op == "true_div" || op == "add") return all_inputs();
  return false;
}

// A dimshuffle that only puts broadcast axes in front: elementwise ops align ranks to the
// right, so it changes nothing a product sees.
bool leading_axes_only(const Var& v) {
  if (!is_op(v, "dimshuffle")) return false;
  const Ints& pattern = v.node()->attrs().get_ints("pattern");
  const std::int64_t rank = v.node()->input(0).rank();
  if (static_cast<std::int64_t>(pattern.size()) < rank) return false;
  const auto kept = pattern.end() - rank;
  return std::all_of(pattern.begin(), kept, [](std::int64_t p) { return p == -1; }) &&
         std::equal(kept, pattern.end(), std::views::iota(std::int64_t{0}, rank).begin());
}

void collect(const Var& v, bool below, Fraction& f) {
  if (is_op(v, "mul")) {
    collect(v.node()->input(0), below, f);
    collect(v.node()->input(1), below, f);
  } else if (is_op(v, "true_div")) {
    collect(v.node()->input(0), below, f);
    collect(v.node()->input(1), !below, f);
  } else if (is_op(v, "neg")) {
    f.negative = !f.negative;
    collect(v.node()->input(0), below, f);
  } else if (is_op(v, "broadcast_to")) {  // stretched again when the fraction is rebuilt
    f.broadcasts.push_back(v);
    collect(v.node()->input(0), below, f);
  } else if (leading_axes_only(v)) {
    collect(v.node()->input(0), below, f);
  } else {
    (below ? f.den : f.num).push_back(v);
  }
}

// Removes the factors found both above and below that can never be 0; whether any did.
bool cancel(Fraction& f) {
  bool any = false;
  for (auto d = f.den.begin(); d != f.den.end();) {
    auto n = std::find_if(f.num.begin(), f.num.end(), [&](const Var& v) { return v.same(*d); });
    if (n != f.num.end() && never_zero(*d)) {
      f.cancelled.push_back(*d);
      f.num.erase(n);
      d = f.den.erase(d);
      any = true;
    } else {
      ++d;
    }
  }
  return any;
}

Var product(const Match& m, const std::vector<Var>& factors) {
  Var p = factors[0];
  for (std::size_t i = 1; i < factors.size(); ++i) p = m.make("mul", {p, factors[i]});
  return p;
}

// a*b/(b*c) -> a/c where b is never 0.
Var cancel_factors(const Match& m) {
  if (!fraction_root(m)) return {};
  Fraction f = fraction_of(m.node().output(0));
  if (!cancel(f)) return {};
  return build_fraction(m, f);
}

// where(m, a, 0) op k -> where(m, a op k, 0) (op: * or /; * commutes, so k * where too).
Rule mask_outward(std::string_view op, std::string_view symbol) {
  return {fmt::format("where(m, a, 0) {0} k -> where(m, a {0} k, 0)", symbol),
          rules::op(op, {rules::op("where", {x, y, c(0)}), z}),
          [op = std::string(op)](const Match& m) {
            return m.make("where", {m[x], m.make(op, {m[y], m[z]}), m.constant(0, m.dtype())});
          }};
}

// Inside where(m, t, f), a where(m, a, b) read by the elementwise t is a, read by f is b.
Var known_mask(const Match& m) {
  auto settle = [&](const Var& branch, int keep) -> Var {
    const Node& n = *branch.node();
    if (n.op().family != OpFamily::Elementwise || n.num_outputs() != 1 || is_op(branch, "where"))
      return branch;
    std::vector<Var> inputs = n.inputs();
    bool changed = false;
    for (Var& in : inputs)
      if (is_op(in, "where") && in.node()->input(0).same(m[x])) {
        in = in.node()->input(keep);
        changed = true;
      }
    return changed ? m.make(n.op(), std::move(inputs), n.attrs()) : branch;
  };
  Var t = settle(m[y], 1), f = settle(m[z], 2);
  if (t.same(m[y]) && f.same(m[z])) return {};
  return m.make("where", {m[x], t, f});
}

// Whether `k`'s factors cancel against the denominator of `term` (or of its unmasked side).
bool cancels_in(const Var& k, const Var& term) {
  Var inside = is_op(term, "where") && uniform_value(term.node()->input(2)) == 0.0
                   ? term.node()->input(1)
                   : term;
  Fraction f = fraction_of(inside);
  Fraction kf = fraction_of(k);
  return std::any_of(kf.num.begin(), kf.num.end(), [&](const Var& factor) {
    return never_zero(factor) && std::any_of(f.den.begin(), f.den.end(),
                                             [&](const Var& d) { return d.same(factor); });
  });
}

// k * (a ± b) -> k*a ± k*b where k cancels in a or b.
Var distribute(const Match& m) {
  const Var& sum = m[y];
  const Var &a = sum.node()->input(0), &b = sum.node()->input(1);
  if (!is_float(m.dtype()) || (!cancels_in(m[x], a) && !cancels_in(m[x], b))) return {};
  return m.make(sum.node()->op(), {m.make("mul", {m[x], a}), m.make("mul", {m[x], b})});
}

}  // namespace

Fraction fraction_of(const Var& v) {
  Fraction f;
  collect(v, false, f);
  return f;
}

bool fraction_root(const Match& m) {
  static const std::initializer_list<const OpDef*> tree = {
      &op_named("mul"), &op_named("true_div"), &op_named("neg")};
  const Var self = m.node().output(0);
  return is_float(self.dtype()) && !m.only_feeds(self, tree);
}

// Whether a value of type `from` stretches to `to` by broadcast_to (dims aligned right; only
// static 1s stretch, unknown sizes are checked when it runs).
bool stretches_to(const TensorType& from, const TensorType& to) {
  if (from.rank() > to.rank()) return false;
  for (int i = 1; i <= from.rank(); ++i) {
    const std::int64_t a = from.shape[from.rank() - i], b = to.shape[to.rank() - i];
    if (a != 1 && a != b && a != unknown_dim && b != unknown_dim) return false;
  }
  return true;
}

Var build_fraction(const Match& m, const Fraction& f) {
  Var result = f.num.empty() ? m.constant(1, m.dtype()) : product(m, f.num);
  if (!f.den.empty()) result = m.make("true_div", {result, product(m, f.den)});
  if (f.negative) result = m.make("neg", {result});
  const TensorType& type = m.node().output_types()[0];
  if (fits(result.type(), type)) return result;
  // The factors that gave the node its shape cancelled: stretch the rest as a broadcast_to
  // the fraction went through did, or to the shape of a cancelled factor.
  for (const Var& b : f.broadcasts)
    if (fits(b.type(), type) && stretches_to(result.type(), b.type())) {
      std::vector<Var> inputs = b.node()->inputs();
      inputs[0] = result;
      return m.make(b.node()->op(), std::move(inputs), b.node()->attrs());
    }
  for (const Var& c : f.cancelled)
    if (fits(c.type(), type) && stretches_to(result.type(), c.type())) {
      Dims dims;
      for (int i = 0; i < c.rank(); ++i) dims.push_back(c.shape(i, m.node().location()));
      return broadcast_to(result, dims, m.node().location());
    }
  return {};
}

bool never_zero(const Var& v) {
  if (positive(v)) return true;
  if (is_constant(v)) return constant_all(v, [](double e) { return e != 0; });
  if (is_op(v, "neg") || is_op(v, "sqr")) return never_zero(v.node()->input(0));
  if (is_op(v, "mul") || is_op(v, "true_div"))
    return never_zero(v.node()->input(0)) && never_zero(v.node()->input(1));
  return false;
}

std::vector<Rule> simplify_products_rules() {
  return {
      // a*b/(b*c) -> a/c where b is never 0
      {"a*b/(b*c) -> a/c", op("mul", {x, y}), cancel_factors},
      {"a*b/(b*c) -> a/c", op("true_div", {x, y}), cancel_factors},
      // where(m, a, 0) * k -> where(m, a*k, 0)
      mask_outward("mul", "*"),
      // where(m, a, 0) / k -> where(m, a/k, 0)
      mask_outward("true_div", "/"),
      // -where(m, a, 0) -> where(m, -a, 0)
      {"-where(m, a, 0) -> where(m, -a, 0)", op("neg", {op("where", {x, y, c(0)})}),
       [](const Match& m) {
         return m.make("where", {m[x], m.make("neg", {m[y]}), m.constant(0, m.dtype())});
       }},
      {"a*b/(b*c) -> a/c", op("neg", {x}), cancel_factors},
      // where(m, t(where(m, a, b)), f(where(m, a, b))) -> where(m, t(a), f(b))
      {"where(m, t(where(m, a, b)), f) -> where(m, t(a), f)", op("where", {x, y, z}),
       known_mask},
      // k * (a + b) -> k*a + k*b where k cancels in a or b
      {"k*(a+b) -> k*a + k*b where k cancels", op("mul", {x, op("add", {w, u}, y)}), distribute},
      {"k*(a-b) -> k*a - k*b where k cancels", op("mul", {x, op("sub", {w, u}, y)}), distribute},
  };
}

}  // namespace cgvm
