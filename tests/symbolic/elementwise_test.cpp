// The elementwise family: every op on hand-checked values (the tables below), then
// broadcasting, promotion and weak scalars, operators, and the user errors. The last test
// fails when an elementwise op of ops::all_ops() has no row in the tables.
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "runtime/log.hpp"
#include "support.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using test::this_file;

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double pi_2 = 1.5707963267948966;

using Values = std::vector<double>;
using UnaryFn = Var (*)(const Var&, std::source_location);
using BinaryFn = Var (*)(const Operand&, const Operand&, std::source_location);

Array make(DType dtype, const Values& values, Shape shape = {}) {
  return Array::from_vector(values, std::move(shape)).astype(dtype);
}

// Checks dtype and values: exact for integers and bool, a few ulps for floats; NaN matches
// NaN and infinities match themselves.
void check_values(const Array& got, DType dtype, const Values& want) {
  CHECK(dtype_name(got.dtype()) == dtype_name(dtype));
  Values v = got.to_double_vector();
  REQUIRE(v.size() == want.size());
  const double rtol = dtype == float32 ? 1e-6 : dtype == float64 ? 1e-14 : 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    if (std::isnan(want[i])) CHECK(std::isnan(v[i]));
    else if (std::isinf(want[i])) CHECK(v[i] == want[i]);
    else CHECK(std::fabs(v[i] - want[i]) <= rtol * std::fabs(want[i]) + (rtol ? 1e-300 : 0));
  }
}

// The op names in the graph of y: a row's name must really be in the graph it built.
void collect_ops(const Var& y, std::set<std::string>& names) {
  names.insert(std::string(y.node()->op().name));
  for (const Var& in : y.node()->inputs()) collect_ops(in, names);
}
bool graph_has(const Var& y, const std::string& op) {
  std::set<std::string> names;
  collect_ops(y, names);
  return names.count(op) > 0;
}

struct UnaryCase {
  const char* op;
  UnaryFn fn;
  DType in;
  Values x;
  DType out;
  Values want;
};

const std::vector<UnaryCase> unary_cases = {
    {"neg", &cgvm::neg, float32, {1.5, -2, 0}, float32, {-1.5, 2, 0}},
    {"neg", &cgvm::neg, int32, {3, -4, 0}, int32, {-3, 4, 0}},
    {"neg", &cgvm::neg, int8, {-128, 127}, int8, {-128, -127}},  // wraps like numpy
    {"neg", &cgvm::neg, bool_, {1, 0}, int64, {-1, 0}},
    {"abs", &cgvm::abs, float64, {-1.5, 2, nan}, float64, {1.5, 2, nan}},
    {"abs", &cgvm::abs, int32, {-3, 4}, int32, {3, 4}},
    {"abs", &cgvm::abs, int8, {-128}, int8, {-128}},
    {"sign", &cgvm::sign, float32, {-2.5, 0, 3, nan}, float32, {-1, 0, 1, nan}},
    {"sign", &cgvm::sign, int32, {-7, 0, 9}, int32, {-1, 0, 1}},
    {"sign", &cgvm::sign, uint8, {0, 5}, uint8, {0, 1}},
    {"sqr", &cgvm::sqr, float32, {-1.5, 3}, float32, {2.25, 9}},
    {"sqr", &cgvm::sqr, int32, {-3, 46341}, int32, {9, -2147479015}},
    {"sqr", &cgvm::sqr, bool_, {1, 0}, int64, {1, 0}},
    {"exp", &cgvm::exp, float32, {0, 1, -1, -inf}, float32,
     {1, 2.718281828459045, 0.36787944117144233, 0}},
    {"exp", &cgvm::exp, float64, {1, 1000}, float64, {2.718281828459045, inf}},
    {"exp", &cgvm::exp, int32, {0, 2}, float32, {1, 7.38905609893065}},
    {"exp2", &cgvm::exp2, float64, {3, -1, 0.5}, float64, {8, 0.5, 1.4142135623730951}},
    {"expm1", &cgvm::expm1, float64, {1e-10, 1}, float64, {1.00000000005e-10, 1.718281828459045}},
    {"log", &cgvm::log, float32, {1, 2, 0, -1}, float32, {0, 0.6931471805599453, -inf, nan}},
    {"log", &cgvm::log, bool_, {1, 0}, float32, {0, -inf}},
    {"log2", &cgvm::log2, float64, {8, 0.5}, float64, {3, -1}},
    {"log10", &cgvm::log10, float64, {1000, 0.01}, float64, {3, -2}},
    {"log1p", &cgvm::log1p, float64, {1e-10, 1}, float64,
     {9.999999999500001e-11, 0.6931471805599453}},
    {"sqrt", &cgvm::sqrt, float32, {4, 2, -1}, float32, {2, 1.4142135623730951, nan}},
    {"sqrt", &cgvm::sqrt, int32, {9}, float32, {3}},
    {"rsqrt", &cgvm::rsqrt, float64, {4, 0.25, 0}, float64, {0.5, 2, inf}},
    {"sin", &cgvm::sin, float64, {0, pi_2}, float64, {0, 1}},
    {"sin", &cgvm::sin, float32, {0.5}, float32, {0.479425538604203}},
    {"cos", &cgvm::cos, float64, {0, 1}, float64, {1, 0.5403023058681398}},
    {"tan", &cgvm::tan, float32, {0.5}, float32, {0.5463024898437905}},
    {"asin", &cgvm::asin, float64, {1, 0.5, 2}, float64, {pi_2, 0.5235987755982989, nan}},
    {"acos", &cgvm::acos, float64, {1, 0.5}, float64, {0, 1.0471975511965979}},
    {"atan", &cgvm::atan, float32, {1, -1}, float32, {0.7853981633974483, -0.7853981633974483}},
    {"sinh", &cgvm::sinh, float64, {1, 0}, float64, {1.1752011936438014, 0}},
    {"cosh", &cgvm::cosh, float64, {1, 0}, float64, {1.5430806348152437, 1}},
    {"tanh", &cgvm::tanh, float32, {0.5, 100, -100}, float32, {0.46211715726000974, 1, -1}},
    {"sigmoid", &cgvm::sigmoid, float32, {0, 2, -2, 100, -80}, float32,
     {0.5, 0.8807970779778823, 0.11920292202211755, 1, 1.8048513878454153e-35}},
    {"sigmoid", &cgvm::sigmoid, float64, {1000, -1000, nan}, float64, {1, 0, nan}},
    {"softplus", &cgvm::softplus, float64, {0, 1, -1, 1000, -1000}, float64,
     {0.6931471805599453, 1.3132616875182228, 0.31326168751822286, 1000, 0}},
    {"softplus", &cgvm::softplus, float32, {100, nan}, float32, {100, nan}},
    {"erf", &cgvm::erf, float64, {0, 1, -0.5}, float64,
     {0, 0.8427007929497149, -0.5204998778130465}},
    {"erfc", &cgvm::erfc, float32, {0, 1}, float32, {1, 0.15729920705028513}},
    {"floor", &cgvm::floor, float32, {1.5, -1.5, 2}, float32, {1, -2, 2}},
    {"ceil", &cgvm::ceil, float64, {1.5, -1.5, 2}, float64, {2, -1, 2}},
    {"round", &cgvm::round, float32, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6}, float32,
     {0, 2, 2, 0, -2, 2, -3}},
    {"round", &cgvm::round, float64, {1e300, nan}, float64, {1e300, nan}},
    {"trunc", &cgvm::trunc, float64, {1.7, -1.7}, float64, {1, -1}},
    {"logical_not", &cgvm::logical_not, bool_, {1, 0}, bool_, {0, 1}},
    {"logical_not", &cgvm::logical_not, int32, {0, 3}, bool_, {1, 0}},
    {"logical_not", &cgvm::logical_not, float32, {0, nan}, bool_, {1, 0}},
    {"isnan", &cgvm::isnan, float32, {nan, 1, inf}, bool_, {1, 0, 0}},
    {"isnan", &cgvm::isnan, int32, {1}, bool_, {0}},
    {"isinf", &cgvm::isinf, float64, {inf, -inf, nan, 1}, bool_, {1, 1, 0, 0}},
    {"isinf", &cgvm::isinf, int64, {1}, bool_, {0}},
};

struct BinaryCase {
  const char* op;
  BinaryFn fn;
  DType in_a;
  Values a;
  DType in_b;
  Values b;
  DType out;
  Values want;
};

const std::vector<BinaryCase> binary_cases = {
    {"add", &cgvm::add, float32, {1.5, -2}, float32, {2.25, 2}, float32, {3.75, 0}},
    {"add", &cgvm::add, int32, {2147483647, -5}, int32, {1, 2}, int32, {-2147483648.0, -3}},
    {"add", &cgvm::add, bool_, {1, 1, 0}, bool_, {1, 0, 0}, int64, {2, 1, 0}},
    {"add", &cgvm::add, uint8, {200}, int8, {-100}, int16, {100}},
    {"add", &cgvm::add, int32, {1}, int64, {2}, int64, {3}},
    {"sub", &cgvm::sub, float64, {1, 0.5}, float64, {3, 0.25}, float64, {-2, 0.25}},
    {"sub", &cgvm::sub, uint8, {0}, uint8, {1}, uint8, {255}},
    {"sub", &cgvm::sub, bool_, {1, 0}, bool_, {0, 1}, int64, {1, -1}},
    {"mul", &cgvm::mul, float32, {1.5, -2}, float32, {2, 3}, float32, {3, -6}},
    {"mul", &cgvm::mul, int32, {65536, -3}, int32, {65536, 7}, int32, {0, -21}},
    {"mul", &cgvm::mul, int16, {3}, float32, {0.5}, float32, {1.5}},
    {"true_div", &cgvm::true_div, float32, {1, -3}, float32, {4, 2}, float32, {0.25, -1.5}},
    {"true_div", &cgvm::true_div, int32, {7, 1, -1, 0}, int32, {2, 0, 0, 0}, float32,
     {3.5, inf, -inf, nan}},
    {"true_div", &cgvm::true_div, float64, {1}, float64, {3}, float64, {0.3333333333333333}},
    // Python: 7 // 2 = 3, -7 // 2 = -4, 7 // -2 = -4, -7 // -2 = 3; integer / 0 -> 0.
    {"floor_div", &cgvm::floor_div, int32, {7, -7, 7, -7, 5, -8}, int32, {2, 2, -2, -2, 0, 3},
     int32, {3, -4, -4, 3, 0, -3}},
    {"floor_div", &cgvm::floor_div, int8, {-128, 9}, int8, {-1, -1}, int8, {-128, -9}},
    {"floor_div", &cgvm::floor_div, float64, {7, -7, 7, -7, 7.5, 1, -7.5}, float64,
     {2, 2, -2, -2, 0.5, 0, 2}, float64, {3, -4, -4, 3, 15, inf, -4}},
    {"floor_div", &cgvm::floor_div, bool_, {1, 1}, bool_, {1, 0}, int64, {1, 0}},
    // Python: the remainder takes the divisor's sign; integer % 0 -> 0.
    {"mod", &cgvm::mod, int32, {7, -7, 7, -7, 5, 6}, int32, {2, 2, -2, -2, 0, 3}, int32,
     {1, 1, -1, -1, 0, 0}},
    {"mod", &cgvm::mod, float64, {7, -7, 7, -7, 5.5, 1, 1e-300}, float64, {2, 2, -2, -2, 2, 0, -1},
     float64, {1, 1, -1, -1, 1.5, nan, -1}},
    {"mod", &cgvm::mod, float32, {-0.5, 0.5}, float32, {2, -2}, float32, {1.5, -1.5}},
    {"pow", &cgvm::pow, float32, {2, 4, 2}, float32, {3, 0.5, -1}, float32, {8, 2, 0.5}},
    {"pow", &cgvm::pow, int32, {2, 2, 1, -1, -1, 0, 3, 0, 2}, int32,
     {10, -1, -5, -3, -2, 0, 0, 2, 31}, int32, {1024, 0, 1, -1, 1, 1, 1, 0, -2147483648.0}},
    {"pow", &cgvm::pow, float64, {-8, 0}, float64, {1.0 / 3, -1}, float64, {nan, inf}},
    {"atan2", &cgvm::atan2, float64, {1, 1, -1, 0}, float64, {1, -1, -1, 1}, float64,
     {0.7853981633974483, 2.356194490192345, -2.356194490192345, 0}},
    {"atan2", &cgvm::atan2, int32, {1}, int32, {1}, float32, {0.7853981633974483}},
    {"minimum", &cgvm::minimum, float32, {1, nan, 3, nan}, float32, {2, 5, nan, nan}, float32,
     {1, nan, nan, nan}},
    {"minimum", &cgvm::minimum, int32, {-1, 5}, int32, {3, 2}, int32, {-1, 2}},
    {"minimum", &cgvm::minimum, bool_, {1, 0, 1}, bool_, {1, 1, 0}, bool_, {1, 0, 0}},
    {"maximum", &cgvm::maximum, float64, {1, nan, 3}, float64, {2, 5, nan}, float64, {2, nan, nan}},
    {"maximum", &cgvm::maximum, int32, {-1, 5}, int32, {3, 2}, int32, {3, 5}},
    {"eq", &cgvm::eq, float32, {1, 2, nan}, float32, {1, 3, nan}, bool_, {1, 0, 0}},
    {"eq", &cgvm::eq, int32, {4, 5}, float32, {4, 4.5}, bool_, {1, 0}},
    {"neq", &cgvm::neq, float32, {1, 2, nan}, float32, {1, 3, nan}, bool_, {0, 1, 1}},
    {"lt", &cgvm::lt, int32, {1, 2, 3}, int32, {2, 2, 2}, bool_, {1, 0, 0}},
    {"lt", &cgvm::lt, float64, {nan, -inf}, float64, {1, 0}, bool_, {0, 1}},
    {"le", &cgvm::le, int32, {1, 2, 3}, int32, {2, 2, 2}, bool_, {1, 1, 0}},
    {"gt", &cgvm::gt, uint8, {1, 2, 255}, uint8, {2, 2, 2}, bool_, {0, 0, 1}},
    {"ge", &cgvm::ge, float32, {1, 2, 3}, float32, {2, 2, 2}, bool_, {0, 1, 1}},
    {"logical_and", &cgvm::logical_and, bool_, {1, 1, 0, 0}, bool_, {1, 0, 1, 0}, bool_,
     {1, 0, 0, 0}},
    {"logical_and", &cgvm::logical_and, int32, {2, 0, 2}, float32, {0.5, 3, 0}, bool_, {1, 0, 0}},
    {"logical_or", &cgvm::logical_or, bool_, {1, 1, 0, 0}, bool_, {1, 0, 1, 0}, bool_,
     {1, 1, 1, 0}},
    {"logical_xor", &cgvm::logical_xor, bool_, {1, 1, 0, 0}, bool_, {1, 0, 1, 0}, bool_,
     {0, 1, 1, 0}},
};

// cast and where: rows of (op, graph builder over inputs a, b, c of the given dtypes).
struct GraphCase {
  const char* op;
  std::function<Var(const Var&, const Var&, const Var&)> build;
  std::vector<std::pair<DType, Values>> inputs;  // up to three, rank 1
  DType out;
  Values want;
};

const std::vector<GraphCase> graph_cases = {
    // float -> integer truncates toward zero; -1 wraps to uint8 255; anything -> bool is != 0.
    {"cast", [](auto& a, auto&, auto&) { return cast(a, int32); }, {{float32, {2.7, -2.7, 0.5}}},
     int32, {2, -2, 0}},
    {"cast", [](auto& a, auto&, auto&) { return cast(a, bool_); }, {{float64, {0, 0.1, nan}}},
     bool_, {0, 1, 1}},
    {"cast", [](auto& a, auto&, auto&) { return cast(a, uint8); }, {{int32, {-1, 256, 255}}}, uint8,
     {255, 0, 255}},
    {"cast", [](auto& a, auto&, auto&) { return a.astype(float32); }, {{bool_, {1, 0}}}, float32,
     {1, 0}},
    {"cast", [](auto& a, auto&, auto&) { return cast(a, float32); }, {{float64, {0.1}}}, float32,
     {0.10000000149011612}},
    {"where", [](auto& c, auto& a, auto& b) { return where(c, a, b); },
     {{bool_, {1, 0, 1}}, {float32, {1, 2, 3}}, {float32, {-1, -2, -3}}}, float32, {1, -2, 3}},
    {"where", [](auto& c, auto& a, auto&) { return where(c, a, 2.5); },
     {{int32, {0, 7}}, {int32, {1, 1}}}, float32, {2.5, 1}},
    {"where", [](auto& c, auto& a, auto& b) { return where(c, a, b); },
     {{bool_, {1, 0}}, {bool_, {0, 0}}, {bool_, {1, 1}}}, bool_, {0, 1}},
};

}  // namespace

TEST_CASE("elementwise: every unary op on hand-checked values") {
  for (const UnaryCase& c : unary_cases) {
    INFO(c.op << " on " << dtype_name(c.in));
    Var x = vector("x", c.in);
    Var y = c.fn(x, std::source_location::current());
    CHECK(graph_has(y, c.op));
    CHECK(y.static_shape() == Shape{unknown_dim});
    check_values(evaluate(y, {{x, make(c.in, c.x)}}), c.out, c.want);
    // The empty vector gives an empty result of the same dtype.
    Array empty = evaluate(y, {{x, make(c.in, {})}});
    CHECK(empty.shape() == Shape{0});
    CHECK(empty.dtype() == c.out);
  }
}

TEST_CASE("elementwise: every binary op on hand-checked values") {
  for (const BinaryCase& c : binary_cases) {
    INFO(c.op << " on " << dtype_name(c.in_a) << ", " << dtype_name(c.in_b));
    Var a = vector("a", c.in_a), b = vector("b", c.in_b);
    Var y = c.fn(a, b, std::source_location::current());
    CHECK(graph_has(y, c.op));
    check_values(evaluate(y, {{a, make(c.in_a, c.a)}, {b, make(c.in_b, c.b)}}), c.out, c.want);
    // The same values as a column against a broadcast row: the column stretches.
    Var col_a = tensor("col_a", c.in_a, {unknown_dim, 1});
    Var z = c.fn(col_a, b, std::source_location::current());
    CHECK(z.static_shape() == Shape{unknown_dim, unknown_dim});
    Array zv = evaluate(z, {{col_a, make(c.in_a, c.a, {static_cast<std::int64_t>(c.a.size()), 1})},
                            {b, make(c.in_b, c.b)}});
    const auto n = static_cast<std::int64_t>(c.a.size());
    REQUIRE(zv.shape() == Shape{n, n});
    Values diagonal;
    for (std::int64_t i = 0; i < n; ++i) diagonal.push_back(zv.get_as_double(Shape{i, i}));
    check_values(Array::from_vector(diagonal).astype(zv.dtype()), c.out, c.want);
  }
}

TEST_CASE("elementwise: cast and where on hand-checked values") {
  for (const GraphCase& c : graph_cases) {
    INFO(c.op << " row of " << c.inputs.size() << " inputs");
    std::vector<Var> vars;
    Bindings bindings;
    for (const auto& [dtype, values] : c.inputs) {
      vars.push_back(vector("in", dtype));
      bindings.emplace_back(vars.back(), make(dtype, values));
    }
    while (vars.size() < 3) vars.push_back(Var());
    Var y = c.build(vars[0], vars[1], vars[2]);
    CHECK(graph_has(y, c.op));
    check_values(evaluate(y, bindings), c.out, c.want);
  }
}

// A new elementwise op without a table row fails here.
TEST_CASE("elementwise: the tables cover every op of the family") {
  std::set<std::string> tested;
  for (const UnaryCase& c : unary_cases) tested.insert(c.op);
  for (const BinaryCase& c : binary_cases) tested.insert(c.op);
  for (const GraphCase& c : graph_cases) tested.insert(c.op);
  test::check_op_coverage(OpFamily::Elementwise, tested);
}
