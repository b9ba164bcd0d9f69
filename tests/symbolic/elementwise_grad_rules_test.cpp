// Gradients of the elementwise family at the points the table of elementwise_grad_test.cpp
// stays away from, with exact values: ties of minimum/maximum, abs at 0, piecewise-constant
// ops at their jumps, where's condition, mod's divisor, pow at base <= 0 and exponent 0, casts
// from integers, sigmoid far in its tails; and second derivatives against analytic values.
#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "cgvm.hpp"
#include "support.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_array;
using test::make;

namespace {

const std::string here = test::this_file();

Array vec(const test::Values& values) {
  return make(float64, values, {static_cast<std::int64_t>(values.size())});
}

}  // namespace

TEST_CASE("elementwise grad rules: a tie of maximum or minimum goes to the first argument") {
  Var a = vector("a", float64), b = vector("b", float64);
  // A tie, then b larger, then a larger.
  Bindings at{{a, vec({1, 2, 3})}, {b, vec({1, 5, 0})}};
  std::vector<Var> g = grad(sum(maximum(a, b)), {a, b});
  check_array(evaluate(g[0], at), float64, {3}, {1, 0, 1});
  check_array(evaluate(g[1], at), float64, {3}, {0, 1, 0});
  g = grad(sum(minimum(a, b)), {a, b});
  check_array(evaluate(g[0], at), float64, {3}, {1, 1, 0});
  check_array(evaluate(g[1], at), float64, {3}, {0, 0, 1});

  // Against a literal: maximum(x, 0) has slope 1 at 0, maximum(0, x) (relu) slope 0; clip
  // passes the gradient at both of its bounds.
  Var x = vector("x", float64);
  Bindings xs{{x, vec({-1, 0, 0.5, 1, 2})}};
  check_array(evaluate(grad(sum(maximum(x, 0)), x), xs), float64, {5}, {0, 1, 1, 1, 1});
  check_array(evaluate(grad(sum(maximum(0, x)), x), xs), float64, {5}, {0, 0, 1, 1, 1});
  check_array(evaluate(grad(sum(clip(x, 0, 1) * 3), x), xs), float64, {5}, {0, 3, 3, 3, 0});
}

TEST_CASE("elementwise grad rules: abs at 0 and piecewise-constant ops at their jumps") {
  Var x = vector("x", float64), y = vector("y", float64);
  Bindings at{{x, vec({-2, 0, 0.5, 1, 2.5})}, {y, vec({1, 1, 0.5, -1, 0.5})}};
  check_array(evaluate(grad(sum(abs(x) * 2), x), at), float64, {5}, {-2, 0, 2, 2, 2});
  // Zeros, not disconnected: grad() raises for a cost that does not depend on x.
  using UnaryFn = Var (*)(const Var&, std::source_location);
  for (UnaryFn op : std::initializer_list<UnaryFn>{sign, floor, ceil, round, trunc}) {
    Var g = grad(sum(op(x, std::source_location::current())), x);
    CHECK(g.type() == x.type());
    check_array(evaluate(g, at), float64, {5}, {0, 0, 0, 0, 0});
  }
  std::vector<Var> g = grad(sum(floor_div(x, y)), {x, y});
  check_array(evaluate(g[0], at), float64, {5}, {0, 0, 0, 0, 0});
  check_array(evaluate(g[1], at), float64, {5}, {0, 0, 0, 0, 0});
}

TEST_CASE("elementwise grad rules: where routes the gradient, its condition gets none") {
  Var c = vector("c", float64), a = vector("a", float64), b = scalar("b", float64);
  Bindings at{{c, vec({1, -1, 2})}, {a, vec({1, 2, 3})}, {b, Array::scalar(0.5)}};
  Var w = constant(vec({1, 10, 100}));
  std::vector<Var> g = grad(sum(where(c > 0, a, b) * w), {a, b});
  check_array(evaluate(g[0], at), float64, {3}, {1, 0, 100});
  check_array(evaluate(g[1], at), float64, {}, {10});
  CHECK_ERROR(grad(sum(where(c > 0, a, b)), c), {"grad", "does not depend on 'c'", here});
  // A branch may also be the condition's source: only the branch path counts.
  check_array(evaluate(grad(sum(where(c > 0, c, -c)), c), at), float64, {3}, {1, -1, 1});
}

TEST_CASE("elementwise grad rules: mod's divisor gets -floor(a / b)") {
  Var a = vector("a", float64), b = vector("b", float64);
  Bindings at{{a, vec({7.5, -7.5, 7.5, 1})}, {b, vec({2, 2, -2, 3})}};
  std::vector<Var> g = grad(sum(a % b), {a, b});
  check_array(evaluate(g[0], at), float64, {4}, {1, 1, 1, 1});
  check_array(evaluate(g[1], at), float64, {4}, {-3, 4, 4, 0});
}

TEST_CASE("elementwise grad rules: pow at exponent 0 and at base <= 0") {
  Var a = vector("a", float64), b = vector("b", float64);
  // d/da a^0 = 0 everywhere, also at a = 0 where b a^(b-1) would be 0 * inf.
  Bindings zero_exponent{{a, vec({0, 2, -3})}, {b, vec({0, 0, 0})}};
  check_array(evaluate(grad(sum(pow(a, b)), a), zero_exponent), float64, {3}, {0, 0, 0});
  check_array(evaluate(grad(sum(pow(a, 2)), a), zero_exponent), float64, {3}, {0, 4, -6});
  // A true infinite slope stays infinite.
  check_array(evaluate(grad(sum(pow(a, 0.5)), a), zero_exponent), float64, {3},
              {INFINITY, 1 / (2 * std::sqrt(2.0)), NAN});
  // d/db a^b = a^b log(a) for a > 0, and 0 at a <= 0 (0^b is constant in b; a negative base
  // has a real power only at integer exponents).
  Bindings bases{{a, vec({2, 0, 0, -2, -2})}, {b, vec({3, 2, -1, 2, 0.5})}};
  check_array(evaluate(grad(sum(pow(a, b)), b), bases), float64, {5},
              {8 * std::numbers::ln2, 0, 0, 0, 0});
  // Nor does a NaN come back from the masked points one order up.
  Var d2b = grad(sum(grad(sum(pow(a, b)), b)), b);
  check_array(evaluate(d2b, bases), float64, {5},
              {8 * std::numbers::ln2 * std::numbers::ln2, 0, 0, 0, 0});
  Var d2a = grad(sum(grad(sum(pow(a, b)), a)), a);
  check_array(evaluate(d2a, zero_exponent), float64, {3}, {0, 0, 0});
}

TEST_CASE("elementwise grad rules: casts") {
  Var x = vector("x", float64);
  Var g = grad(sum(cast(x, float32) * 3), x);
  CHECK(g.dtype() == float64);
  check_array(evaluate(g, {{x, vec({0.25, -1})}}), float64, {2}, {3, 3});
  // Through an integer the path carries nothing: d/dx (x * int(x)) = int(x) here.
  Var through_int = grad(sum(x * cast(cast(x, int64), float64)), x);
  check_array(evaluate(through_int, {{x, vec({2.7, -1.5})}}), float64, {2}, {2, -1});
  CHECK(!ops::cast_op().grad(GradArgs{*cast(cast(x, int64), float64).node(),
                                      std::vector<Var>{vector("g", float64)}})[0]);
}

TEST_CASE("elementwise grad rules: sigmoid and softplus keep their tails") {
  Var x = vector("x", float64);
  Bindings at{{x, vec({-40, 40})}};
  const double tail = std::exp(-40.0) / (1 + std::exp(-40.0));
  // 1 - sigmoid(40) rounds to 0; the slope there is e^-40 all the same.
  check_array(evaluate(grad(sum(sigmoid(x)), x), at), float64, {2}, {tail, tail}, 1e-12);
  check_array(evaluate(grad(sum(softplus(x)), x), at), float64, {2}, {tail, 1}, 1e-12);
}

TEST_CASE("elementwise grad rules: second derivatives of unary ops") {
  struct Second {
    const char* op;
    Var (*f)(const Var&, std::source_location);
    double x, want;  // f''(x)
  };
  const double x = 0.7, s = 1 / (1 + std::exp(-x)), t = std::tanh(x), tn = std::tan(x);
  const double ln2 = std::numbers::ln2, ln10 = std::numbers::ln10;
  const Second table[] = {
      {"exp", exp, x, std::exp(x)},
      {"exp2", exp2, x, std::exp2(x) * ln2 * ln2},
      {"expm1", expm1, x, std::exp(x)},
      {"log", log, x, -1 / (x * x)},
      {"log2", log2, x, -1 / (x * x * ln2)},
      {"log10", log10, x, -1 / (x * x * ln10)},
      {"log1p", log1p, x, -1 / ((1 + x) * (1 + x))},
      {"sqrt", sqrt, x, -0.25 * std::pow(x, -1.5)},
      {"rsqrt", rsqrt, x, 0.75 * std::pow(x, -2.5)},
      {"sqr", sqr, x, 2},
      {"abs", abs, -x, 0},
      {"sin", sin, x, -std::sin(x)},
      {"cos", cos, x, -std::cos(x)},
      {"tan", tan, x, 2 * tn * (1 + tn * tn)},
      {"asin", asin, x, x / std::pow(1 - x * x, 1.5)},
      {"acos", acos, x, -x / std::pow(1 - x * x, 1.5)},
      {"atan", atan, x, -2 * x / ((1 + x * x) * (1 + x * x))},
      {"sinh", sinh, x, std::sinh(x)},
      {"cosh", cosh, x, std::cosh(x)},
      {"tanh", tanh, x, -2 * t * (1 - t * t)},
      {"sigmoid", sigmoid, x, s * (1 - s) * (1 - 2 * s)},
      {"softplus", softplus, x, s * (1 - s)},
      {"erf", erf, x, -4 * x * std::numbers::inv_sqrtpi * std::exp(-x * x)},
      {"erfc", erfc, x, 4 * x * std::numbers::inv_sqrtpi * std::exp(-x * x)},
  };
  Var v = scalar("v", float64);
  for (const Second& row : table) {
    INFO(std::string(row.op));
    Var second = grad(grad(row.f(v, std::source_location::current()), v), v);
    check_array(evaluate(second, {{v, Array::scalar(row.x)}}), float64, {}, {row.want}, 1e-12);
  }
}

TEST_CASE("elementwise grad rules: second derivatives of binary ops") {
  Var a = scalar("a", float64), b = scalar("b", float64);
  const double av = 1.3, bv = 2.5, r2 = av * av + bv * bv, la = std::log(av);
  Bindings at{{a, Array::scalar(av)}, {b, Array::scalar(bv)}};
  // {d2/da2, d2/da db, d2/db2}
  auto check_hessian = [&](const char* what, const Var& f, double aa, double ab, double bb) {
    INFO(std::string(what));
    Var fa = grad(f, a), fb = grad(f, b);
    const GradOptions zero{.disconnected = Disconnected::Zero};
    std::vector<Var> h = {grad(fa, a, zero), grad(fa, b, zero), grad(fb, a, zero),
                          grad(fb, b, zero)};
    std::vector<Array> got = evaluate(h, at);
    check_array(got[0], float64, {}, {aa}, 1e-12);
    check_array(got[1], float64, {}, {ab}, 1e-12);
    check_array(got[2], float64, {}, {ab}, 1e-12);
    check_array(got[3], float64, {}, {bb}, 1e-12);
  };
  check_hessian("mul", a * b, 0, 1, 0);
  check_hessian("true_div", a / b, 0, -1 / (bv * bv), 2 * av / (bv * bv * bv));
  check_hessian("pow", pow(a, b), bv * (bv - 1) * std::pow(av, bv - 2),
                std::pow(av, bv - 1) * (1 + bv * la), std::pow(av, bv) * la * la);
  check_hessian("atan2", atan2(a, b), -2 * av * bv / (r2 * r2), (av * av - bv * bv) / (r2 * r2),
                2 * av * bv / (r2 * r2));
  check_hessian("maximum", maximum(a * a, b - 1), 2, 0, 0);
  check_hessian("mod", b % a * b, 0, -std::floor(bv / av), 2);
}
