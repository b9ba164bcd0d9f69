// Gradients of the nn compositions (symbolic/nn.hpp): verify_grad for softmax, log_softmax,
// the cross-entropies (integer labels, with a static or unknown class count, and
// distributions), relu and elu away from their kinks; the conventions at the kinks; the
// cross-entropy of logits of magnitude 1000; second derivatives. The reduce compositions
// (mean, var, std, logsumexp) are checked in reduce_grad_test.cpp.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "support.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/nn.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_array;
using test::check_grad;
using test::make;
using test::uniform_point;
using test::Values;

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

// A draw from [-hi, hi] with every |x| >= gap: away from the kink at 0.
Array away_from_zero(std::uint64_t seed, const Shape& shape, double gap, double hi) {
  Values v = uniform_point(seed, shape, -hi + gap, hi - gap).to_double_vector();
  for (double& x : v) x += x < 0 ? -gap : gap;
  return make(float64, v, shape);
}

Var fixed(const Var& x, const Shape& shape) { return reshape(x, Dims(shape.begin(), shape.end())); }

// Integer class labels for 3 rows of 4 classes.
Var labels() { return constant(make(int64, {2, 0, 3}, {3})); }

// -sum(one_hot(t) * log_softmax(z)): the stable cross-entropy of logits.
Var log_softmax_xent(const Var& z, const Var& t) {
  return -sum(one_hot(t, z.shape(-1), z.dtype()) * log_softmax(z), -1);
}

}  // namespace

TEST_CASE("nn grad: the compositions on random points") {
  struct Row {
    const char* label;
    Fn fn;
    std::vector<Array> points;
  };
  const Shape s{3, 4};
  const std::vector<Row> rows = {
      {"softmax, last axis", [](auto& in) { return softmax(in[0]); }, {uniform_point(1, s, -3, 3)}},
      {"softmax, axis 0", [](auto& in) { return softmax(in[0], 0); }, {uniform_point(2, s, -3, 3)}},
      {"softmax, static sizes",
       [&](auto& in) { return softmax(fixed(in[0], s), -1); },
       {uniform_point(3, s, -3, 3)}},
      {"log_softmax, last axis",
       [](auto& in) { return log_softmax(in[0], -1); },
       {uniform_point(4, s, -3, 3)}},
      {"log_softmax, axis 0",
       [](auto& in) { return log_softmax(in[0], 0); },
       {uniform_point(5, s, -3, 3)}},
      {"categorical_crossentropy, labels, unknown class count",
       [](auto& in) { return categorical_crossentropy(softmax(in[0]), labels()); },
       {uniform_point(6, s, -3, 3)}},
      {"categorical_crossentropy, labels, static class count",
       [&](auto& in) { return categorical_crossentropy(softmax(fixed(in[0], s)), labels()); },
       {uniform_point(7, s, -3, 3)}},
      {"categorical_crossentropy, labels, probs given",
       [](auto& in) { return categorical_crossentropy(in[0], labels()); },
       {uniform_point(8, s, 0.1, 1)}},
      {"categorical_crossentropy, distributions",
       [](auto& in) { return categorical_crossentropy(softmax(in[0]), softmax(in[1])); },
       {uniform_point(9, s, -3, 3), uniform_point(10, s, -3, 3)}},
      {"log_softmax cross-entropy",
       [](auto& in) { return log_softmax_xent(in[0], labels()); },
       {uniform_point(11, s, -3, 3)}},
      {"binary_crossentropy of sigmoid",
       [](auto& in) { return binary_crossentropy(sigmoid(in[0]), in[1]); },
       {uniform_point(12, s, -3, 3), uniform_point(13, s, 0, 1)}},
      {"binary_crossentropy, probs given",
       [](auto& in) { return binary_crossentropy(in[0], in[1]); },
       {uniform_point(14, s, 0.05, 0.95), uniform_point(15, s, 0, 1)}},
      {"relu", [](auto& in) { return relu(in[0]); }, {away_from_zero(16, s, 0.1, 2)}},
      {"elu", [](auto& in) { return elu(in[0]); }, {away_from_zero(17, s, 0.1, 2)}},
      {"elu, alpha 0.5", [](auto& in) { return elu(in[0], 0.5); }, {away_from_zero(18, s, 0.1, 2)}},
  };
  for (const Row& row : rows) check_grad(row.label, row.fn, row.points);
}

TEST_CASE("nn grad: relu and elu at 0") {
  Var x = vector("x", float64);
  Array xv = make(float64, {-1, 0, 2}, {3});
  // relu'(0) = 0: relu is maximum(0, x), and maximum gives a tie to its first argument.
  check_array(evaluate(grad(sum(relu(x)), x), {{x, xv}}), float64, {3}, {0, 0, 1});
  // elu'(0) = alpha: x = 0 takes the alpha * expm1(x) branch.
  check_array(evaluate(grad(sum(elu(x, 0.5)), x), {{x, xv}}), float64, {3},
              {0.5 * std::exp(-1.0), 0.5, 1});
}

TEST_CASE("nn grad: softmax and cross-entropy values, float32 stays float32") {
  Var z = matrix("z", float32);
  Var t = vector("t", int64);
  // d/dz of -log softmax(z)[t] = softmax(z) - one_hot(t).
  Var g = grad(sum(categorical_crossentropy(softmax(z), t)), z);
  CHECK(g.dtype() == float32);
  Array zv = make(float32, {0, 0, 0, 1, 2, 3}, {2, 3});
  Array tv = make(int64, {1, 2}, {2});
  double e = std::exp(1.0), e2 = std::exp(2.0), s = e + e2 + 1;
  check_array(evaluate(g, {{z, zv}, {t, tv}}), float32, {2, 3},
              {1.0 / 3, 1.0 / 3 - 1, 1.0 / 3, 1 / s, e / s, e2 / s - 1}, 1e-6);
}

TEST_CASE("nn grad: integer-label cross-entropy at probabilities of exactly 0") {
  // Only the label's probability is read: classes of probability 0 that are not the label
  // get a gradient of 0, not 0 / 0.
  Var p = matrix("p", float64);
  Var t = vector("t", int64);
  Bindings at{{p, make(float64, {0.5, 0.5, 0, 0, 1, 0}, {2, 3})}, {t, make(int64, {0, 1}, {2})}};
  Var cost = sum(categorical_crossentropy(p, t));
  CHECK(evaluate(cost, at).item<double>() == doctest::Approx(std::log(2.0)));
  check_array(evaluate(grad(cost, p), at), float64, {2, 3}, {-2, 0, 0, 0, -1, 0});
}

TEST_CASE("nn grad: cross-entropy of logits of magnitude 1000") {
  Var z = matrix("z", float64);
  Var t = vector("t", int64);
  Array zv = make(float64, {1000, 0, -1000, 0, 1000, 500}, {2, 3});
  Array tv = make(int64, {1, 1}, {2});
  Bindings at{{z, zv}, {t, tv}};
  // Row 1's label has the largest logit: softmax gives it exactly 1, and the gradient
  // softmax(z) - one_hot(t) = (0, -exp(-500), exp(-500)) comes out finite and exact.
  // Row 0's label has softmax probability exp(-1000), which underflows to 0: log(0) = -inf
  // forward, and backward -1/0 meets the softmax's zeros as inf * 0 = NaN. So the graph as
  // written (and as the interpreter runs it) is not finite there; the optimizer's stabilize
  // pass (a later issue) rewrites log(softmax(z)) into log_softmax(z).
  double tiny = std::exp(-500.0);
  Array naive = evaluate(grad(sum(categorical_crossentropy(softmax(z), t)), z), at);
  Values n = naive.to_double_vector();
  CHECK_FALSE((std::isfinite(n[0]) && std::isfinite(n[1]) && std::isfinite(n[2])));
  check_array(naive.index(0, 1), float64, {3}, {0, -tiny, tiny}, 1e-12);
  // The log_softmax form stays finite and exact in both rows.
  Var cost = sum(log_softmax_xent(z, t));
  CHECK(evaluate(cost, at).item<double>() == doctest::Approx(1000));
  Array g = evaluate(grad(cost, z), at);
  check_array(g, float64, {2, 3}, {1, -1, 0, 0, -tiny, tiny}, 1e-12);
}

TEST_CASE("nn grad: second derivatives") {
  // The cross-entropy of logits is logsumexp(z) - z[t]: its Hessian is diag(p) - p p^T.
  Var z = tensor("z", float64, {3});
  Array zv = make(float64, {0.5, -1, 2}, {3});
  Var t = constant(Array::scalar<std::int64_t>(1));
  Var cost = -sum(one_hot(t, 3, float64) * log_softmax(z));
  Values p = evaluate(softmax(z), {{z, zv}}).to_double_vector();
  Values h;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) h.push_back((i == j ? p[i] : 0) - p[i] * p[j]);
  check_array(evaluate(hessian(cost, z), {{z, zv}}), float64, {3, 3}, h, 1e-12);
  // logsumexp over the rows of a matrix: one such block per row.
  Var m = tensor("m", float64, {2, 2});
  Array mv = make(float64, {0, 1, 3, -1}, {2, 2});
  double a = std::exp(1.0) / (1 + std::exp(1.0)), b = std::exp(-4.0) / (1 + std::exp(-4.0));
  double va = a * (1 - a), vb = b * (1 - b);
  check_array(evaluate(hessian(sum(logsumexp(m, 1)), m), {{m, mv}}), float64, {2, 2, 2, 2},
              {va, -va, 0, 0, -va, va, 0, 0, 0, 0, vb, -vb, 0, 0, -vb, vb}, 1e-12);
  // And the softmax's own Jacobian, differentiated once more by verify_grad.
  check_grad("grad of softmax cross-entropy",
             [](const std::vector<Var>& in) {
               return grad(sum(categorical_crossentropy(softmax(in[0]), softmax(in[1]))), in[0]);
             },
             {uniform_point(20, {2, 3}, -2, 2), uniform_point(21, {2, 3}, -2, 2)});
}
