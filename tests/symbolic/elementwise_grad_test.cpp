// Gradients of the elementwise family, table-driven: every differentiable op of
// CGVM_UNARY_OPS and CGVM_BINARY_OPS against central differences at random points inside its
// domain, with each input in turn broadcast (rank extension, static size 1) against the
// others; the type of a broadcast input's gradient; float32 and the forward line on gradient
// nodes. The last test fails when an elementwise op of ops::all_ops() has neither a row in
// the table nor a place on the list of ops without a gradient. Conventions at kinks, edge
// values and second derivatives: elementwise_grad_rules_test.cpp.
#include <fmt/format.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cgvm.hpp"
#include "support.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_grad;
using test::uniform_point;

namespace {

const std::string here = test::this_file();

using Vars = std::vector<Var>;

struct Interval {
  double lo, hi;
};

struct Row {
  const char* op;  // the primitive op whose gradient the row checks
  std::function<Var(const Vars&)> fn;
  std::vector<Interval> domain;  // where each input's points are drawn
  VerifyGradOptions options = {};
};

const Interval any{-2, 2}, positive{0.1, 3}, negative{-3, -0.1}, inside_unit{-0.9, 0.9};
// Away from the jumps of floor, ceil, trunc (integers) and round (half-integers).
const Interval rounding_up{1.1, 1.4}, rounding_down{-1.4, -1.1};
// Dividends and divisors with a / b in (1.05, 1.95) or (-1.95, -1.05): away from the jumps of
// floor_div and mod.
const Interval dividend{2.1, 2.9}, divisor{1.5, 2}, negative_divisor{-2, -1.5};

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      // A linear round trip through float32: wide differences are exact up to its rounding.
      {"cast", [](const Vars& p) { return cast(cast(p[0], float32), float64); }, {any},
       {.eps = 1e-2, .rtol = 1e-4, .atol = 1e-5}},
      {"neg", [](const Vars& p) { return neg(p[0]); }, {any}},
      {"abs", [](const Vars& p) { return abs(p[0]); }, {positive}},
      {"abs", [](const Vars& p) { return abs(p[0]); }, {negative}},
      {"sign", [](const Vars& p) { return sign(p[0]); }, {positive}},
      {"sign", [](const Vars& p) { return sign(p[0]); }, {negative}},
      {"sqr", [](const Vars& p) { return sqr(p[0]); }, {any}},
      {"exp", [](const Vars& p) { return exp(p[0]); }, {any}},
      {"exp2", [](const Vars& p) { return exp2(p[0]); }, {any}},
      {"expm1", [](const Vars& p) { return expm1(p[0]); }, {any}},
      {"log", [](const Vars& p) { return log(p[0]); }, {positive}},
      {"log2", [](const Vars& p) { return log2(p[0]); }, {positive}},
      {"log10", [](const Vars& p) { return log10(p[0]); }, {positive}},
      {"log1p", [](const Vars& p) { return log1p(p[0]); }, {{-0.9, 3}}},
      {"sqrt", [](const Vars& p) { return sqrt(p[0]); }, {positive}},
      {"rsqrt", [](const Vars& p) { return rsqrt(p[0]); }, {positive}},
      {"sin", [](const Vars& p) { return sin(p[0]); }, {{-3, 3}}},
      {"cos", [](const Vars& p) { return cos(p[0]); }, {{-3, 3}}},
      {"tan", [](const Vars& p) { return tan(p[0]); }, {{-1.2, 1.2}}},
      {"asin", [](const Vars& p) { return asin(p[0]); }, {inside_unit}},
      {"acos", [](const Vars& p) { return acos(p[0]); }, {inside_unit}},
      {"atan", [](const Vars& p) { return atan(p[0]); }, {{-3, 3}}},
      {"sinh", [](const Vars& p) { return sinh(p[0]); }, {any}},
      {"cosh", [](const Vars& p) { return cosh(p[0]); }, {any}},
      {"tanh", [](const Vars& p) { return tanh(p[0]); }, {any}},
      {"sigmoid", [](const Vars& p) { return sigmoid(p[0]); }, {{-5, 5}}},
      {"softplus", [](const Vars& p) { return softplus(p[0]); }, {{-5, 5}}},
      {"erf", [](const Vars& p) { return erf(p[0]); }, {any}},
      {"erfc", [](const Vars& p) { return erfc(p[0]); }, {any}},
      {"floor", [](const Vars& p) { return floor(p[0]); }, {rounding_up}},
      {"floor", [](const Vars& p) { return floor(p[0]); }, {rounding_down}},
      {"ceil", [](const Vars& p) { return ceil(p[0]); }, {rounding_up}},
      {"ceil", [](const Vars& p) { return ceil(p[0]); }, {rounding_down}},
      {"round", [](const Vars& p) { return round(p[0]); }, {rounding_up}},
      {"round", [](const Vars& p) { return round(p[0]); }, {rounding_down}},
      {"trunc", [](const Vars& p) { return trunc(p[0]); }, {rounding_up}},
      {"trunc", [](const Vars& p) { return trunc(p[0]); }, {rounding_down}},
      {"add", [](const Vars& p) { return p[0] + p[1]; }, {any, any}},
      {"sub", [](const Vars& p) { return p[0] - p[1]; }, {any, any}},
      {"mul", [](const Vars& p) { return p[0] * p[1]; }, {any, any}},
      {"true_div", [](const Vars& p) { return p[0] / p[1]; }, {any, {0.5, 2}}},
      {"true_div", [](const Vars& p) { return p[0] / p[1]; }, {any, {-2, -0.5}}},
      {"floor_div", [](const Vars& p) { return floor_div(p[0], p[1]); }, {dividend, divisor}},
      {"mod", [](const Vars& p) { return p[0] % p[1]; }, {dividend, divisor}},
      {"mod", [](const Vars& p) { return p[0] % p[1]; }, {dividend, negative_divisor}},
      {"pow", [](const Vars& p) { return pow(p[0], p[1]); }, {{0.2, 2}, any}},
      // A negative base with an integer exponent: only the base is differentiated.
      {"pow", [](const Vars& p) { return pow(p[0], 3); }, {{-2, -0.2}}},
      // b ranges over both signs, a stays off the branch cut (a = 0, b < 0).
      {"atan2", [](const Vars& p) { return atan2(p[0], p[1]); }, {{0.2, 2}, any}},
      {"minimum", [](const Vars& p) { return minimum(p[0], p[1]); }, {any, any}},
      {"maximum", [](const Vars& p) { return maximum(p[0], p[1]); }, {any, any}},
      // The condition's input gets a zero gradient: its comparison output is bool.
      {"where", [](const Vars& p) { return where(p[0] > 0, p[1], p[2]); }, {any, any, any}},
  };
  return table;
}

// How verify_grad's inputs (all sizes unknown) are shaped for one check: `point` is the shape
// drawn, `pattern` a dimshuffle that gives the input static size-1 dims (empty: none).
struct InputShape {
  Shape point;
  std::vector<std::int64_t> pattern;
};
struct ShapeCase {
  std::string label;
  std::vector<InputShape> inputs;
};

const InputShape full{{3, 4}, {}};

// Every input full [3, 4]; then, for an op of several inputs, each input in turn as a vector
// [4], a scalar, a row [1, 4] and a column [3, 1] broadcast against the others, so that its
// gradient must be summed back.
std::vector<ShapeCase> shape_cases(std::size_t arity) {
  std::vector<ShapeCase> cases{{"all [3, 4]", std::vector<InputShape>(arity, full)}};
  if (arity == 1) {
    cases.push_back({"a scalar", {InputShape{{}, {}}}});
    return cases;
  }
  const std::pair<const char*, InputShape> smaller[] = {
      {"a vector [4]", {{4}, {}}},
      {"a scalar", {{}, {}}},
      {"a row [1, 4]", {{4}, {-1, 0}}},
      {"a column [3, 1]", {{3}, {0, -1}}},
  };
  for (std::size_t k = 0; k < arity; ++k)
    for (const auto& [label, shape] : smaller) {
      ShapeCase c{fmt::format("input {} {}", k, label), std::vector<InputShape>(arity, full)};
      c.inputs[k] = shape;
      cases.push_back(c);
    }
  return cases;
}

}  // namespace

TEST_CASE("elementwise grad: every op against central differences, inputs broadcast") {
  std::uint64_t seed = 0;
  for (const Row& row : rows())
    for (const ShapeCase& c : shape_cases(row.domain.size())) {
      std::vector<Array> points;
      for (std::size_t k = 0; k < c.inputs.size(); ++k)
        points.push_back(
            uniform_point(++seed, c.inputs[k].point, row.domain[k].lo, row.domain[k].hi));
      auto fn = [&](const Vars& in) {
        Vars shaped = in;
        for (std::size_t k = 0; k < in.size(); ++k)
          if (!c.inputs[k].pattern.empty()) shaped[k] = dimshuffle(in[k], c.inputs[k].pattern);
        return row.fn(shaped);
      };
      check_grad(fmt::format("{}, {}", row.op, c.label), fn, points, row.options);
    }
}

// The check above goes through dimshuffle's gradient, which could hide a gradient of the
// wrong static shape; here each op's own gradient must have the input's type, and equal the
// gradient with respect to the input tiled to full size, summed over the stretched axis.
TEST_CASE("elementwise grad: an input of static size 1 gets a gradient of its own type") {
  const Shape out_shape{3, 4};
  const Array weights = uniform_point(99, out_shape, 0.5, 1.5);
  std::uint64_t seed = 1000;
  for (const Row& row : rows()) {
    const std::size_t arity = row.domain.size();
    if (arity < 2) continue;
    for (std::size_t k = 0; k < arity; ++k)
      for (int axis : {0, 1}) {
        Shape small = out_shape;
        small[axis] = 1;
        INFO(std::string(row.op) << ": input " << k << " of shape " << shape_str(small));
        Vars in, tiled_in;
        Bindings at, tiled_at;
        for (std::size_t j = 0; j < arity; ++j) {
          Shape shape = j == k ? small : out_shape;
          Array value = uniform_point(++seed, shape, row.domain[j].lo, row.domain[j].hi);
          in.push_back(tensor("p", float64, shape));
          tiled_in.push_back(tensor("t", float64, out_shape));
          at.emplace_back(in.back(), value);
          tiled_at.emplace_back(tiled_in.back(), value.broadcast_to(out_shape).copy());
        }
        Var g = Lop({row.fn(in)}, {in[k]}, {constant(weights)})[0];
        Var tiled_g = Lop({row.fn(tiled_in)}, {tiled_in[k]}, {constant(weights)})[0];
        CHECK(g.type().str() == TensorType{float64, small}.str());
        Array want = evaluate(sum(constant(evaluate(tiled_g, tiled_at)), axis, true));
        CHECK(allclose(evaluate(g, at), want, 1e-12, 1e-12));
      }
  }
}

TEST_CASE("elementwise grad: float32 stays float32, gradient nodes carry the forward line") {
  for (const Row& row : rows()) {
    INFO(std::string(row.op));
    Vars in;
    for (std::size_t k = 0; k < row.domain.size(); ++k)
      in.push_back(tensor("p", float32, {3, unknown_dim}));
    Var out = row.fn(in);
    Vars g = grad(sum(out), in, {.disconnected = Disconnected::Zero});
    bool forward_float64 = false;
    for (const Node* n : topo_sort(std::vector<Var>{out}))
      forward_float64 |= n->output(0).dtype() == float64;
    for (const Var& gi : g) CHECK(gi.type().str() == "float32[3, ?]");
    for (const Node* n : topo_sort(g)) {
      INFO(n->op().name << " at " << n->location().file_name() << ":" << n->location().line());
      // Constants have no inputs and are shared with any earlier equal constant, wherever
      // it was built; every other node is new and must point into this file.
      if (!n->inputs().empty()) CHECK(test::this_file(n->location().file_name()) == here);
      if (!forward_float64) CHECK(n->output(0).dtype() != float64);
    }
  }
}

TEST_CASE("elementwise grad: every elementwise op has a table row or is listed without one") {
  // Their outputs are bool: no gradient ever reaches them, so they define none.
  const std::set<std::string> no_gradient = {
      "eq", "neq", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
      "logical_not", "isnan", "isinf"};
  std::set<std::string> in_table;
  for (const Row& row : rows()) in_table.insert(row.op);
  test::check_op_coverage(OpFamily::Elementwise, in_table, no_gradient, /*require_grad=*/true);
}
