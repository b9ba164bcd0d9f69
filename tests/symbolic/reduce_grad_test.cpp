// Gradients of the reduce family and of its compositions (mean, var, std, logsumexp):
// verify_grad for every reduction over every kind of axis list, with unknown and static input
// sizes; prod at zeros; max/min ties split exactly; second derivatives against analytic
// values; the forward line and dtype on gradient nodes. The last test fails when a reduce op
// of ops::all_ops() has neither a row in the table nor a place on the list of ops without a
// gradient.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_array;
using test::check_grad;
using test::make;
using test::uniform_point;

namespace {

using ReduceFn = std::function<Var(const Var&, const Axes&, bool)>;

struct Row {
  const char* name;  // the primitive op or the composition
  ReduceFn fn;
  double lo, hi;  // where points are drawn
};

// Every differentiable reduction, and the compositions built on them. Points of max/min are
// continuous draws, so ties (the kinks) have probability 0; std stays away from var = 0.
const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      {"sum", [](const Var& x, const Axes& a, bool k) { return sum(x, a, k); }, -2, 2},
      {"prod", [](const Var& x, const Axes& a, bool k) { return prod(x, a, k); }, -1.5, 1.5},
      {"max", [](const Var& x, const Axes& a, bool k) { return max(x, a, k); }, -2, 2},
      {"min", [](const Var& x, const Axes& a, bool k) { return min(x, a, k); }, -2, 2},
      {"mean", [](const Var& x, const Axes& a, bool k) { return mean(x, a, k); }, -2, 2},
      {"var", [](const Var& x, const Axes& a, bool k) { return var(x, a, k); }, -2, 2},
      {"var ddof=1", [](const Var& x, const Axes& a, bool k) { return var(x, a, k, 1); }, -2, 2},
      {"std", [](const Var& x, const Axes& a, bool k) { return cgvm::std(x, a, k); }, -2, 2},
      {"logsumexp", [](const Var& x, const Axes& a, bool k) { return logsumexp(x, a, k); }, -3, 3},
  };
  return table;
}

struct AxisCase {
  const char* label;
  Axes axes;
  bool keepdims;
};

const std::vector<AxisCase> axis_cases = {
    {"all axes", Axes{}, false},
    {"all axes, keepdims", Axes{}, true},
    {"one axis", Axes(1), false},
    {"one axis, keepdims", Axes(1), true},
    {"negative axis", Axes(-1), false},
    {"several axes", Axes{0, 2}, false},
    {"several negative axes, keepdims", Axes{-3, -1}, true},
};

// Brings verify_grad's input (unknown sizes) to static sizes, to check the static path too.
Var with_static_shape(const Var& x, const Shape& shape) {
  Dims dims(shape.begin(), shape.end());
  return reshape(x, dims);
}

}  // namespace

TEST_CASE("reduce grad: every reduction over every kind of axis list") {
  const Shape shape{2, 3, 4};
  std::uint64_t seed = 0;
  for (const Row& row : rows())
    for (const AxisCase& c : axis_cases)
      for (bool static_sizes : {false, true}) {
        std::string what = std::string(row.name) + " over " + c.label +
                           (static_sizes ? ", static sizes" : ", unknown sizes");
        auto fn = [&](const std::vector<Var>& in) {
          Var x = static_sizes ? with_static_shape(in[0], shape) : in[0];
          return row.fn(x, c.axes, c.keepdims);
        };
        check_grad(what, fn, {uniform_point(++seed, shape, row.lo, row.hi)});
      }
}

TEST_CASE("reduce grad: a reduction broadcast back against its input") {
  // x / sum(x) along an axis: the keepdims result is stretched again by the division.
  check_grad("normalize rows",
             [](const std::vector<Var>& in) { return in[0] / sum(in[0], 1, true); },
             {uniform_point(1, {3, 4}, 0.5, 2)});
  check_grad("shift by the max",
             [](const std::vector<Var>& in) { return exp(in[0] - max(in[0], 0, true)) * in[1]; },
             {uniform_point(2, {3, 4}, -2, 2), uniform_point(3, {4}, -1, 1)});
  // A size-1 axis reduced: nothing to spread.
  check_grad("size-1 axis",
             [](const std::vector<Var>& in) {
               return prod(with_static_shape(in[0], {3, 1}), 1) * sum(in[0]);
             },
             {uniform_point(4, {3, 1}, -2, 2)});
}

TEST_CASE("reduce grad: prod at zeros gives the product of the other elements") {
  // Rows: one zero, two zeros, no zero. The weights make each row's incoming gradient differ.
  Var x = matrix("x", float64);
  Array xv = make(float64, {2, 0, 3, 0, 0, 5, 1, 2, 4}, {3, 3});
  Array w = make(float64, {1, 2, 3}, {3});
  Var g = grad(sum(prod(x, 1) * w), x);
  check_array(evaluate(g, {{x, xv}}), float64, {3, 3}, {0, 6, 0, 0, 0, 0, 24, 12, 6});
  // Over axis 0 with keepdims: columns (2, 0, 1), (0, 0, 2), (3, 5, 4).
  Var gk = grad(sum(prod(x, 0, true)), x);
  check_array(evaluate(gk, {{x, xv}}), float64, {3, 3}, {0, 0, 20, 2, 0, 12, 0, 0, 15});
  // The whole tensor: two zeros, so every partial derivative is 0; one zero: only it moves.
  check_array(evaluate(grad(prod(x), x), {{x, xv}}), float64, {3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0});
  Array one_zero = make(float64, {2, 1, 3, 1, 0, 5, 1, 2, 4}, {3, 3});
  check_array(evaluate(grad(prod(x), x), {{x, one_zero}}), float64, {3, 3},
              {0, 0, 0, 0, 240, 0, 0, 0, 0});
  // prod is affine in each element, so central differences are exact at zeros too.
  auto row_prod = [](const std::vector<Var>& in) { return prod(in[0], -1); };
  check_grad("one, two and three zeros", row_prod,
             {make(float64, {0, 2, -3, 0, 0, 1.5, 0, 0, 0, 1, 2, 3}, {4, 3})});
  check_grad("zeros, full product", [](const std::vector<Var>& in) { return prod(in[0]); },
             {make(float64, {0.5, 2, -3, 0, 1.5, 2}, {2, 3})});
}

TEST_CASE("reduce grad: max and min split ties equally") {
  Var x = matrix("x", float64);
  Array xv = make(float64, {1, 3, 3, 2, 2, 2, 5, 1, 0}, {3, 3});
  Array w = make(float64, {1, 3, 6}, {3});
  check_array(evaluate(grad(sum(max(x, 1) * w), x), {{x, xv}}), float64, {3, 3},
              {0, 0.5, 0.5, 1, 1, 1, 6, 0, 0});
  check_array(evaluate(grad(sum(min(x, -1) * w), x), {{x, xv}}), float64, {3, 3},
              {1, 0, 0, 1, 1, 1, 0, 0, 6});
  // Full reductions: one maximum, one minimum, then three maxima of four.
  check_array(evaluate(grad(max(x), x), {{x, xv}}), float64, {3, 3}, {0, 0, 0, 0, 0, 0, 1, 0, 0});
  check_array(evaluate(grad(min(x) * 3, x), {{x, xv}}), float64, {3, 3},
              {0, 0, 0, 0, 0, 0, 0, 0, 3});
  Array ties = make(float64, {3, 1, 3, 3}, {2, 2});
  check_array(evaluate(grad(max(x), x), {{x, ties}}), float64, {2, 2},
              {1.0 / 3, 0, 1.0 / 3, 1.0 / 3});
  // keepdims, over axis 0: column 0 ties, column 1 has one maximum.
  Array cols = make(float64, {4, 4, 4, 1}, {2, 2});
  Array wk = make(float64, {2, 5}, {1, 2});
  check_array(evaluate(grad(sum(max(x, 0, true) * wk), x), {{x, cols}}), float64, {2, 2},
              {1, 5, 1, 0});
  // The same split in float32, which stays float32.
  Var x32 = matrix("x32", float32);
  Var g32 = grad(sum(min(x32, 0)), x32);
  CHECK(g32.dtype() == float32);
  check_array(evaluate(g32, {{x32, cols.astype(float32)}}), float32, {2, 2}, {0.5, 0, 0.5, 1});
}

TEST_CASE("reduce grad: second derivatives") {
  Var x = tensor("x", float64, {3});
  Array xv = make(float64, {2, 3, 5}, {3});
  // sum(x)^2: every entry of the Hessian is 2.
  Var s = sum(x);
  check_array(evaluate(hessian(s * s, x), {{x, xv}}), float64, {3, 3}, {2, 2, 2, 2, 2, 2, 2, 2, 2});
  // prod(x): d2/dxi dxj = the third element, 0 on the diagonal (there up to rounding: it is
  // the derivative of p / x_i, which cancels).
  check_array(evaluate(hessian(prod(x), x), {{x, xv}}), float64, {3, 3},
              {0, 5, 3, 5, 0, 2, 3, 2, 0}, 1e-14, 1e-14);
  // grad(grad(.)) directly, through a reduction over one axis of a matrix.
  Var m = matrix("m", float64);
  Var gm = grad(sum(prod(m, 1)), m);  // each row: (x1 x2, x0 x2, x0 x1)
  Var second = grad(sum(gm * gm), m);
  // sum g^2 = (x1 x2)^2 + (x0 x2)^2 + (x0 x1)^2, so d/dx0 = 2 x0 (x2^2 + x1^2): at (1, 2, 3)
  // that is 26, and d/dx1 = 2 x1 (x2^2 + x0^2) = 40, d/dx2 = 2 x2 (x1^2 + x0^2) = 30.
  check_array(evaluate(second, {{m, make(float64, {1, 2, 3}, {1, 3})}}), float64, {1, 3},
              {26, 40, 30});
  // max(x)^2 with a tie between x0 and x1: the gradient 2 m / 2 on each, and the Hessian
  // 2 (1/2)(1/2) on the tied block.
  Var mx = max(x);
  check_array(evaluate(hessian(mx * mx, x), {{x, make(float64, {4, 4, 1}, {3})}}), float64, {3, 3},
              {0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0, 0});
  // var over 3 elements: H = (2/3)(I - 1/3).
  double d = 2.0 / 3 * (1 - 1.0 / 3), o = -2.0 / 9;
  check_array(evaluate(hessian(var(x), x), {{x, xv}}), float64, {3, 3}, {d, o, o, o, d, o, o, o, d},
              1e-12);
}

TEST_CASE("reduce grad: gradient nodes keep the forward line and the dtype") {
  Var x = tensor("x", float32, {unknown_dim, 3});
  unsigned forward = __LINE__ + 1;
  Var costs[] = {sum(sum(x, -1)), sum(prod(x, -1)), sum(max(x, -1)), sum(min(x, 0, true))};
  for (const Var& cost : costs) {
    INFO(cost.node()->input(0).node()->op().name);
    unsigned backward = __LINE__ + 1;
    Var g = grad(cost, x);
    CHECK(g.dtype() == float32);
    CHECK(g.static_shape() == Shape{unknown_dim, 3});
    for (const Node* n : topo_sort(std::vector<Var>{g})) {
      if (n->op().name == "input") continue;
      unsigned line = n->location().line();
      INFO("node " << n->op().name << " at line " << line);
      CHECK((line == forward || line == backward));
    }
    Array xv = Array::uniform(7, {2, 3}, 0.5, 2, float32);
    CHECK(evaluate(g, {{x, xv}}).shape() == Shape{2, 3});
  }
}

TEST_CASE("reduce grad: every reduce op has a gradient row or is not differentiable") {
  // Integer and bool results carry no gradient (their .grad stays empty).
  const std::set<std::string> no_gradient = {"argmax", "argmin", "all", "any"};
  std::set<std::string> covered;
  for (const Row& row : rows()) covered.insert(row.name);
  test::check_op_coverage(OpFamily::Reduce, covered, no_gradient, /*require_grad=*/true);
}
