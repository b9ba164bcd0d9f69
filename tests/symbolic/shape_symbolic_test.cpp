// The shape family's symbolic side: static sizes folded to constants, shape(x)[i], ops that
// change nothing returning their input, views, and split (several outputs).
#include "cgvm.hpp"
#include "symbolic/op_def.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
Array seq(const Shape& shape, DType dtype = float32) {
  return Array::arange(shape_size(shape), dtype).reshape(shape);
}
template <class T>
Array arr(std::initializer_list<T> values, Shape shape = {}) {
  return Array::from_list<T>(values, std::move(shape));
}
}  // namespace

TEST_CASE("static sizes fold to constants") {
  Var x = tensor("x", float32, {unknown_dim, 3});
  CHECK(is_constant(x.shape(1)));
  CHECK(constant_int(x.shape(1)) == 3);
  CHECK(constant_int(x.shape(-1)) == 3);
  CHECK_FALSE(is_constant(x.shape(0)));
  CHECK(x.shape(0).node()->op().name == "shape_of");
  CHECK(x.shape(0).same(x.shape(-2)));  // canonical axis, one node

  Var s = tensor("s", int8, {2, 3});
  Var sv = shape(s);
  REQUIRE(is_constant(sv));
  CHECK(array_equal(*constant_value(sv), arr<std::int64_t>({2, 3})));
  CHECK(is_constant(make_vector({1, 2})));
  CHECK(make_vector({}).type().str() == "int64[0]");
}

TEST_CASE("shape(x)[i] indexes the symbolic shape") {
  Var x = tensor("x", float32, {unknown_dim, 3, unknown_dim});
  Array xv = seq({2, 3, 4});
  CHECK(evaluate(shape(x)[0], {{x, xv}}).item<std::int64_t>() == 2);
  CHECK(evaluate(shape(x)[1], {{x, xv}}).item<std::int64_t>() == 3);
  CHECK(evaluate(shape(x)[-1], {{x, xv}}).item<std::int64_t>() == 4);
  // Sizes used in arithmetic, then as a target shape.
  Var y = reshape(x, {shape(x)[0] * shape(x)[1], x.shape(2)});
  CHECK(y.type().str() == "float32[?, ?]");
  CHECK(array_equal(evaluate(y, {{x, xv}}), seq({6, 4})));
}

TEST_CASE("ops that change nothing return their input") {
  Var x = matrix("x"), s = tensor("s", float32, {2, 3});
  CHECK(reshape(x, {x.shape(0), x.shape(1)}).same(x));
  CHECK(reshape(s, {2, 3}).same(s));
  CHECK(x.dimshuffle({0, 1}).same(x));
  Var v = vector("v");
  CHECK(transpose(v).same(v));
  CHECK(broadcast_to(s, {2, 3}).same(s));
  CHECK(broadcast_to(x, {x.shape(0), x.shape(1)}).same(x));
  CHECK(concatenate({x}).same(x));
  CHECK(repeat(x, 1, 0).same(x));
  CHECK(tile(x, {1, 1}).same(x));
  CHECK(squeeze(s).same(s));
  CHECK(flatten(s, 2).same(s));
  // ... and the same call twice is the same node.
  CHECK(reshape(s, {3, -1}).same(reshape(s, {3, -1})));
  CHECK_FALSE(reshape(s, {3, 2}).same(s));
}

TEST_CASE("reshape and broadcast_to results are views where they can be") {
  Var x = tensor("x", float32, {2, 3});
  Array xv = seq({2, 3});
  CHECK(evaluate(reshape(x, {3, 2}), {{x, xv}}).shares_storage(xv));
  CHECK(evaluate(x.T(), {{x, xv}}).shares_storage(xv));
  CHECK(evaluate(broadcast_to(x, {4, 2, 3}), {{x, xv}}).shares_storage(xv));
}

TEST_CASE("split into static and symbolic pieces") {
  Var x = vector("x", int32);
  std::vector<Var> parts = split(x, {1, 2});
  REQUIRE(parts.size() == 2);
  Array xv = arr<std::int32_t>({5, 6, 7});
  CHECK(array_equal(evaluate(parts[0], {{x, xv}}), arr<std::int32_t>({5})));
  CHECK(array_equal(evaluate(parts[1], {{x, xv}}), arr<std::int32_t>({6, 7})));

  Var m = tensor("m", float64, {2, 5});
  parts = split(m, {2, 0, 3}, -1);
  REQUIRE(parts.size() == 3);
  Array mv = seq({2, 5}, float64);
  CHECK(array_equal(evaluate(parts[0], {{m, mv}}), arr<double>({0, 1, 5, 6}, {2, 2})));
  CHECK(evaluate(parts[1], {{m, mv}}).shape() == Shape{2, 0});
  CHECK(array_equal(evaluate(parts[2], {{m, mv}}), arr<double>({2, 3, 4, 7, 8, 9}, {2, 3})));

  Var n = scalar("n", int64);
  parts = split(x, {n, 2});
  Array xv5 = arr<std::int32_t>({1, 2, 3, 4, 5});
  Array nv = Array::scalar<std::int64_t>(3);
  CHECK(array_equal(evaluate(parts[0], {{x, xv5}, {n, nv}}), arr<std::int32_t>({1, 2, 3})));
  CHECK(array_equal(evaluate(parts[1], {{x, xv5}, {n, nv}}), arr<std::int32_t>({4, 5})));
  // The pieces join back.
  CHECK(array_equal(evaluate(concatenate(parts), {{x, xv5}, {n, nv}}), xv5));
}
