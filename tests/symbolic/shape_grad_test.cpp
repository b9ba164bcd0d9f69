// The shape family's gradients: every differentiable op against central differences
// (table-driven: -1 and symbolic sizes, broadcast and dropped axes, several axes), the
// compositions built on them (stack, split, repeat, tile), exact values where a gradient
// must be summed back, and second derivatives.
#include "shape_index_grad.hpp"

using namespace cgvm;
using namespace cgvm::test;

namespace {

Array f64(std::initializer_list<double> v, Shape shape) {
  return Array::from_list<double>(v, std::move(shape));
}

std::vector<GradRow> shape_rows() {
  using V = const std::vector<Var>&;
  return {
      {"reshape", "matrix to another matrix", {{3, 4}}, [](V p) { return reshape(p[0], {4, 3}); }},
      {"reshape", "-1 infers a size", {{2, 6}}, [](V p) { return reshape(p[0], {3, -1, 2}); }},
      {"reshape", "symbolic sizes", {{3, 4}},
       [](V p) { return reshape(p[0], {p[0].shape(1), p[0].shape(0)}); }},
      {"reshape", "a symbolic product and -1", {{2, 3, 4}},
       [](V p) { return reshape(p[0], {-1, mul(p[0].shape(1), p[0].shape(2))}); }},
      {"reshape", "a one-element vector to a scalar", {{1}},
       [](V p) { return reshape(p[0], {}); }},
      {"reshape", "flatten(ndim 2)", {{2, 3, 4}}, [](V p) { return flatten(p[0], 2); }},

      {"dimshuffle", "transpose", {{3, 4}}, [](V p) { return p[0].T(); }},
      {"dimshuffle", "rank-3 permutation", {{2, 3, 4}},
       [](V p) { return dimshuffle(p[0], {2, 0, 1}); }},
      {"dimshuffle", "new axes around swapped ones", {{2, 3}},
       [](V p) { return dimshuffle(p[0], {-1, 1, -1, 0}); }},
      {"dimshuffle", "drops a broadcastable axis", {{3, 4}},
       [](V p) { return dimshuffle(expand_dims(p[0], 1), {2, 0}); }},
      {"dimshuffle", "row broadcast against a matrix", {{3}, {4, 3}},
       [](V p) { return dimshuffle(p[0], {-1, 0}) * p[1]; }},
      {"dimshuffle", "column broadcast against a matrix", {{4}, {4, 3}},
       [](V p) { return expand_dims(p[0], 1) * p[1]; }},

      {"broadcast_to", "vector to matrix (a leading dim)", {{3}},
       [](V p) { return broadcast_to(p[0], {4, p[0].shape(0)}); }},
      {"broadcast_to", "a column stretched", {{3}},
       [](V p) { return broadcast_to(expand_dims(p[0], 1), {p[0].shape(0), 5}); }},
      {"broadcast_to", "a row stretched, plus a leading dim", {{3}},
       [](V p) { return broadcast_to(expand_dims(p[0], 0), {2, 4, p[0].shape(0)}); }},
      {"broadcast_to", "a size-1 dim that stays 1", {{3}},
       [](V p) { return broadcast_to(expand_dims(p[0], 0), {1, p[0].shape(0)}); }},
      {"broadcast_to", "a scalar", {{}}, [](V p) { return broadcast_to(p[0], {2, 3}); }},
      {"broadcast_to", "ones_like times x", {{2, 3}}, [](V p) { return ones_like(p[0]) * p[0]; }},

      {"concatenate", "axis 0", {{2, 3}, {4, 3}},
       [](V p) { return concatenate({p[0], p[1]}, 0); }},
      {"concatenate", "three parts on axis 1", {{2, 1}, {2, 3}, {2, 2}},
       [](V p) { return concatenate({p[0], p[1], p[2]}, 1); }},
      {"concatenate", "rank 3 on the last axis", {{2, 3, 1}, {2, 3, 2}},
       [](V p) { return concatenate({p[0], p[1]}, -1); }},
      {"concatenate", "one input twice", {{3}},
       [](V p) { return concatenate({p[0], p[0] * p[0]}, 0); }},

      // Compositions: each row names a primitive its graph must contain.
      {"concatenate", "stack on a middle axis", {{3, 2}, {3, 2}},
       [](V p) { return stack({p[0], p[1], p[0]}, 1); }},
      {"concatenate", "split, then joined in another order", {{6, 2}},
       [](V p) {
         auto s = split(p[0], {1, 2, 3}, 0);
         return concatenate({s[2], s[0] * 2, s[1]}, 0);
       }},
      {"concatenate", "split with symbolic sizes", {{5, 2}},
       [](V p) {
         auto s = split(p[0], {2, p[0].shape(0) - 2}, 0);
         return concatenate({s[1] * s[1], s[0]}, 0);
       }},
      {"broadcast_to", "repeat on axis 0", {{3, 2}}, [](V p) { return repeat(p[0], 3, 0); }},
      {"broadcast_to", "repeat on axis 1", {{3, 2}}, [](V p) { return repeat(p[0], 2, 1); }},
      {"broadcast_to", "tile with a new leading axis", {{2, 3}},
       [](V p) { return tile(p[0], {2, 1, 3}); }},
      {"reshape", "stack, split, repeat, tile chained", {{2, 3}, {2, 3}},
       [](V p) {
         Var s = stack({p[0], p[1] * p[0]}, 0);  // [2, 2, 3]
         auto halves = split(repeat(s, 2, 2), {2, 4}, 2);  // [2, 2, 2], [2, 2, 4]
         return tile(halves[0], {1, 2}) * halves[1];
       }},
  };
}

// Ops of the family whose outputs are int64: they never receive a gradient.
const std::set<std::string> shape_ops_without_gradient = {"shape_of", "make_vector"};

}  // namespace

TEST_CASE("shape ops: gradients match central differences") { check_rows(shape_rows()); }

TEST_CASE("shape ops: every op has a gradient row or takes no gradient") {
  check_op_coverage(OpFamily::Shape, covered_ops(shape_rows()), shape_ops_without_gradient,
                    /*require_grad=*/true);
}

TEST_CASE("broadcast_to and dimshuffle sum back to static size-1 axes") {
  Var x = tensor("x", float64, {1, 3});
  Var w = tensor("w", float64, {4, 3});
  Array wv = Array::arange(12, float64).reshape({4, 3});
  Var gx = grad(sum(broadcast_to(x, {4, 3}) * w), x);
  CHECK(gx.type().str() == "float64[1, 3]");
  CHECK(allclose(evaluate(gx, {{x, Array::zeros({1, 3}, float64)}, {w, wv}}),
                 f64({18, 22, 26}, {1, 3})));

  // x's dropped axis comes back with size 1.
  Var y = tensor("y", float64, {2, 1, 3});
  Var gy = grad(sum(dimshuffle(y, {2, 0}) * w(slice(0, 3), slice(0, 2))), y);
  CHECK(gy.type().str() == "float64[2, 1, 3]");
  CHECK(allclose(evaluate(gy, {{y, Array::zeros({2, 1, 3}, float64)}, {w, wv}}),
                 f64({0, 3, 6, 1, 4, 7}, {2, 1, 3})));
}

TEST_CASE("dimshuffle: a known gradient that does not know its inserted axis has size 1") {
  Var x = vector("x", float64);
  Var y = dimshuffle(x, {-1, 0});
  Var gy = matrix("gy", float64);
  Var gx = grad(Var(), x, {.known_grads = {{y, gy}}});
  CHECK(gx.type().str() == "float64[?]");
  CHECK(allclose(evaluate(gx, {{x, Array::zeros({3}, float64)}, {gy, f64({1, 2, 3}, {1, 3})}}),
                 f64({1, 2, 3}, {3})));
}

TEST_CASE("reshape and concatenate keep symbolic shapes in the gradient") {
  // Unknown sizes: the gradient is reshaped back with x.shape(i), not a baked-in size.
  Var x = matrix("x", float64);
  Var gx = grad(sum(reshape(x, {-1}) * reshape(x, {-1})), x);
  CHECK(gx.type().str() == "float64[?, ?]");
  Array xv = Array::arange(6, float64).reshape({2, 3});
  CHECK(allclose(evaluate(gx, {{x, xv}}), Array::arange(0, 12, 2, float64).reshape({2, 3})));
  CHECK(allclose(evaluate(gx, {{x, xv.reshape({3, 2})}}),
                 Array::arange(0, 12, 2, float64).reshape({3, 2})));

  Var a = matrix("a", float64), b = matrix("b", float64);
  auto g = grad(sum(concatenate({a, b * b}, 1)), {a, b});
  Array av = Array::ones({2, 1}, float64), bv = Array::arange(4, float64).reshape({2, 2});
  CHECK(allclose(evaluate(g[0], {{a, av}, {b, bv}}), Array::ones({2, 1}, float64)));
  CHECK(allclose(evaluate(g[1], {{a, av}, {b, bv}}), f64({0, 2, 4, 6}, {2, 2})));
}

TEST_CASE("shape ops: second derivatives") {
  // sum(concatenate(x, x^2)^2) = sum(x^2 + x^4): first 2x + 4x^3, then 2 + 12x^2.
  Var x = vector("x", float64);
  Var g = grad(sum(sqr(concatenate({x, x * x}, 0))), x);
  Var g2 = grad(sum(g), x);
  Array xv = f64({0.5, -1, 2}, {3});
  CHECK(allclose(evaluate(g, {{x, xv}}), f64({1 + 0.5, -2 - 4, 4 + 32}, {3})));
  CHECK(allclose(evaluate(g2, {{x, xv}}), f64({2 + 3, 2 + 12, 2 + 48}, {3})));

  // Through reshape, transpose and broadcast_to: c = 3 * sum(x^3), so H = diag(18 x).
  Var v = tensor("v", float64, {6});
  Var t = reshape(v, {2, 3}).T();
  Var cube = sum(broadcast_to(t * t * t, {3, 3, 2}));
  Array h = evaluate(hessian(cube, v), {{v, Array::arange(6, float64)}});
  Array expected = Array::zeros({6, 6}, float64);
  for (int i = 0; i < 6; ++i) expected.index(0, i).index(0, i).assign(Array::scalar(18.0 * i));
  CHECK(allclose(h, expected));
}
