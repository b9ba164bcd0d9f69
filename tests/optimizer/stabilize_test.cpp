// The stabilize pass: each rewrite as printed, its values, and the extreme inputs where the
// form as written (run by the interpreter, which does not optimize) gives inf or NaN while
// the compiled function (optimized) gives the finite, correct value.
#include <cmath>

#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::all_finite;
using cgvm::test::check_same_values;
using cgvm::test::formula;
using cgvm::test::pass;

namespace {

// The output of `outputs[0]` at `value`, interpreted as written and compiled (optimized).
std::pair<Array, Array> both_ways(const Var& in, const Var& out, const Array& value) {
  Function as_written = function({in}, {out}, {.mode = Mode::Interpret});
  Function optimized = function({in}, {out});
  return {as_written(value), optimized(value)};
}

// Two rows of logits, the first with entries of magnitude 1000, with integer labels (row 0's
// label has probability exp(-2000)) and a place for binary targets.
struct ExtremeLogits {
  Var logits = matrix("logits");
  Var labels = vector("labels", DType::Int64);
  Var targets = matrix("targets");
  Array z = Array::from_list<float>({1000, -1000, 0, 0, 1, 2}, {2, 3});
  Array labels_value = Array::from_list<std::int64_t>({1, 2});
};

}  // namespace

TEST_CASE("stabilize: each rule, printed, with values kept at ordinary inputs") {
  Var a = vector("a");
  Var m = matrix("m");
  Bindings binds{{a, Array::from_list<float>({0.25f, -0.5f, 2})},
                 {m, Array::from_list<float>({0.5f, -1, 2, 3, 0, -4}, {2, 3})}};
  test::check_cases({
        {"log(1+x)", log(1 + a), "log1p(a)"},
        {"log(x+1)", log(a + 1), "log1p(a)"},
        {"exp(x)-1", exp(a) - 1, "expm1(a)"},
        {"log(sigmoid x)", log(sigmoid(a)), "neg(softplus(neg(a)))"},
        {"log(1-sigmoid x)", log(1 - sigmoid(a)), "neg(softplus(a))"},
        {"log1p(-sigmoid x)", log1p(-sigmoid(a)), "neg(softplus(a))"},
        {"log(exp(a)/b)", log(exp(a) / (a * a + 1)), "sub(a, log1p(mul(a, a)))"},
        {"unshifted softmax", exp(m) / sum(exp(m), {1}, true),
         "true_div(exp(sub(m, max{axes=[1], keepdims=true}(m))), "
         "sum{axes=[1], keepdims=true}(exp(sub(m, max{axes=[1], keepdims=true}(m)))))"},
        {"unshifted logsumexp", log(sum(exp(m), {1})),
         "add(max{axes=[1], keepdims=false}(m), log(sum{axes=[1], keepdims=false}"
         "(exp(sub(m, max{axes=[1], keepdims=true}(m))))))"},
      },
      binds, "stabilize");
}

TEST_CASE("stabilize: forms it must leave alone") {
  Var a = vector("a"), m = matrix("m");
  CHECK(formula(pass("stabilize", log(2 + a))) == "log(add(2, a))");
  CHECK(formula(pass("stabilize", exp(a) - 2)) == "sub(exp(a), 2)");
  CHECK(formula(pass("stabilize", log(sigmoid(a) + 1))) == "log1p(sigmoid(a))");
  // the library's softmax is already shifted: no second shift
  Var s = softmax(m);
  CHECK(pass("stabilize", s).same(s));
  Var lse = logsumexp(m, {1});
  CHECK(pass("stabilize", lse).same(lse));
}

TEST_CASE("stabilize: logits of magnitude 1000 give inf/NaN as written and finite values optimized") {
  Var z = vector("z");
  const Array big = Array::from_list<float>({1000, -1000, 0});

  auto [raw, opt] = both_ways(z, log(sigmoid(z)), big);  // log(sigmoid(-1000)) = -1000
  CHECK_FALSE(all_finite(raw));
  CHECK(allclose(opt, Array::from_list<float>({0, -1000, -std::log(2.0f)}), 1e-5, 1e-5));

  std::tie(raw, opt) = both_ways(z, log(1 - sigmoid(z)), big);
  CHECK_FALSE(all_finite(raw));
  CHECK(allclose(opt, Array::from_list<float>({-1000, 0, -std::log(2.0f)}), 1e-5, 1e-5));

  // log_softmax written as log(softmax)
  std::tie(raw, opt) = both_ways(z, log(softmax(z)), big);
  CHECK_FALSE(all_finite(raw));
  CHECK(allclose(opt, Array::from_list<float>({0, -2000, -1000}), 1e-5, 1e-3));

  // softmax and logsumexp written without the max shift
  std::tie(raw, opt) = both_ways(z, exp(z) / sum(exp(z)), big);
  CHECK_FALSE(all_finite(raw));
  CHECK(allclose(opt, Array::from_list<float>({1, 0, 0})));
  std::tie(raw, opt) = both_ways(z, log(sum(exp(z))), big);
  CHECK_FALSE(all_finite(raw));
  CHECK(std::abs(Array(opt).item<double>() - 1000) < 1e-3);
}

TEST_CASE("stabilize: cross-entropies on extreme logits") {
  ExtremeLogits e;
  const Var &logits = e.logits, &labels = e.labels, &targets = e.targets;
  const Array& z = e.z;
  const Array& y = e.labels_value;

  // categorical cross-entropy of a softmax with integer labels: row 0 is 2000, row 1 the
  // ordinary log-softmax value
  Var ce = categorical_crossentropy(softmax(logits), labels);
  Function raw = function({logits, labels}, {ce}, {.mode = Mode::Interpret});
  Function opt = function({logits, labels}, {ce});
  CHECK_FALSE(all_finite(raw(z, y)));
  const double row1 = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0)) - 2.0;
  CHECK(allclose(opt(z, y), Array::from_list<float>({2000, float(row1)}), 1e-5, 1e-3));

  // sigmoid (binary) cross-entropy on probabilities from logits
  Var bce = binary_crossentropy(sigmoid(logits), targets);
  const Array t = Array::from_list<float>({0, 1, 1, 0, 1, 0}, {2, 3});
  Function braw = function({logits, targets}, {bce}, {.mode = Mode::Interpret});
  Function bopt = function({logits, targets}, {bce});
  CHECK_FALSE(all_finite(braw(z, t)));
  Array got = bopt(z, t);
  CHECK(all_finite(got));
  // -(t log s + (1-t) log(1-s)) = softplus(z) - t z, in float64
  std::vector<double> zs = z.to_double_vector(), ts = t.to_double_vector(), want;
  for (std::size_t i = 0; i < zs.size(); ++i)
    want.push_back(std::max(zs[i], 0.0) + std::log1p(std::exp(-std::abs(zs[i]))) - ts[i] * zs[i]);
  CHECK(allclose(got.astype(DType::Float64), Array::from_vector(want, {2, 3}), 1e-5, 1e-3));
}

// The gradient graph is built from the form as written; what makes it finite is the
// canonicalizer's cancellation (simplify_products) after stabilize: 0 * inf never appears.
TEST_CASE("stabilize: gradients at logits of magnitude 1000 are finite and exact") {
  Var z = vector("z");
  const Array big = Array::from_list<float>({1000, -1000, 0});
  auto gradient_both_ways = [&](const Var& cost) {
    return both_ways(z, grad(cost, z), big);
  };
  auto check = [](const Array& got, std::vector<double> want) {
    INFO(got);
    CHECK(allclose(got.astype(DType::Float64), Array::from_vector(want, {3}), 1e-6, 1e-6));
  };

  auto [raw, opt] = gradient_both_ways(log(sigmoid(z)).sum());  // d = sigmoid(-z)
  CHECK_FALSE(all_finite(raw));
  check(opt, {0, 1, 0.5});

  std::tie(raw, opt) = gradient_both_ways(log(1 - sigmoid(z)).sum());  // d = -sigmoid(z)
  CHECK_FALSE(all_finite(raw));
  check(opt, {-1, 0, -0.5});

  // sum of log_softmax: d = 1 - 3 softmax(z)
  std::tie(raw, opt) = gradient_both_ways(log(softmax(z)).sum());
  CHECK_FALSE(all_finite(raw));
  check(opt, {-2, 1, 1});

  // logsumexp written without the shift: d = softmax(z)
  std::tie(raw, opt) = gradient_both_ways(log(sum(exp(z))));
  CHECK_FALSE(all_finite(raw));
  check(opt, {1, 0, 0});
}

TEST_CASE("stabilize: cross-entropy gradients on extreme logits are p - t") {
  ExtremeLogits e;
  const Var &logits = e.logits, &labels = e.labels, &targets = e.targets;
  const Array& z = e.z;
  // Row 0's label has probability exp(-2000): the form as written divides by 0 there.
  const Array& y = e.labels_value;
  auto softmax64 = [&](int row) {
    std::vector<double> zs = z.to_double_vector(), p(3);
    double peak = std::max({zs[row * 3], zs[row * 3 + 1], zs[row * 3 + 2]}), total = 0;
    for (int j = 0; j < 3; ++j) total += p[j] = std::exp(zs[row * 3 + j] - peak);
    for (double& e : p) e /= total;
    return p;
  };

  Var ce = categorical_crossentropy(softmax(logits), labels).sum();
  Var dce = grad(ce, logits);
  Function raw = function({logits, labels}, {dce}, {.mode = Mode::Interpret});
  Function opt = function({logits, labels}, {dce});
  CHECK_FALSE(all_finite(raw(z, y)));
  std::vector<double> want;
  for (int row = 0; row < 2; ++row) {
    std::vector<double> p = softmax64(row);
    p[y.to_double_vector()[row]] -= 1;
    want.insert(want.end(), p.begin(), p.end());
  }
  Array got = opt(z, y);
  INFO(got);
  CHECK(allclose(got.astype(DType::Float64), Array::from_vector(want, {2, 3}), 1e-6, 1e-6));

  // binary cross-entropy of sigmoid: d = sigmoid(z) - t
  Var bce = binary_crossentropy(sigmoid(logits), targets).sum();
  Var dbce = grad(bce, logits);
  const Array t = Array::from_list<float>({0, 1, 1, 0, 1, 0}, {2, 3});
  Function braw = function({logits, targets}, {dbce}, {.mode = Mode::Interpret});
  Function bopt = function({logits, targets}, {dbce});
  CHECK_FALSE(all_finite(braw(z, t)));
  std::vector<double> zs = z.to_double_vector(), ts = t.to_double_vector(), bwant;
  for (std::size_t i = 0; i < zs.size(); ++i) bwant.push_back(1 / (1 + std::exp(-zs[i])) - ts[i]);
  Array bgot = bopt(z, t);
  INFO(bgot);
  CHECK(allclose(bgot.astype(DType::Float64), Array::from_vector(bwant, {2, 3}), 1e-6, 1e-6));
}
