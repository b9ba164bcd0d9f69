// The index family's updates: set_subtensor / inc_subtensor on slices, integers and
// advanced indices (inc_subtensor and inc_take nodes), y's broadcasting and dtype, and their
// user errors at build and run time.
#include "index_helpers.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using namespace cgvm::test;

TEST_CASE("set_subtensor and inc_subtensor on slices") {
  const Var x = vector("x");
  const Array zeros = Array::zeros({5});
  const Var y = vector("y");
  const Var s = set_subtensor(x(slice(1, 3)), y);
  CHECK(s.node()->op().name == "inc_subtensor");
  CHECK(s.type().str() == "float32[?]");
  check_array(evaluate(s, {{x, zeros}, {y, Array::from_list<float>({7, 8})}}), {5},
              {0, 7, 8, 0, 0});
  // The input value is not modified.
  CHECK(zeros.to_double_vector() == Values{0, 0, 0, 0, 0});

  // A scalar y broadcasts; a float64 y is cast to x's dtype.
  const Var inc = inc_subtensor(x(slice(none, none, 2)), constant(1.5, float64));
  CHECK(inc.dtype() == float32);
  check_array(evaluate(inc, {{x, iota({5})}}), {5}, {1.5, 1, 3.5, 3, 5.5});
  check_array(evaluate(set_subtensor(x(-1), constant(9.0, float32)), {{x, iota({5})}}), {5},
              {0, 1, 2, 3, 9});
  check_array(evaluate(set_subtensor(x(slice()), constant(2.0, float32)), {{x, iota({3})}}), {3},
              {2, 2, 2});

  const Var m = tensor("m", int32, {3, 4});
  const Array mv = iota({3, 4}, int32);
  // A row vector into a row; a [3, 1] column broadcasting over a [3, 2] region.
  const Var row = set_subtensor(m(1), constant(ints({-1, -2, -3, -4})));
  check_array(evaluate(row, {{m, mv}}), {3, 4}, {0, 1, 2, 3, -1, -2, -3, -4, 8, 9, 10, 11});
  const Var col = tensor("col", int32, {3, 1});
  const Var block = inc_subtensor(m(slice(), slice(2, none)), col);
  const Array colv = Array::from_list<std::int32_t>({100, 200, 300}, {3, 1});
  check_array(evaluate(block, {{m, mv}, {col, colv}}), {3, 4},
              {0, 1, 102, 103, 4, 5, 206, 207, 8, 9, 310, 311});
  // Symbolic index and negative step.
  const Var i = scalar("i", int64);
  const Var sym = set_subtensor(m(i, slice(none, none, -1)), constant(ints({1, 2, 3, 4})));
  check_array(evaluate(sym, {{m, mv}, {i, Array::scalar<std::int64_t>(-1)}}), {3, 4},
              {0, 1, 2, 3, 4, 5, 6, 7, 4, 3, 2, 1});
}

TEST_CASE("set_subtensor and inc_subtensor on take: repeated indices") {
  const Var x = vector("x");
  const Var idx = vector("idx", int64);
  const Var y = vector("y");
  const Bindings b = {{x, Array::zeros({3})}, {idx, ints({0, 0, 2})},
                      {y, Array::from_list<float>({1, 2, 3})}};
  // inc adds every occurrence; set keeps the last one in index order.
  const Var inc = inc_subtensor(x(idx), y);
  CHECK(inc.node()->op().name == "inc_take");
  check_array(evaluate(inc, b), {3}, {3, 0, 3});
  check_array(evaluate(set_subtensor(x(idx), y), b), {3}, {2, 0, 3});

  // Rows of a matrix, on axis 1, and through a basic view (written back into m).
  const Var m = tensor("m", float32, {3, 2});
  const Array mv = iota({3, 2});
  const Var twice = inc_subtensor(m(constant(ints({2, 2}))), constant(10.0, float32));
  check_array(evaluate(twice, {{m, mv}}), {3, 2}, {0, 1, 2, 3, 24, 25});
  check_array(evaluate(set_subtensor(take(m, constant(ints({1})), 1), constant(-1.0, float32)),
                       {{m, mv}}),
              {3, 2}, {0, -1, 2, -1, 4, -1});
  const Var through =
      set_subtensor(m(slice(1, none), constant(ints({0}))), constant(7.0, float32));
  CHECK(through.type().str() == "float32[3, 2]");
  check_array(evaluate(through, {{m, mv}}), {3, 2}, {0, 1, 7, 3, 7, 5});
}


TEST_CASE("updates keep x's dtype") {
  // A float64 y into an int32 x is cast (truncated) first, as Theano does.
  const Var x = tensor("x", int32, {4});
  const Var idx = constant(ints({3, 3, 0}));
  const Var inc = inc_subtensor(x(idx), constant(2.7, float64));
  CHECK(inc.type().str() == "int32[4]");
  const Array v = evaluate(inc, {{x, iota({4}, int32)}});
  CHECK(v.dtype() == int32);
  check_array(v, {4}, {2, 1, 2, 7});
  // int8 increments wrap like numpy's.
  const Var b = tensor("b", int8, {2});
  check_array(evaluate(inc_subtensor(b(0), constant(100.0, int8)),
                       {{b, Array::from_list<std::int8_t>({100, 1})}}),
              {2}, {-56, 1});
  // bool set.
  const Var f = tensor("f", bool_, {3});
  check_array(evaluate(set_subtensor(f(slice(1, none)), constant(1.0, bool_)),
                       {{f, Array::zeros({3}, bool_)}}),
              {3}, {0, 1, 1});
}

TEST_CASE("update errors at build time") {
  const std::string file = this_file();
  const Var x = tensor("x", float32, {3, 4});
  CHECK_ERROR(set_subtensor(x, x), {"set_subtensor", "the first argument must be an indexing "
                                    "expression such as x(slice(1, 3))", "float32[3, 4]",
                                    file.c_str()});
  CHECK_ERROR(inc_subtensor(x * 2, x), {"inc_subtensor", "must be an indexing expression",
                                        file.c_str()});
  // numpy moves the index dims to the front here; writing through that is not supported.
  const Var t = tensor("t", float32, {2, 3, 4});
  CHECK_ERROR(set_subtensor(t(0, slice(), vector("i", int64)), constant(0.0, float32)),
              {"set_subtensor", "indexing expression", file.c_str()});
  CHECK_ERROR(set_subtensor(x(0), tensor("y", float32, {3})),
              {"inc_subtensor", "y float32[3] does not broadcast to the indexed region float32[4]",
               file.c_str()});
  CHECK_ERROR(set_subtensor(x(0), matrix("y")),
              {"inc_subtensor", "y float32[?, ?] has more dimensions than the indexed region "
               "float32[4]", file.c_str()});
  CHECK_ERROR(inc_subtensor(x(vector("i", int64)), tensor("y", float32, {2, 5})),
              {"inc_take", "does not broadcast to the indexed region float32[?, 4]",
               file.c_str()});
  CHECK_ERROR(set_subtensor(x(0), Var()), {"set_subtensor", "null Var", file.c_str()});
}

TEST_CASE("update errors at run time") {
  const std::string file = this_file();
  const Var x = matrix("x");
  const Array xv = iota({3, 4});
  const Var y = vector("y");
  CHECK_ERROR(evaluate(set_subtensor(x(0), y), {{x, xv}, {y, Array::zeros({3})}}),
              {"inc_subtensor", "y of shape [3] does not match the indexed region of shape [4]",
               file.c_str()});
  // Theano's model: an unknown dim that turns out to be 1 does not broadcast.
  CHECK_ERROR(evaluate(set_subtensor(x(0), y), {{x, xv}, {y, Array::zeros({1})}}),
              {"inc_subtensor", "y of shape [1] does not match", file.c_str()});
  const Var idx = vector("idx", int64);
  CHECK_ERROR(evaluate(inc_subtensor(x(idx), y),
                       {{x, xv}, {idx, ints({7})}, {y, Array::zeros({4})}}),
              {"inc_take", "index 7 is out of bounds for axis 0 with size 3", file.c_str()});
  CHECK_ERROR(evaluate(inc_subtensor(x(idx), y),
                       {{x, xv}, {idx, ints({0, 1})}, {y, Array::zeros({3})}}),
              {"inc_take", "y of shape [3] does not match the indexed region of shape [2, 4]",
               file.c_str()});
}
