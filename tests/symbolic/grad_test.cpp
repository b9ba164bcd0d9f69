// grad() itself: options, policies, higher order, Jacobian-vector products, errors. The
// per-op gradients are checked family by family in *_grad_test.cpp.
#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
const std::string here = test::this_file();

Array f64(std::initializer_list<double> v, Shape shape = {}) {
  return Array::from_list<double>(v, std::move(shape));
}
double scalar_of(const Var& v, const Bindings& b) { return evaluate(v, b).item<double>(); }
}  // namespace

TEST_CASE("grad of a polynomial, and grad of grad") {
  Var x = scalar("x", float64);
  Var y = x * x * x + 2 * x;  // y' = 3x^2 + 2, y'' = 6x
  Var dy = grad(y, x);
  Var d2y = grad(dy, x);
  CHECK(scalar_of(dy, {{x, Array::scalar(2.0)}}) == doctest::Approx(14));
  CHECK(scalar_of(d2y, {{x, Array::scalar(2.0)}}) == doctest::Approx(12));
  CHECK(scalar_of(grad(d2y, x), {{x, Array::scalar(5.0)}}) == doctest::Approx(6));
}

TEST_CASE("gradients keep the forward line and the wrt dtype") {
  Var x = vector("x");
  int line = __LINE__ + 1;
  Var cost = sum(exp(x));
  Var g = grad(cost, x);
  CHECK(g.dtype() == float32);
  bool found = false;
  for (const Node* n : topo_sort(std::vector<Var>{g}))
    found |= n->location().line() == static_cast<unsigned>(line);
  CHECK(found);
}

TEST_CASE("several wrt, shared subexpressions, and intermediate wrt") {
  Var a = scalar("a", float64), b = scalar("b", float64);
  Var h = a * b;
  Var cost = h * h + a;  // d/da = 2ab^2 + 1, d/db = 2a^2 b, d/dh = 2h
  auto g = grad(cost, {a, b, h});
  Bindings at{{a, Array::scalar(3.0)}, {b, Array::scalar(2.0)}};
  CHECK(scalar_of(g[0], at) == doctest::Approx(25));
  CHECK(scalar_of(g[1], at) == doctest::Approx(36));
  CHECK(scalar_of(g[2], at) == doctest::Approx(12));
}

TEST_CASE("consider_constant and stop_gradient cut the flow") {
  Var x = scalar("x", float64);
  Var y = x * x;
  Var cost = y * x;  // with y constant: d/dx = y = x^2
  Bindings at{{x, Array::scalar(3.0)}};
  CHECK(scalar_of(grad(cost, x, {.consider_constant = {y}}), at) == doctest::Approx(9));
  CHECK(scalar_of(grad(stop_gradient(y) * x, x), at) == doctest::Approx(9));
  CHECK(scalar_of(grad(cost, x), at) == doctest::Approx(27));
}

TEST_CASE("known_grads start the backward pass from given output gradients") {
  Var x = vector("x", float64);
  Var y = x * 3;
  Var gy = vector("gy", float64);
  Var gx = grad(Var(), x, {.known_grads = {{y, gy}}});
  Array out = evaluate(gx, {{x, f64({1, 2})}, {gy, f64({10, 20})}});
  CHECK(allclose(out, f64({30, 60})));
  // Both the cost and a known gradient contribute.
  Var both = grad(sum(y), x, {.known_grads = {{y, gy}}});
  CHECK(allclose(evaluate(both, {{x, f64({1, 2})}, {gy, f64({1, 1})}}), f64({6, 6})));
}

TEST_CASE("disconnected inputs: raise, warn, or zeros") {
  Var x = vector("x"), unused = vector("u");
  Var cost = sum(x);
  CHECK_ERROR(grad(cost, unused), {"grad", "does not depend on 'u'", here});
  std::vector<std::string> warnings;
  auto old = set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  Var g = grad(cost, unused, {.disconnected = Disconnected::Warn});
  set_warning_handler(old);
  CHECK(warnings.size() == 1);
  Var z = grad(cost, unused, {.disconnected = Disconnected::Zero});
  CHECK(array_equal(evaluate(z, {{unused, Array::ones({3})}}), Array::zeros({3})));
  CHECK(array_equal(evaluate(g, {{unused, Array::ones({2})}}), Array::zeros({2})));
}

TEST_CASE("grad errors name the problem and the user's line") {
  Var x = vector("x");
  Var n = scalar("n", int64);
  CHECK_ERROR(grad(x * 2, x), {"grad", "float scalar", "float32[?]", here});
  CHECK_ERROR(grad(sum(x) * cast(n, float32), n),
              {"grad", "'n'", "int64[]", "not differentiable", here});
  // An integer step on the way blocks the gradient: the cost no longer depends on x.
  CHECK_ERROR(grad(cast(sum(x), int64) * 1.0, x), {"grad", "does not depend on 'x'"});
  CHECK_ERROR(grad_clip(x, 1, -1), {"grad_clip", "lo (1) must be <= hi (-1)", here});
}

TEST_CASE("grad_clip clips only the backward pass") {
  Var x = vector("x", float64);
  Var y = grad_clip(x, -1, 1) * 5;
  Array xv = f64({0.5, -2});
  CHECK(allclose(evaluate(y, {{x, xv}}), f64({2.5, -10})));
  CHECK(allclose(evaluate(grad(sum(y), x), {{x, xv}}), f64({1, 1})));
}

TEST_CASE("jacobian of a vector function and hessians of composites") {
  Var x = tensor("x", float64, {2});
  Var y = stack({x(0) * x(1), sin(x(0))});  // J = [[x1, x0], [cos x0, 0]]
  Array xv = f64({0.5, 3});
  Array j = evaluate(jacobian(y, x), {{x, xv}});
  CHECK(j.shape() == Shape{2, 2});
  CHECK(allclose(j, f64({3, 0.5, std::cos(0.5), 0}, {2, 2})));

  // f = x0^2 x1 + exp(x1): H = [[2 x1, 2 x0], [2 x0, exp(x1)]]
  Var f = x(0) * x(0) * x(1) + exp(x(1));
  Array h = evaluate(hessian(f, x), {{x, xv}});
  CHECK(allclose(h, f64({6, 1, 1, std::exp(3.0)}, {2, 2})));
  // f = sum(x^4) / 4 + x0 x1: H = diag(3 x^2) + [[0, 1], [1, 0]]
  Var q = sum(x * x * x * x) / 4 + x(0) * x(1);
  CHECK(allclose(evaluate(hessian(q, x), {{x, xv}}), f64({0.75, 1, 1, 27}, {2, 2})));
  // log-sum-exp: H = diag(p) - p p^T with p = softmax(x)
  Array hl = evaluate(hessian(logsumexp(x), x), {{x, xv}});
  double p0 = std::exp(0.5) / (std::exp(0.5) + std::exp(3.0)), p1 = 1 - p0;
  CHECK(allclose(hl, f64({p0 - p0 * p0, -p0 * p1, -p0 * p1, p1 - p1 * p1}, {2, 2}), 1e-6));
  CHECK_ERROR(hessian(sum(vector("v")), vector("w")), {"hessian", "static size", here});
}

TEST_CASE("Lop and Rop agree with the Jacobian") {
  Var x = tensor("x", float64, {3});
  Var y = x * x * x(0);  // y_i = x_i^2 x_0
  Array xv = f64({1, 2, 3});
  Array j = evaluate(jacobian(y, x), {{x, xv}});
  Var v = vector("v", float64);
  Array vv = f64({0.1, -1, 2});
  Array jv = evaluate(Rop(y, x, v), {{x, xv}, {v, vv}});
  Array vj = evaluate(Lop({y}, {x}, {v})[0], {{x, xv}, {v, vv}});
  auto jd = j.to_double_vector(), vd = vv.to_double_vector();
  for (int i = 0; i < 3; ++i) {
    double row = 0, column = 0;
    for (int k = 0; k < 3; ++k) {
      row += jd[i * 3 + k] * vd[k];
      column += vd[k] * jd[k * 3 + i];
    }
    CHECK(jv.at<double>({i}) == doctest::Approx(row));
    CHECK(vj.at<double>({i}) == doctest::Approx(column));
  }
}

TEST_CASE("verify_grad reports the worst element of a wrong gradient") {
  // A correct gradient passes.
  auto report = verify_grad([](const std::vector<Var>& in) { return tanh(in[0]) * in[1]; },
                            {f64({0.3, -0.2}), f64({1.5, 2})});
  CHECK(report.max_abs_error < 1e-6);
  // stop_gradient makes the symbolic gradient wrong on purpose.
  CHECK_ERROR(verify_grad([](const std::vector<Var>& in) { return stop_gradient(in[0]) * in[0]; },
                          {f64({0.5, 2})}),
              {"verify_grad", "input 0", "symbolic", "numeric", here});
}
