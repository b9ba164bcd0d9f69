// The index family's gradients: every differentiable op against central differences
// (table-driven: slices with negative steps, integers, newaxis, symbolic bounds, gathers
// with repeated and negative indices, set and inc updates with broadcast y), exact values
// for embedding lookups and overwritten regions, and second derivatives.
#include "shape_index_grad.hpp"

using namespace cgvm;
using namespace cgvm::test;

namespace {

Array f64(std::initializer_list<double> v, Shape shape) {
  return Array::from_list<double>(v, std::move(shape));
}
Var int_constant(std::initializer_list<std::int64_t> v, Shape shape) {
  return constant(Array::from_list<std::int64_t>(v, std::move(shape)));
}
// [0, 1, 0, 1]: repeated indices that are not a constant (so no static shortcut applies).
Var computed_repeats() { return mod(arange(4), 2); }

std::vector<GradRow> index_rows() {
  using V = const std::vector<Var>&;
  return {
      {"subtensor", "a slice", {{5}}, [](V p) { return p[0](slice(1, 3)); }},
      {"subtensor", "an integer drops the axis", {{4, 3}}, [](V p) { return p[0](1); }},
      {"subtensor", "a negative step", {{6}},
       [](V p) { return p[0](slice(none, none, -2)); }},
      {"subtensor", "a slice and a negative integer on a second axis", {{4, 5}},
       [](V p) { return p[0](slice(1, none), -1); }},
      {"subtensor", "newaxis", {{3, 4}}, [](V p) { return p[0](newaxis, slice(0, 2)); }},
      {"subtensor", "a symbolic integer", {{4, 3}},
       [](V p) { return p[0](p[0].shape(0) - 1); }},
      {"subtensor", "symbolic slice bounds", {{6, 2}},
       [](V p) { return p[0](slice(1, p[0].shape(0) - 1), slice(none, none, -1)); }},
      {"subtensor", "overlapping slices of one input", {{5}},
       [](V p) { return p[0](slice(0, 3)) * p[0](slice(2, 5)); }},

      {"take", "repeated indices", {{5}},
       [](V p) { return take(p[0], int_constant({4, 0, 4, 2}, {4})); }},
      {"take", "a matrix of indices on axis 1", {{3, 4}},
       [](V p) { return take(p[0], int_constant({0, 3, 3, 1}, {2, 2}), 1); }},
      {"take", "negative indices", {{4, 2}},
       [](V p) { return take(p[0], int_constant({-1, 0, -1}, {3}), 0); }},
      {"take", "computed repeated indices", {{3, 2}},
       [](V p) { return take(p[0], computed_repeats(), 0); }},
      {"take", "an embedding lookup, weighted", {{5, 3}, {2, 2, 3}},
       [](V p) { return p[0](int_constant({1, 1, 4, 0}, {2, 2})) * p[1]; }},
      {"take", "x(slice, indices): a gather from a view", {{5, 4}},
       [](V p) { return p[0](slice(1, 4), int_constant({0, 2, 0}, {3})); }},

      {"inc_subtensor", "set_subtensor on a slice", {{5}, {2}},
       [](V p) { return set_subtensor(p[0](slice(1, 3)), p[1]); }},
      {"inc_subtensor", "inc_subtensor on a slice", {{5}, {2}},
       [](V p) { return inc_subtensor(p[0](slice(1, 3)), p[1]); }},
      {"inc_subtensor", "set: a vector y broadcast over rows", {{4, 3}, {3}},
       [](V p) { return set_subtensor(p[0](slice(1, 3)), p[1]); }},
      {"inc_subtensor", "inc: a column y broadcast over a block", {{4, 3}, {4}},
       [](V p) { return inc_subtensor(p[0](slice(), slice(1, none)), expand_dims(p[1], 1)); }},
      {"inc_subtensor", "inc: an integer and a negative step", {{4, 3}, {3}},
       [](V p) { return inc_subtensor(p[0](1, slice(none, none, -1)), p[1] * p[1]); }},
      {"inc_subtensor", "set: symbolic bounds", {{5}, {2}},
       [](V p) { return set_subtensor(p[0](slice(p[0].shape(0) - 2, none)), p[1]); }},
      {"inc_subtensor", "set: y computed from x", {{5}},
       [](V p) { return set_subtensor(p[0](slice(0, 2)), p[0](slice(3, 5)) * p[0](slice(2, 4))); }},

      {"inc_take", "set with distinct indices", {{5}, {2}},
       [](V p) { return set_subtensor(p[0](int_constant({3, 1}, {2})), p[1]); }},
      {"inc_take", "set with repeated indices: the last write wins", {{5}, {3}},
       [](V p) { return set_subtensor(p[0](int_constant({1, 3, 1}, {3})), p[1]); }},
      {"inc_take", "set with computed repeated indices on axis 1", {{3, 2}, {3, 4}},
       [](V p) { return set_subtensor(p[0](slice(), computed_repeats()), p[1]); }},
      {"inc_take", "inc with repeated indices", {{5}, {3}},
       [](V p) { return inc_subtensor(p[0](int_constant({1, 3, 1}, {3})), p[1]); }},
      {"inc_take", "set: a column y broadcast along rows", {{4, 3}, {2}},
       [](V p) {
         return set_subtensor(p[0](int_constant({2, 0}, {2})), expand_dims(p[1], 1));
       }},
      {"inc_take", "set through a view: x(slice, indices)", {{5, 4}, {3, 2}},
       [](V p) { return set_subtensor(p[0](slice(1, 4), int_constant({3, 0}, {2})), p[1]); }},

      // start and step are kept inside (0.2, 0.8) by the affine map: far from a change of
      // length, where the output is not differentiable.
      {"arange", "float start and step", {{}, {}},
       [](V p) {
         return arange(p[0] * 0.3 + 0.5, 6, p[1] * 0.3 + 0.5, p[0].dtype());
       }},
  };
}

// Every op of the family takes a gradient (an integer arange never receives one, but a
// float arange does and has a row above), so this list is empty.
const std::set<std::string> index_ops_without_gradient = {};

}  // namespace

TEST_CASE("index ops: gradients match central differences") { check_rows(index_rows()); }

TEST_CASE("index ops: every op has a gradient row or takes no gradient") {
  check_op_coverage(OpFamily::Index, covered_ops(index_rows()), index_ops_without_gradient,
                    /*require_grad=*/true);
}

TEST_CASE("embedding lookup: a row used twice gets the sum of both gradients") {
  Var w = matrix("w", float64);
  Var up = matrix("up", float64);
  Var rows = w(int_constant({1, 3, 1}, {3}));
  Var gw = grad(sum(rows * up), w);
  Array upv = f64({1, 2, 10, 20, 100, 200}, {3, 2});
  CHECK(allclose(evaluate(gw, {{w, Array::zeros({4, 2}, float64)}, {up, upv}}),
                 f64({0, 0, 101, 202, 0, 0, 10, 20}, {4, 2})));
}

TEST_CASE("set_subtensor: the overwritten region passes the gradient to y only") {
  Var x = vector("x", float64), y = vector("y", float64), w = vector("w", float64);
  Array wv = f64({1, 2, 3, 4, 5}, {5});
  Bindings at{{x, Array::zeros({5}, float64)}, {y, Array::zeros({2}, float64)}, {w, wv}};
  auto g = grad(sum(set_subtensor(x(slice(1, 3)), y) * w), {x, y});
  CHECK(allclose(evaluate(g[0], at), f64({1, 0, 0, 4, 5}, {5})));
  CHECK(allclose(evaluate(g[1], at), f64({2, 3}, {2})));
  auto gi = grad(sum(inc_subtensor(x(slice(1, 3)), y) * w), {x, y});
  CHECK(allclose(evaluate(gi[0], at), wv));

  // Repeated indices in "set": the last write of slot 0 wins, the first gets nothing.
  at[1].second = Array::zeros({3}, float64);
  auto gr = grad(sum(set_subtensor(x(int_constant({0, 2, 0}, {3})), y) * w), {x, y});
  CHECK(allclose(evaluate(gr[0], at), f64({0, 2, 0, 4, 5}, {5})));
  CHECK(allclose(evaluate(gr[1], at), f64({0, 3, 1}, {3})));
  // In "inc" every write reaches the output.
  auto ga = grad(sum(inc_subtensor(x(int_constant({0, 2, 0}, {3})), y) * w), y);
  CHECK(allclose(evaluate(ga, at), f64({1, 3, 1}, {3})));
}

TEST_CASE("index gradients: index inputs get none, types and dtypes are kept") {
  Var x = matrix("x");
  Var i = scalar("i", int64);
  Var gx = grad(sum(x(i, slice(1, none))), x);
  CHECK(gx.type().str() == "float32[?, ?]");
  Array xv = Array::zeros({3, 3});
  CHECK(array_equal(evaluate(gx, {{x, xv}, {i, Array::scalar<std::int64_t>(-1)}}),
                    Array::from_list<float>({0, 0, 0, 0, 0, 0, 0, 1, 1}, {3, 3})));
  Var idx = vector("idx", int64);
  CHECK_ERROR(grad(sum(x(idx)), idx), {"grad", "'idx'", "not differentiable"});
}

TEST_CASE("arange: start gets sum(g), step gets sum(g * i)") {
  Var start = scalar("start", float64), step = scalar("step", float64);
  Var w = vector("w", float64);
  auto g = grad(sum(arange(start, 4, step, float64) * w), {start, step});
  Bindings at{{start, Array::scalar(0.5)}, {step, Array::scalar(1.0)}, {w, f64({1, 2, 3, 4}, {4})}};
  CHECK(evaluate(g[0], at).item<double>() == doctest::Approx(10));
  CHECK(evaluate(g[1], at).item<double>() == doctest::Approx(0 + 2 + 6 + 12));
}

TEST_CASE("index ops: second derivatives") {
  // sum(take(x, [0, 2, 2])^3) = x0^3 + 2 x2^3: first [3x0^2, 0, 6x2^2], then [6x0, 0, 12x2].
  Var x = vector("x", float64);
  Var g = grad(sum(take(x, int_constant({0, 2, 2}, {3})) * x(int_constant({0, 2, 2}, {3})) *
                   take(x, int_constant({0, 2, 2}, {3}))),
               x);
  Array xv = f64({2, 5, -1}, {3});
  CHECK(allclose(evaluate(g, {{x, xv}}), f64({12, 0, 6}, {3})));
  CHECK(allclose(evaluate(grad(sum(g), x), {{x, xv}}), f64({12, 0, -12}, {3})));

  // out = set_subtensor(x[0:2], x[1:3]^2) = [x1^2, x2^2, x2]; sum(out^2) = x1^4 + x2^4 + x2^2:
  // first [0, 4x1^3, 4x2^3 + 2x2], then [0, 12x1^2, 12x2^2 + 2].
  Var s = set_subtensor(x(slice(0, 2)), x(slice(1, 3)) * x(slice(1, 3)));
  Var gs = grad(sum(s * s), x);
  CHECK(allclose(evaluate(gs, {{x, xv}}), f64({0, 500, -6}, {3})));
  CHECK(allclose(evaluate(grad(sum(gs), x), {{x, xv}}), f64({0, 300, 14}, {3})));
}
