// The reduce family and its compositions: every reduction on hand-checked values (the table
// below, run once with static and once with unknown input sizes), then the axis rules, NaN
// and empty-axis behaviour, hash-consing of normalised axes, and the user errors. The last
// test fails when a reduce op of ops::all_ops() has no row in the table.
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::this_file;

namespace {

// Error messages must point at this file (the user's line). Kept alive here: a temporary's
// c_str() in CHECK_ERROR's list would dangle.
const std::string file_name = this_file();
const char* const file = file_name.c_str();

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

using test::check_array;
using test::make;
using test::Values;
using ReduceFn = std::function<Var(const Var&, const Axes&, bool, std::source_location)>;

void collect_ops(const Var& y, std::set<std::string>& names) {
  names.insert(std::string(y.node()->op().name));
  for (const Var& in : y.node()->inputs()) collect_ops(in, names);
}

struct Case {
  const char* name;  // the primitive op the row exercises (it must be in the graph)
  ReduceFn fn;
  DType in_dtype;
  Values in;
  Shape in_shape;
  Axes axes;
  bool keepdims;
  DType out_dtype;
  Shape out_shape;
  Values want;
};

#define FN(f) \
  [](const Var& x, const Axes& a, bool k, std::source_location l) { return f(x, a, k, l); }

// M = [[1, 2, 3], [4, 5, 6]]; T = arange(12) as 2x3x2.
const Values M = {1, 2, 3, 4, 5, 6};
const Values T = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
const Axes all_axes{};
const Axes no_axes{std::vector<std::int64_t>{}};

const std::vector<Case> cases = {
    // sum
    {"sum", FN(sum), float32, M, {2, 3}, all_axes, false, float32, {}, {21}},
    {"sum", FN(sum), float32, M, {2, 3}, 0, false, float32, {3}, {5, 7, 9}},
    {"sum", FN(sum), float32, M, {2, 3}, -1, false, float32, {2}, {6, 15}},
    {"sum", FN(sum), float64, M, {2, 3}, 1, true, float64, {2, 1}, {6, 15}},
    {"sum", FN(sum), float32, M, {2, 3}, all_axes, true, float32, {1, 1}, {21}},
    {"sum", FN(sum), int32, T, {2, 3, 2}, {0, 2}, false, int64, {3}, {14, 22, 30}},
    {"sum", FN(sum), int32, T, {2, 3, 2}, {-1, 0}, true, int64, {1, 3, 1}, {14, 22, 30}},
    {"sum", FN(sum), bool_, {1, 0, 1, 1, 1, 0}, {2, 3}, 1, false, int64, {2}, {2, 2}},
    {"sum", FN(sum), int8, {100, 100, 100}, {3}, all_axes, false, int64, {}, {300}},
    {"sum", FN(sum), uint8, {200, 100}, {2}, 0, false, int64, {}, {300}},
    {"sum", FN(sum), float64, {}, {2, 0}, 1, false, float64, {2}, {0, 0}},
    {"sum", FN(sum), int32, {}, {0, 3}, 0, false, int64, {3}, {0, 0, 0}},
    {"sum", FN(sum), int16, {1, 2, 3}, {3}, no_axes, false, int64, {3}, {1, 2, 3}},
    {"sum", FN(sum), float32, {1, 2, 3}, {1, 3}, 0, false, float32, {3}, {1, 2, 3}},
    {"sum", FN(sum), int32, {7}, {}, all_axes, false, int64, {}, {7}},
    {"sum", FN(sum), float32, {1, nan, 3}, {3}, all_axes, false, float32, {}, {nan}},
    // float32 sums accumulate in double: float32 steps would lose the 1 (ulp 8 at 1e8).
    {"sum", FN(sum), float32, {1e8, 1, -1e8}, {3}, all_axes, false, float32, {}, {1}},
    // prod
    {"prod", FN(prod), float32, M, {2, 3}, 0, false, float32, {3}, {4, 10, 18}},
    {"prod", FN(prod), float64, M, {2, 3}, all_axes, false, float64, {}, {720}},
    {"prod", FN(prod), int32, M, {2, 3}, -1, true, int64, {2, 1}, {6, 120}},
    {"prod", FN(prod), float32, {}, {0}, all_axes, false, float32, {}, {1}},
    {"prod", FN(prod), int32, {}, {2, 0}, 1, false, int64, {2}, {1, 1}},
    {"prod", FN(prod), bool_, {1, 0, 1, 1}, {2, 2}, 1, false, int64, {2}, {0, 1}},
    {"prod", FN(prod), int64, {4294967296.0, 4294967296.0}, {2}, 0, false, int64, {}, {0}},
    {"prod", FN(prod), float32, {2, nan}, {2}, 0, false, float32, {}, {nan}},
    {"prod", FN(prod), int32, {1, 2, 3, 4}, {2, 1, 2}, {0, 2}, false, int64, {1}, {24}},
    {"prod", FN(prod), float32, {1, 2, 3, 4}, {2, 2}, -2, true, float32, {1, 2}, {3, 8}},
    // max / min keep the dtype; NaN propagates
    {"max", FN(max), float32, M, {2, 3}, all_axes, false, float32, {}, {6}},
    {"max", FN(max), float32, M, {2, 3}, 0, false, float32, {3}, {4, 5, 6}},
    {"max", FN(max), float64, M, {2, 3}, -1, true, float64, {2, 1}, {3, 6}},
    {"max", FN(max), int32, {-5, -2, -9}, {3}, 0, false, int32, {}, {-2}},
    {"max", FN(max), int8, T, {2, 3, 2}, {1, 2}, false, int8, {2}, {5, 11}},
    {"max", FN(max), bool_, {0, 0, 0, 1}, {2, 2}, 1, false, bool_, {2}, {0, 1}},
    {"max", FN(max), float32, {1, nan, 3}, {3}, 0, false, float32, {}, {nan}},
    {"max", FN(max), float32, {nan, 1, 2, 3}, {2, 2}, 1, false, float32, {2}, {nan, 3}},
    {"max", FN(max), float32, {-inf, -inf}, {2}, 0, false, float32, {}, {-inf}},
    {"max", FN(max), float32, {5, 6}, {1, 2}, 0, false, float32, {2}, {5, 6}},
    {"max", FN(max), float32, {5, 6}, {2, 1}, -1, false, float32, {2}, {5, 6}},
    {"min", FN(min), float32, M, {2, 3}, all_axes, false, float32, {}, {1}},
    {"min", FN(min), float32, M, {2, 3}, 1, false, float32, {2}, {1, 4}},
    {"min", FN(min), uint8, {7, 3, 250}, {3}, 0, true, uint8, {1}, {3}},
    {"min", FN(min), int64, T, {2, 3, 2}, {0, 1}, false, int64, {2}, {0, 1}},
    {"min", FN(min), float64, {3, nan, 1}, {3}, 0, false, float64, {}, {nan}},
    {"min", FN(min), float32, M, {2, 1, 3}, {-1, -3}, true, float32, {1, 1, 1}, {1}},
    {"min", FN(min), bool_, {1, 0, 1, 1}, {2, 2}, 1, false, bool_, {2}, {0, 1}},
    // argmax / argmin: int64, first index on ties, first NaN wins, flattened for all axes
    {"argmax", FN(argmax), float32, M, {2, 3}, all_axes, false, int64, {}, {5}},
    {"argmax", FN(argmax), float32, M, {2, 3}, 0, false, int64, {3}, {1, 1, 1}},
    {"argmax", FN(argmax), float32, M, {2, 3}, -1, true, int64, {2, 1}, {2, 2}},
    {"argmax", FN(argmax), int32, {1, 9, 2, 9, 0, 3}, {2, 3}, all_axes, false, int64, {}, {1}},
    {"argmax", FN(argmax), int32, {1, 9, 2, 9, 0, 3}, {2, 3}, all_axes, true, int64, {1, 1},
     {1}},
    {"argmax", FN(argmax), float32, {3, 1, 3}, {3}, 0, false, int64, {}, {0}},
    {"argmax", FN(argmax), float64, {1, nan, 5, nan}, {4}, 0, false, int64, {}, {1}},
    {"argmax", FN(argmax), bool_, {0, 1, 1, 0}, {2, 2}, -2, false, int64, {2}, {1, 0}},
    {"argmax", FN(argmax), float32, {4}, {}, all_axes, false, int64, {}, {0}},
    {"argmin", FN(argmin), float32, M, {2, 3}, all_axes, false, int64, {}, {0}},
    {"argmin", FN(argmin), float32, {3, 1, 1}, {3}, 0, false, int64, {}, {1}},
    {"argmin", FN(argmin), int16, {5, 2, 8, 1, 9, 1}, {2, 3}, 1, false, int64, {2}, {1, 0}},
    {"argmin", FN(argmin), float32, {2, 0, nan, -1}, {2, 2}, 1, false, int64, {2}, {1, 0}},
    {"argmin", FN(argmin), int64, M, {2, 3}, -1, true, int64, {2, 1}, {0, 0}},
    {"argmin", FN(argmin), float32, {4, 5, 6}, {1, 3}, 0, false, int64, {3}, {0, 0, 0}},
    {"argmin", FN(argmin), uint8, {3, 1, 2, 1}, {2, 2}, all_axes, false, int64, {}, {1}},
    // all / any: bool; NaN counts as true; empty axes give the identity
    {"all", FN(all), bool_, {1, 0, 1, 1, 1, 1}, {2, 3}, 1, false, bool_, {2}, {0, 1}},
    {"all", FN(all), float32, {nan, 2}, {2}, all_axes, false, bool_, {}, {1}},
    {"all", FN(all), int32, {1, 0, 3, 4}, {2, 2}, 0, true, bool_, {1, 2}, {1, 0}},
    {"all", FN(all), float32, {}, {0, 2}, 0, false, bool_, {2}, {1, 1}},
    {"all", FN(all), bool_, {1, 1, 0, 1}, {2, 1, 2}, -1, true, bool_, {2, 1, 1}, {1, 0}},
    {"all", FN(all), bool_, {1, 1, 0, 1}, {2, 1, 2}, {0, 2}, false, bool_, {1}, {0}},
    {"any", FN(any), bool_, {1, 0, 1, 0, 0, 0}, {2, 3}, 1, false, bool_, {2}, {1, 0}},
    {"any", FN(any), float64, {0, nan}, {2}, 0, false, bool_, {}, {1}},
    {"any", FN(any), int8, {0, 0, 0, 5}, {2, 2}, all_axes, false, bool_, {}, {1}},
    {"any", FN(any), float32, {}, {0}, all_axes, false, bool_, {}, {0}},
    {"any", FN(any), float32, {0, 0, 0, -1}, {2, 2}, -2, true, bool_, {1, 2}, {0, 1}},
    {"any", FN(any), bool_, {0, 1}, {1, 2}, 0, false, bool_, {2}, {0, 1}},
    // mean: floats keep the dtype, integers give float32, empty gives NaN
    {"sum", FN(mean), float32, M, {2, 3}, all_axes, false, float32, {}, {3.5}},
    {"sum", FN(mean), float64, M, {2, 3}, 0, false, float64, {3}, {2.5, 3.5, 4.5}},
    {"sum", FN(mean), int32, M, {2, 3}, 1, true, float32, {2, 1}, {2, 5}},
    {"sum", FN(mean), bool_, {1, 0, 1, 1}, {4}, 0, false, float32, {}, {0.75}},
    {"sum", FN(mean), int32, T, {2, 3, 2}, {0, 2}, false, float32, {3}, {3.5, 5.5, 7.5}},
    {"sum", FN(mean), float32, {}, {0}, all_axes, false, float32, {}, {nan}},
    // var / std (ddof 0 and 1)
    {"sum", [](const Var& x, const Axes& a, bool k, std::source_location l) {
       return var(x, a, k, 0, l); }, float32, M, {2, 3}, 1, false, float32, {2},
     {2.0 / 3, 2.0 / 3}},
    {"sum", [](const Var& x, const Axes& a, bool k, std::source_location l) {
       return var(x, a, k, 1, l); }, float64, M, {2, 3}, 0, true, float64, {1, 3},
     {4.5, 4.5, 4.5}},
    {"sum", [](const Var& x, const Axes& a, bool k, std::source_location l) {
       return var(x, a, k, 0, l); }, int32, {1, 2, 3, 4}, {4}, all_axes, false, float32, {},
     {1.25}},
    {"sum", [](const Var& x, const Axes& a, bool k, std::source_location l) {
       return cgvm::std(x, a, k, 0, l); }, float64, {2, 4, 4, 4, 5, 5, 7, 9}, {8}, all_axes,
     false, float64, {}, {2}},
    {"sum", [](const Var& x, const Axes& a, bool k, std::source_location l) {
       return cgvm::std(x, a, k, 1, l); }, float32, M, {2, 3}, 1, false, float32, {2}, {1, 1}},
    // logsumexp: the max shift keeps large magnitudes finite; -inf rows give -inf
    {"max", FN(logsumexp), float32, {1000, 1000}, {2}, all_axes, false, float32, {},
     {1000 + std::log(2.0)}},
    {"max", FN(logsumexp), float64, {-1000, -1000, 1000, -1000}, {2, 2}, 1, false, float64,
     {2}, {-1000 + std::log(2.0), 1000}},
    {"max", FN(logsumexp), float32, {0, 0, -inf, -inf}, {2, 2}, -1, true, float32, {2, 1},
     {std::log(2.0), -inf}},
    {"max", FN(logsumexp), float64, {1, 2, 3}, {3}, 0, false, float64, {},
     {std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))}},
    {"max", FN(logsumexp), int32, {0, 0}, {2}, 0, false, float32, {}, {std::log(2.0)}},
    {"max", FN(logsumexp), float32, {inf, 0}, {2}, 0, false, float32, {}, {inf}},
};

void run_case(const Case& c, const Shape& declared) {
  Var x = tensor("x", c.in_dtype, declared);
  Var y = c.fn(x, c.axes, c.keepdims, std::source_location::current());
  std::set<std::string> names;
  collect_ops(y, names);
  CHECK(names.count(c.name) == 1);
  CHECK(dtype_name(y.dtype()) == dtype_name(c.out_dtype));
  CHECK(y.rank() == static_cast<int>(c.out_shape.size()));
  check_array(evaluate(y, {{x, make(c.in_dtype, c.in, c.in_shape)}}), c.out_dtype, c.out_shape,
              c.want);
}

}  // namespace

TEST_CASE("reduce: every row of the table, with static and unknown input sizes") {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    CAPTURE(i);
    CAPTURE(c.name);
    run_case(c, c.in_shape);
    // Static sizes give a fully static result type.
    Var xs = tensor("x", c.in_dtype, c.in_shape);
    CHECK(shape_str(c.fn(xs, c.axes, c.keepdims, std::source_location::current())
                        .static_shape()) == shape_str(c.out_shape));
    run_case(c, Shape(c.in_shape.size(), unknown_dim));
  }
}

TEST_CASE("reduce: static shapes of reductions over unknown sizes") {
  Var x = tensor("x", float32, {unknown_dim, 3, unknown_dim});
  CHECK(sum(x, 1).static_shape() == Shape{unknown_dim, unknown_dim});
  CHECK(sum(x, {0, 2}, true).static_shape() == Shape{1, 3, 1});
  CHECK(argmax(x, -1).static_shape() == Shape{unknown_dim, 3});
  CHECK(mean(x, 0).static_shape() == Shape{3, unknown_dim});
}

TEST_CASE("reduce: axes are normalised, so equivalent calls share one node") {
  Var x = matrix("x");
  CHECK(sum(x).same(sum(x, {0, 1})));
  CHECK(sum(x, {-1, 0}).same(sum(x, {1, 0})));
  CHECK(max(x, -1).same(max(x, 1)));
  CHECK(!sum(x, 0).same(sum(x, 0, true)));
  CHECK(sum(x, 1).node()->attrs().str() == "axes=[1], keepdims=false");
  CHECK(argmax(vector("v")).node()->attrs().str() == "axes=[0], keepdims=false");
  // Reducing no axis keeps x when the dtype stays; integer sums still widen.
  CHECK(sum(x, no_axes).same(x));
  CHECK(max(x, no_axes).same(x));
  CHECK(sum(matrix("i", int32), no_axes).dtype() == int64);
}

TEST_CASE("reduce: Var methods forward to the functions") {
  Var x = matrix("x");
  Array v = make(float32, M, {2, 3});
  check_array(evaluate(x.sum(), {{x, v}}), float32, {}, {21});
  check_array(evaluate(x.sum(0), {{x, v}}), float32, {3}, {5, 7, 9});
  check_array(evaluate(x.mean(), {{x, v}}), float32, {}, {3.5});
  check_array(evaluate(x.mean(1, true), {{x, v}}), float32, {2, 1}, {2, 5});
  check_array(evaluate(x.max(), {{x, v}}), float32, {}, {6});
  check_array(evaluate(x.max(-1), {{x, v}}), float32, {2}, {3, 6});
  check_array(evaluate(x.min(), {{x, v}}), float32, {}, {1});
  check_array(evaluate(x.min(0, true), {{x, v}}), float32, {1, 3}, {1, 2, 3});
  CHECK(x.sum().same(sum(x)));
}

TEST_CASE("reduce: strided and broadcast inputs") {
  Var x = matrix("x");
  // A transposed view: the reference kernel walks strides, not memory order.
  Array t = make(float32, M, {2, 3}).transpose();
  check_array(evaluate(sum(x, 1), {{x, t}}), float32, {3}, {5, 7, 9});
  check_array(evaluate(argmax(x), {{x, t}}), int64, {}, {5});
  Array reversed = make(int32, M, {2, 3}).slice(1, 2, -4, -1);  // [[3, 2, 1], [6, 5, 4]]
  Var xi = matrix("xi", int32);
  check_array(evaluate(argmin(xi, 1), {{xi, reversed}}), int64, {2}, {2, 2});
  check_array(evaluate(sum(xi, 0), {{xi, reversed}}), int64, {3}, {9, 7, 5});
}

TEST_CASE("reduce: mean counts symbolic sizes") {
  Var x = matrix("x");
  Var y = mean(x, 0);
  Array v = make(float32, {1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  check_array(evaluate(y, {{x, v}}), float32, {2}, {4, 5});
  check_array(evaluate(mean(x), {{x, v}}), float32, {}, {4.5});
  Var xd = tensor("xd", float64, {unknown_dim, 2});
  check_array(evaluate(var(xd, {0, 1}, false, 1), {{xd, v.astype(float64)}}), float64, {},
              {6.0});
}

TEST_CASE("reduce: user errors name the op, the axis, the type and the line") {
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(sum(x, 2), {"sum", "axis 2", "rank 2", "float32[2, 3]", file});
  CHECK_ERROR(prod(x, -3), {"prod", "axis -3", "float32[2, 3]", file});
  CHECK_ERROR(max(x, {0, -2}), {"max", "axis -2", "repeated", "float32[2, 3]",
                                file});
  CHECK_ERROR(all(x, {1, 1}), {"all", "repeated", file});
  CHECK_ERROR(argmax(x, {0, 1}), {"argmax", "one axis", "[0, 1]", "float32[2, 3]",
                                  file});
  CHECK_ERROR(argmin(x, 5), {"argmin", "axis 5", "float32[2, 3]", file});
  CHECK_ERROR(mean(x, 4), {"mean", "axis 4", "float32[2, 3]", file});
  CHECK_ERROR(var(x, 2), {"var", "axis 2", "float32[2, 3]", file});
  CHECK_ERROR(cgvm::std(x, {0, 0}), {"std", "repeated", file});
  CHECK_ERROR(logsumexp(x, -5), {"logsumexp", "axis -5", file});
  CHECK_ERROR(sum(Var(), 0), {"sum", "null", file});
}

TEST_CASE("reduce: max of an empty axis is an error, at build or run time") {
  Var e = tensor("e", float32, {2, 0});
  CHECK_ERROR(max(e, 1), {"max", "size 0", "float32[2, 0]", file});
  CHECK_ERROR(argmin(e), {"argmin", "size 0", "float32[2, 0]", file});
  // Reducing the other axis is fine: nothing to compare in an empty output.
  CHECK(max(e, 0).static_shape() == Shape{0});
  check_array(evaluate(max(e, 0), {{e, Array::zeros({2, 0})}}), float32, {0}, {});

  Var x = matrix("x");
  Array empty = Array::zeros({2, 0});
  CHECK_ERROR(evaluate(max(x, 1), {{x, empty}}),
              {"max", "empty", "float32[2, 0]", file});
  CHECK_ERROR(evaluate(min(x), {{x, empty}}), {"min", "empty", file});
  CHECK_ERROR(evaluate(argmax(x, 1), {{x, empty}}), {"argmax", "empty", file});
  CHECK_ERROR(evaluate(logsumexp(x, 1), {{x, empty}}), {"max", "empty", file});
  // Sum-like reductions give their identity instead.
  check_array(evaluate(sum(x, 1), {{x, empty}}), float32, {2}, {0, 0});
  check_array(evaluate(all(x, 1), {{x, empty}}), bool_, {2}, {1, 1});
}

TEST_CASE("reduce: hand-built nodes with malformed axes are rejected by inference") {
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(apply(ops::sum_op(), {x}, Attrs{{"axes", Ints{1, 0}}, {"keepdims", false}},
                    std::source_location::current()),
              {"sum", "sorted and unique", "float32[2, 3]", file});
  CHECK_ERROR(apply(ops::any_op(), {x}, Attrs{{"axes", Ints{2}}, {"keepdims", false}},
                    std::source_location::current()),
              {"any", "axis 2", "rank 2", file});
}

TEST_CASE("reduce: every reduce op of ops::all_ops() has a row in the table") {
  std::set<std::string> covered;
  for (const Case& c : cases) covered.insert(c.name);
  test::check_op_coverage(OpFamily::Reduce, covered);
}
