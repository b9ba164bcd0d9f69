// The index family: basic slicing (tables checked by hand against numpy's rules), symbolic
// bounds, static types, take and advanced indices, arange and one_hot. Updates are in
// index_update_test.cpp, user errors in index_errors_test.cpp. The last test fails when an
// index op of ops::all_ops() has no row in the op table.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "index_helpers.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using namespace cgvm::test;

namespace {

struct SliceCase {
  std::vector<Index> index;
  Shape shape;        // of the result
  Values values;      // of the result, row-major
  std::string type;   // static type when x has static sizes
};

// Runs every case on x = iota(x_shape) given as a static-shape input and as one with all
// dims unknown; the static type must be exact in the first case.
void run_slice_cases(const Shape& x_shape, const std::vector<SliceCase>& cases) {
  const Array value = iota(x_shape);
  const Var x_static = tensor("x", float32, x_shape);
  const Var x_unknown = tensor("x", float32, Shape(x_shape.size(), unknown_dim));
  for (const SliceCase& c : cases) {
    INFO("case with expected shape " << shape_str(c.shape) << " type " << c.type);
    const Var y = subtensor(x_static, c.index);
    CHECK(y.type().str() == c.type);
    check_array(evaluate(y, {{x_static, value}}), c.shape, c.values);
    const Var z = subtensor(x_unknown, c.index);
    CHECK(z.rank() == static_cast<int>(c.shape.size()));
    check_array(evaluate(z, {{x_unknown, value}}), c.shape, c.values);
  }
}

// The op names in the graph of y.
void collect_ops(const Var& y, std::set<std::string>& names) {
  names.insert(std::string(y.node()->op().name));
  for (const Var& in : y.node()->inputs()) collect_ops(in, names);
}

}  // namespace

TEST_CASE("subtensor: 1-d slices, integers and newaxis") {
  run_slice_cases({10}, {
      {{slice(2, 5)}, {3}, {2, 3, 4}, "float32[3]"},
      {{slice(-3)}, {3}, {7, 8, 9}, "float32[3]"},
      {{slice(none, 3)}, {3}, {0, 1, 2}, "float32[3]"},
      {{slice(none, none, -1)}, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, "float32[10]"},
      {{slice(8, 2, -2)}, {3}, {8, 6, 4}, "float32[3]"},
      {{slice(-2, -8, -3)}, {2}, {8, 5}, "float32[2]"},
      {{slice(1, none, 4)}, {3}, {1, 5, 9}, "float32[3]"},
      {{slice(20, 30)}, {0}, {}, "float32[0]"},
      {{slice(5, 2)}, {0}, {}, "float32[0]"},
      {{slice(-100, 3)}, {3}, {0, 1, 2}, "float32[3]"},
      {{slice(none, -100, -1)}, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, "float32[10]"},
      {{slice(100, 7, -1)}, {2}, {9, 8}, "float32[2]"},
      {{slice()}, {10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "float32[10]"},
      {{3}, {}, {3}, "float32[]"},
      {{-1}, {}, {9}, "float32[]"},
      {{newaxis}, {1, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "float32[1, 10]"},
      {{slice(1, 3), newaxis}, {2, 1}, {1, 2}, "float32[2, 1]"},
      {{newaxis, 4, newaxis}, {1, 1}, {4}, "float32[1, 1]"},
  });
}

TEST_CASE("subtensor: 2-d and 3-d") {
  run_slice_cases({3, 4}, {
      {{1}, {4}, {4, 5, 6, 7}, "float32[4]"},
      {{slice(), 2}, {3}, {2, 6, 10}, "float32[3]"},
      {{-1, slice(none, none, -1)}, {4}, {11, 10, 9, 8}, "float32[4]"},
      {{slice(none, none, 2), slice(1, none, 2)}, {2, 2}, {1, 3, 9, 11}, "float32[2, 2]"},
      {{newaxis, 1, newaxis}, {1, 1, 4}, {4, 5, 6, 7}, "float32[1, 1, 4]"},
      {{slice(1)}, {2, 4}, {4, 5, 6, 7, 8, 9, 10, 11}, "float32[2, 4]"},
      {{slice(-1, none, -1), -2}, {3}, {10, 6, 2}, "float32[3]"},
      {{2, 3}, {}, {11}, "float32[]"},
      {{slice(3, none)}, {0, 4}, {}, "float32[0, 4]"},
  });
  run_slice_cases({2, 3, 4}, {
      {{1, slice(none, none, -1), 0}, {3}, {20, 16, 12}, "float32[3]"},
      {{slice(), 1, slice(1, 3)}, {2, 2}, {5, 6, 17, 18}, "float32[2, 2]"},
      {{-1, -1, -1}, {}, {23}, "float32[]"},
      {{0, newaxis}, {1, 3, 4}, Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "float32[1, 3, 4]"},
      {{slice(), slice(), 3}, {2, 3}, {3, 7, 11, 15, 19, 23}, "float32[2, 3]"},
  });
}

TEST_CASE("subtensor: operator() and operator[] build the same node") {
  const Var x = tensor("x", float32, {3, 4});
  CHECK(x(1, slice(1, 3)).same(subtensor(x, {1, slice(1, 3)})));
  CHECK(x[2].same(x(2)));
  // Canonical forms hash-cons: trailing full slices, default steps, negative static ints.
  CHECK(x(slice(1, 3), slice()).same(x(slice(1, 3))));
  CHECK(x(slice(0, 2, 1)).same(x(slice(0, 2))));
  CHECK(x(-1).same(x(2)));
  CHECK(x(constant(1.0, int64)).same(x(1)));
  // x(slice()) is still an indexing node, so that set_subtensor(x(slice()), y) works.
  CHECK(x(slice()).node()->op().name == "subtensor");
  CHECK(x(slice()).type().str() == "float32[3, 4]");
}

TEST_CASE("subtensor: static sizes of unknown and empty dimensions") {
  // A slice of an unknown dim is unknown, whatever its bounds; static dims stay static.
  const Var x = tensor("x", float32, {unknown_dim, 4});
  CHECK(x(slice(1, 3), slice(1, 3)).type().str() == "float32[?, 2]");
  CHECK(x(slice(none, none, -1)).type().str() == "float32[?, 4]");
  CHECK(x(0).type().str() == "float32[4]");
  CHECK(x(newaxis, slice(), -1).type().str() == "float32[1, ?]");
  check_array(evaluate(x(slice(1, none), 2), {{x, Array::zeros({0, 4})}}), {0}, {});
  const Var e = tensor("e", float32, {0, 3});
  CHECK(e(slice(1, none)).type().str() == "float32[0, 3]");
  const Var i = vector("i", int64);
  check_array(evaluate(take(e, i), {{e, Array::zeros({0, 3})}, {i, ints({})}}), {0, 3}, {});
}

TEST_CASE("subtensor: symbolic bounds, steps and integers") {
  const Var x = tensor("x", float32, {10});
  const Var n = scalar("n", int64);
  const Var y = x(slice(none, n));
  CHECK(y.type().str() == "float32[?]");
  check_array(evaluate(y, {{x, iota({10})}, {n, Array::scalar<std::int64_t>(3)}}), {3}, {0, 1, 2});
  check_array(evaluate(y, {{x, iota({10})}, {n, Array::scalar<std::int64_t>(-8)}}), {2}, {0, 1});

  // The same scalar used twice is one input; an int32 scalar is cast to int64.
  const Var i = scalar("i", int32);
  const Var z = x(slice(i, i + 3));
  check_array(evaluate(z, {{x, iota({10})}, {i, Array::scalar<std::int32_t>(4)}}), {3}, {4, 5, 6});
  const Var w = x(slice(i, none, i));
  CHECK(w.node()->inputs().size() == 2);
  check_array(evaluate(w, {{x, iota({10})}, {i, Array::scalar<std::int32_t>(-3)}}), {3}, {7, 4, 1});

  const Var e = x(i);
  CHECK(e.type().str() == "float32[]");
  check_array(evaluate(e, {{x, iota({10})}, {i, Array::scalar<std::int32_t>(-2)}}), {}, {8});

  const Var m = matrix("m");
  const Var r = m(n, slice(1, none));
  CHECK(r.type().str() == "float32[?]");
  check_array(evaluate(r, {{m, iota({3, 4})}, {n, Array::scalar<std::int64_t>(1)}}), {3},
              {5, 6, 7});
}

TEST_CASE("subtensor: the result is exact for every int and float dtype") {
  for (DType dtype : {int8, int32, int64, uint8, float64, bool_}) {
    const Var x = tensor("x", dtype, {2, 3});
    const Var y = x(slice(), slice(none, none, -2));
    CHECK(y.dtype() == dtype);
    const Array v = evaluate(y, {{x, iota({2, 3}, dtype)}});
    CHECK(v.dtype() == dtype);
    CHECK(v.to_double_vector() == (dtype == bool_ ? Values{1, 0, 1, 1} : Values{2, 0, 5, 3}));
  }
}

TEST_CASE("take: embedding lookups on axis 0 and 1") {
  const Var e = tensor("e", float32, {4, 3});
  const Array table = iota({4, 3});
  const Var idx = vector("idx", int32);
  const Var rows = take(e, idx);
  CHECK(rows.type().str() == "float32[?, 3]");
  check_array(evaluate(rows, {{e, table}, {idx, Array::from_list<std::int32_t>({2, 0, 2})}}),
              {3, 3}, {6, 7, 8, 0, 1, 2, 6, 7, 8});
  // Negative indices wrap; an empty index gives an empty result.
  check_array(evaluate(rows, {{e, table}, {idx, Array::from_list<std::int32_t>({-1, -4})}}),
              {2, 3}, {9, 10, 11, 0, 1, 2});
  check_array(evaluate(rows, {{e, table}, {idx, Array::zeros({0}, int32)}}), {0, 3}, {});

  const Var im = matrix("im", int64);
  const Var batch = take(e, im);
  CHECK(batch.type().str() == "float32[?, ?, 3]");
  check_array(evaluate(batch, {{e, table}, {im, ints({0, 1, 3, 3}, {2, 2})}}), {2, 2, 3},
              {0, 1, 2, 3, 4, 5, 9, 10, 11, 9, 10, 11});

  const Var cols = take(e, constant(ints({2, 0})), -1);
  CHECK(cols.type().str() == "float32[4, 2]");
  CHECK(cols.node()->attrs().get_int("axis") == 1);
  check_array(evaluate(cols, {{e, table}}), {4, 2}, {2, 0, 5, 3, 8, 6, 11, 9});

  const Var one = take(e, constant(Array::scalar<std::int64_t>(1)));
  CHECK(one.type().str() == "float32[3]");
  check_array(evaluate(one, {{e, table}}), {3}, {3, 4, 5});

  // x(idx) is take on axis 0.
  CHECK(e(idx).same(rows));
}

TEST_CASE("subtensor: one advanced index mixed with basic ones") {
  const Var x = tensor("x", float32, {2, 3, 4});
  const Array v = iota({2, 3, 4});
  const Var idx = constant(ints({1, 3}));
  // x[:, 1, [1, 3]]: integer next to the tensor index -> the index dims replace the axis.
  const Var a = x(slice(), 1, idx);
  CHECK(a.type().str() == "float32[2, 2]");
  check_array(evaluate(a, {{x, v}}), {2, 2}, {5, 7, 17, 19});
  // x[0, :, [1, 3]]: separated by a slice -> numpy puts the index dims first.
  const Var b = x(0, slice(), idx);
  CHECK(b.type().str() == "float32[2, 3]");
  check_array(evaluate(b, {{x, v}}), {2, 3}, {1, 5, 9, 3, 7, 11});
  // x[1:, [0, 2]] on a matrix; x[None, [1, 0]].
  const Var m = tensor("m", float32, {3, 4});
  const Var c = m(slice(1, none), constant(ints({0, 2})));
  CHECK(c.type().str() == "float32[2, 2]");
  check_array(evaluate(c, {{m, iota({3, 4})}}), {2, 2}, {4, 6, 8, 10});
  const Var d = x(newaxis, constant(ints({1, 0})));
  CHECK(d.type().str() == "float32[1, 2, 3, 4]");
  check_array(evaluate(d, {{x, v}}), {1, 2, 3, 4},
              Values{12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                     0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  // A matrix of indices on the last axis.
  const Var f = m(2, constant(ints({3, 0, 1, 1}, {2, 2})));
  CHECK(f.type().str() == "float32[2, 2]");
  check_array(evaluate(f, {{m, iota({3, 4})}}), {2, 2}, {11, 8, 9, 9});
}

TEST_CASE("arange and one_hot") {
  const Var a = arange(5);
  CHECK(a.type().str() == "int64[5]");
  check_array(evaluate(a), {5}, {0, 1, 2, 3, 4});
  check_array(evaluate(arange(2, 11, 3)), {3}, {2, 5, 8});
  CHECK(arange(10, 0, -3).type().str() == "int64[4]");
  check_array(evaluate(arange(10, 0, -3)), {4}, {10, 7, 4, 1});
  CHECK(arange(3, 1).type().str() == "int64[0]");
  check_array(evaluate(arange(3, 1)), {0}, {});
  CHECK(evaluate(arange(0, 4, 1, float32)).dtype() == float32);

  const Var n = scalar("n", int32);
  const Var an = arange(n);
  CHECK(an.type().str() == "int64[?]");
  check_array(evaluate(an, {{n, Array::scalar<std::int32_t>(4)}}), {4}, {0, 1, 2, 3});
  check_array(evaluate(an, {{n, Array::scalar<std::int32_t>(-2)}}), {0}, {});
  const Var lo = scalar("lo", float64);
  const Var af = arange(lo, 2, constant(0.5, float64), float64);
  check_array(evaluate(af, {{lo, Array::scalar<double>(0.5)}}), {3}, {0.5, 1, 1.5});

  const Var idx = vector("idx", int32);
  const Var oh = one_hot(idx, 4);
  CHECK(oh.type().str() == "float32[?, 4]");
  check_array(evaluate(oh, {{idx, Array::from_list<std::int32_t>({2, 0, 7})}}), {3, 4},
              {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0});
  const Var im = tensor("im", int64, {2, 2});
  const Var oh2 = one_hot(im, 3, int32);
  CHECK(oh2.type().str() == "int32[2, 2, 3]");
  check_array(evaluate(oh2, {{im, ints({0, 1, 2, 1}, {2, 2})}}), {2, 2, 3},
              {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0});
}

TEST_CASE("every index op of ops::all_ops() has a row in the op table") {
  // One row per op: a graph whose output node is that op, and its hand-checked value.
  struct OpRow {
    std::string op;
    std::function<Var()> build;
    Shape shape;
    Values values;
  };
  const Var x = tensor("x", float32, {3, 2});
  const Array xv = iota({3, 2});
  const std::vector<OpRow> rows = {
      {"subtensor", [&] { return x(slice(none, none, -2), 1); }, {2}, {5, 1}},
      {"inc_subtensor", [&] { return inc_subtensor(x(1), constant(1.0, float32)); }, {3, 2},
       {0, 1, 3, 4, 4, 5}},
      {"take", [&] { return take(x, constant(ints({2, -3}))); }, {2, 2}, {4, 5, 0, 1}},
      {"inc_take", [&] { return inc_subtensor(x(constant(ints({0, 0}))), x(1)); }, {3, 2},
       {4, 7, 2, 3, 4, 5}},
      {"arange", [&] { return arange(-1, 3, 2, float32); }, {2}, {-1, 1}},
  };
  std::set<std::string> covered;
  for (const OpRow& row : rows) {
    INFO("op " << row.op);
    const Var y = row.build();
    CHECK(y.node()->op().name == row.op);
    check_array(evaluate(y, {{x, xv}}), row.shape, row.values);
    covered.insert(row.op);
  }
  test::check_op_coverage(OpFamily::Index, covered);
  std::set<std::string> graph_ops;
  collect_ops(one_hot(constant(ints({1})), 2), graph_ops);
  CHECK(graph_ops.count("arange") == 1);
}
