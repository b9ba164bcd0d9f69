// The shape family: every op on hand-checked values and static types, table-driven.
// Folding of static facts and split are in shape_symbolic_test.cpp, errors in
// shape_errors_test.cpp.
#include <functional>
#include <set>

#include "cgvm.hpp"
#include "symbolic/op_list.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {

// 0, 1, 2, ... in the given shape.
Array seq(const Shape& shape, DType dtype = float32) {
  return Array::arange(shape_size(shape), dtype).reshape(shape);
}
template <class T>
Array arr(std::initializer_list<T> values, Shape shape = {}) {
  return Array::from_list<T>(values, std::move(shape));
}

struct Built {
  Var y;
  Bindings bindings;
};

// One table row: `op` is the primitive op the graph must contain; `type` the static type
// of the result (TensorType::str()); `expected` its value (dtype, shape and elements).
struct Case {
  const char* op;
  const char* what;
  std::function<Built()> build;
  const char* type;
  Array expected;
};

std::vector<Case> cases() {
  return {
      // --- reshape ------------------------------------------------------------------
      {"reshape", "static, -1 inferred",
       [] {
         Var x = tensor("x", float32, {2, 3});
         return Built{reshape(x, {3, -1}), {{x, seq({2, 3})}}};
       },
       "float32[3, 2]", seq({3, 2})},
      {"reshape", "unknown shape to a vector",
       [] {
         Var x = matrix("x", int32);
         return Built{x.reshape({-1}), {{x, arr<std::int32_t>({1, 2, 3, 4}, {2, 2})}}};
       },
       "int32[?]", arr<std::int32_t>({1, 2, 3, 4})},
      {"reshape", "symbolic dims from another tensor's shape",
       [] {
         Var x = vector("x", float64), m = matrix("m");
         return Built{reshape(x, {m.shape(0), m.shape(1)}),
                      {{x, seq({6}, float64)}, {m, Array::zeros({2, 3})}}};
       },
       "float64[?, ?]", seq({2, 3}, float64)},
      {"reshape", "x's own symbolic size cancels: -1 is static",
       [] {
         Var x = tensor("x", float32, {unknown_dim, 3, 4});
         return Built{reshape(x, {x.shape(0), -1}), {{x, seq({2, 3, 4})}}};
       },
       "float32[?, 12]", seq({2, 12})},
      {"reshape", "non-contiguous input (a transpose)",
       [] {
         Var x = tensor("x", float32, {2, 3});
         return Built{x.T().reshape({-1}), {{x, seq({2, 3})}}};
       },
       "float32[6]", arr<float>({0, 3, 1, 4, 2, 5})},
      {"reshape", "empty array",
       [] {
         Var x = tensor("x", float32, {0, 3});
         return Built{reshape(x, {3, 0}), {{x, Array::zeros({0, 3})}}};
       },
       "float32[3, 0]", Array::zeros({3, 0})},
      {"reshape", "scalar to size-1 dims",
       [] {
         Var x = scalar("x", int64);
         return Built{reshape(x, {1, 1}), {{x, Array::scalar<std::int64_t>(7)}}};
       },
       "int64[1, 1]", arr<std::int64_t>({7}, {1, 1})},
      {"reshape", "int32 symbolic dim",
       [] {
         Var x = matrix("x"), n = scalar("n", int32);
         return Built{reshape(x, {n}),
                      {{x, arr<float>({1, 2, 3, 4}, {2, 2})}, {n, Array::scalar(4)}}};
       },
       "float32[?]", arr<float>({1, 2, 3, 4})},
      {"reshape", "bool",
       [] {
         Var x = tensor("x", bool_, {4});
         return Built{reshape(x, {2, 2}), {{x, arr<bool>({true, false, false, true})}}};
       },
       "bool[2, 2]", arr<bool>({true, false, false, true}, {2, 2})},
      {"reshape", "flatten(x, 2) of unknown sizes",
       [] {
         Var x = tensor3("x");
         return Built{flatten(x, 2), {{x, seq({2, 3, 2})}}};
       },
       "float32[?, ?]", seq({2, 6})},
      {"reshape", "flatten(x, 2) keeps a static product",
       [] {
         Var x = tensor("x", float32, {unknown_dim, 3, 4});
         return Built{flatten(x, 2), {{x, seq({2, 3, 4})}}};
       },
       "float32[?, 12]", seq({2, 12})},
      {"reshape", "flatten(x) of a static matrix",
       [] {
         Var x = tensor("x", int16, {2, 3});
         return Built{flatten(x), {{x, seq({2, 3}, int16)}}};
       },
       "int16[6]", seq({6}, int16)},
      // --- dimshuffle ---------------------------------------------------------------
      {"dimshuffle", "permute and add an axis",
       [] {
         Var x = tensor("x", float32, {2, 3});
         return Built{x.dimshuffle({1, -1, 0}), {{x, seq({2, 3})}}};
       },
       "float32[3, 1, 2]", arr<float>({0, 3, 1, 4, 2, 5}, {3, 1, 2})},
      {"dimshuffle", "drops a broadcastable axis",
       [] {
         Var x = tensor("x", float32, {1, unknown_dim, 3});
         return Built{dimshuffle(x, {2, 1}), {{x, seq({1, 2, 3})}}};
       },
       "float32[3, ?]", arr<float>({0, 3, 1, 4, 2, 5}, {3, 2})},
      {"dimshuffle", "transpose with a permutation",
       [] {
         Var x = tensor("x", int64, {2, 1, 3});
         return Built{transpose(x, {2, 0, 1}), {{x, seq({2, 1, 3}, int64)}}};
       },
       "int64[3, 2, 1]", arr<std::int64_t>({0, 3, 1, 4, 2, 5}, {3, 2, 1})},
      {"dimshuffle", "transpose with negative axes",
       [] {
         Var x = tensor("x", float32, {2, unknown_dim});
         return Built{transpose(x, {-1, -2}), {{x, seq({2, 3})}}};
       },
       "float32[?, 2]", arr<float>({0, 3, 1, 4, 2, 5}, {3, 2})},
      {"dimshuffle", "T",
       [] {
         Var x = tensor("x", float32, {unknown_dim, 3});
         return Built{x.T(), {{x, seq({2, 3})}}};
       },
       "float32[3, ?]", arr<float>({0, 3, 1, 4, 2, 5}, {3, 2})},
      {"dimshuffle", "expand_dims at -1",
       [] {
         Var x = vector("x", int8);
         return Built{expand_dims(x, -1), {{x, arr<std::int8_t>({1, 2, 3})}}};
       },
       "int8[?, 1]", arr<std::int8_t>({1, 2, 3}, {3, 1})},
      {"dimshuffle", "expand_dims at 0",
       [] {
         Var x = tensor("x", float32, {2, 3});
         return Built{expand_dims(x, 0), {{x, seq({2, 3})}}};
       },
       "float32[1, 2, 3]", seq({1, 2, 3})},
      {"dimshuffle", "squeeze all broadcastable axes",
       [] {
         Var x = tensor("x", float32, {1, unknown_dim, 1});
         return Built{squeeze(x), {{x, seq({1, 3, 1})}}};
       },
       "float32[?]", seq({3})},
      {"dimshuffle", "squeeze one axis",
       [] {
         Var x = tensor("x", float32, {1, unknown_dim, 1});
         return Built{squeeze(x, {-1}), {{x, seq({1, 3, 1})}}};
       },
       "float32[1, ?]", seq({1, 3})},
      {"dimshuffle", "bool, new axes around",
       [] {
         Var x = vector("x", bool_);
         return Built{x.dimshuffle({-1, 0, -1}), {{x, arr<bool>({true, false})}}};
       },
       "bool[1, ?, 1]", arr<bool>({true, false}, {1, 2, 1})},
      {"dimshuffle", "empty array",
       [] {
         Var x = tensor("x", float32, {0, 2});
         return Built{x.T(), {{x, Array::zeros({0, 2})}}};
       },
       "float32[2, 0]", Array::zeros({2, 0})},
      // --- broadcast_to -------------------------------------------------------------
      {"broadcast_to", "vector to matrix",
       [] {
         Var x = tensor("x", float32, {3});
         return Built{broadcast_to(x, {2, 3}), {{x, seq({3})}}};
       },
       "float32[2, 3]", arr<float>({0, 1, 2, 0, 1, 2}, {2, 3})},
      {"broadcast_to", "column stretched, symbolic rows",
       [] {
         Var x = col("x");
         return Built{broadcast_to(x, {x.shape(0), 4}), {{x, arr<float>({1, 2}, {2, 1})}}};
       },
       "float32[?, 4]", arr<float>({1, 1, 1, 1, 2, 2, 2, 2}, {2, 4})},
      {"broadcast_to", "symbolic target from another tensor",
       [] {
         Var x = tensor("x", float32, {1, 3}), m = matrix("m");
         return Built{broadcast_to(x, {m.shape(0), 3}),
                      {{x, arr<float>({1, 2, 3}, {1, 3})}, {m, Array::zeros({2, 5})}}};
       },
       "float32[?, 3]", arr<float>({1, 2, 3, 1, 2, 3}, {2, 3})},
      {"broadcast_to", "x's static size wins over a symbolic target",
       [] {
         Var x = tensor("x", float32, {3}), m = matrix("m");
         return Built{broadcast_to(x, {m.shape(0), m.shape(1)}),
                      {{x, seq({3})}, {m, Array::zeros({2, 3})}}};
       },
       "float32[?, 3]", arr<float>({0, 1, 2, 0, 1, 2}, {2, 3})},
      {"broadcast_to", "scalar",
       [] {
         Var x = scalar("x", int64);
         return Built{broadcast_to(x, {2, 2}), {{x, Array::scalar<std::int64_t>(5)}}};
       },
       "int64[2, 2]", arr<std::int64_t>({5, 5, 5, 5}, {2, 2})},
      {"broadcast_to", "size 1 to size 0",
       [] {
         Var x = tensor("x", float32, {1});
         return Built{broadcast_to(x, {0}), {{x, seq({1})}}};
       },
       "float32[0]", Array::zeros({0})},
      {"broadcast_to", "unknown size checked against a static target",
       [] {
         Var x = vector("x", uint8);
         return Built{broadcast_to(x, {2, 3}), {{x, arr<std::uint8_t>({7, 8, 9})}}};
       },
       "uint8[2, 3]", arr<std::uint8_t>({7, 8, 9, 7, 8, 9}, {2, 3})},
      {"broadcast_to", "zeros of a symbolic shape",
       [] {
         Var x = matrix("x");
         return Built{zeros({x.shape(0), 2}, int32), {{x, Array::zeros({3, 5})}}};
       },
       "int32[?, 2]", Array::zeros({3, 2}, int32)},
      {"broadcast_to", "full of a symbolic shape",
       [] {
         Var x = matrix("x");
         return Built{full({x.shape(1)}, 2.5, float64), {{x, Array::zeros({3, 2})}}};
       },
       "float64[?]", arr<double>({2.5, 2.5})},
      {"broadcast_to", "ones, static",
       [] { return Built{ones({2, 1}), {}}; },
       "float32[2, 1]", Array::ones({2, 1})},
      {"broadcast_to", "ones_like keeps static sizes",
       [] {
         Var x = tensor("x", int16, {unknown_dim, 3});
         return Built{ones_like(x), {{x, seq({2, 3}, int16)}}};
       },
       "int16[?, 3]", Array::ones({2, 3}, int16)},
      {"broadcast_to", "zeros_like of bool",
       [] {
         Var x = vector("x", bool_);
         return Built{zeros_like(x), {{x, arr<bool>({true, true})}}};
       },
       "bool[?]", arr<bool>({false, false})},
      // --- concatenate --------------------------------------------------------------
      {"concatenate", "axis 0, unknown columns",
       [] {
         Var a = tensor("a", float32, {2, unknown_dim}), b = tensor("b", float32, {1, unknown_dim});
         return Built{concatenate({a, b}), {{a, seq({2, 2})}, {b, arr<float>({9, 9}, {1, 2})}}};
       },
       "float32[3, ?]", arr<float>({0, 1, 2, 3, 9, 9}, {3, 2})},
      {"concatenate", "int32 with float64 promotes",
       [] {
         Var a = tensor("a", int32, {2}), b = tensor("b", float64, {3});
         return Built{concatenate({a, b}),
                      {{a, arr<std::int32_t>({1, 2})}, {b, arr<double>({0.5, 1.5, 2.5})}}};
       },
       "float64[5]", arr<double>({1, 2, 0.5, 1.5, 2.5})},
      {"concatenate", "int8 with uint8 gives int16",
       [] {
         Var a = vector("a", int8), b = vector("b", uint8);
         return Built{concatenate({a, b}),
                      {{a, arr<std::int8_t>({-1})}, {b, arr<std::uint8_t>({200})}}};
       },
       "int16[?]", arr<std::int16_t>({-1, 200})},
      {"concatenate", "negative axis",
       [] {
         Var a = tensor("a", int64, {2, 1}), b = tensor("b", int64, {2, 2});
         return Built{concatenate({a, b}, -1), {{a, arr<std::int64_t>({1, 2}, {2, 1})},
                                                {b, arr<std::int64_t>({3, 4, 5, 6}, {2, 2})}}};
       },
       "int64[2, 3]", arr<std::int64_t>({1, 3, 4, 2, 5, 6}, {2, 3})},
      {"concatenate", "an empty part",
       [] {
         Var a = tensor("a", float32, {0, 2}), b = matrix("b");
         return Built{concatenate({a, b}), {{a, Array::zeros({0, 2})}, {b, seq({2, 2})}}};
       },
       "float32[?, 2]", seq({2, 2})},
      {"concatenate", "three bool parts",
       [] {
         Var a = tensor("a", bool_, {1}), b = vector("b", bool_);
         return Built{concatenate({a, b, a}),
                      {{a, arr<bool>({true})}, {b, arr<bool>({false, false})}}};
       },
       "bool[?]", arr<bool>({true, false, false, true})},
      {"concatenate", "stack of vectors",
       [] {
         Var a = vector("a"), b = vector("b");
         return Built{stack({a, b}), {{a, arr<float>({1, 2})}, {b, arr<float>({3, 4})}}};
       },
       "float32[2, ?]", arr<float>({1, 2, 3, 4}, {2, 2})},
      {"concatenate", "stack on axis 1 promotes",
       [] {
         Var a = tensor("a", int32, {2}), b = tensor("b", float32, {2});
         return Built{stack({a, b}, 1),
                      {{a, arr<std::int32_t>({1, 2})}, {b, arr<float>({0.5, 1.5})}}};
       },
       "float32[2, 2]", arr<float>({1, 0.5, 2, 1.5}, {2, 2})},
      {"concatenate", "stack of scalars on axis -1",
       [] {
         Var a = scalar("a"), b = scalar("b");
         return Built{stack({a, b, a}, -1), {{a, Array::scalar(1.0f)}, {b, Array::scalar(2.0f)}}};
       },
       "float32[3]", arr<float>({1, 2, 1})},
      // --- shape_of and make_vector -------------------------------------------------
      {"shape_of", "x.shape(1)",
       [] {
         Var x = matrix("x");
         return Built{x.shape(1), {{x, seq({2, 3})}}};
       },
       "int64[]", Array::scalar<std::int64_t>(3)},
      {"shape_of", "x.shape(-2)",
       [] {
         Var x = matrix("x");
         return Built{x.shape(-2), {{x, seq({2, 3})}}};
       },
       "int64[]", Array::scalar<std::int64_t>(2)},
      {"make_vector", "shape(x)",
       [] {
         Var x = tensor("x", float32, {unknown_dim, 3});
         return Built{shape(x), {{x, seq({2, 3})}}};
       },
       "int64[2]", arr<std::int64_t>({2, 3})},
      {"make_vector", "symbolic, static and int32 entries",
       [] {
         Var x = matrix("x"), n = scalar("n", int32);
         return Built{make_vector({x.shape(0), 5, n}),
                      {{x, Array::zeros({2, 1})}, {n, Array::scalar(7)}}};
       },
       "int64[3]", arr<std::int64_t>({2, 5, 7})},
      // --- repeat and tile (reshape of a broadcast; values as numpy gives them) ----------
      {"reshape", "repeat(x, 2, 0)",
       [] {
         Var x = matrix("x", int32);
         return Built{repeat(x, 2, 0), {{x, arr<std::int32_t>({1, 2, 3, 4}, {2, 2})}}};
       },
       "int32[?, ?]", arr<std::int32_t>({1, 2, 1, 2, 3, 4, 3, 4}, {4, 2})},
      {"reshape", "repeat(x, 3, -1)",
       [] {
         Var x = tensor("x", float32, {2, 2});
         return Built{repeat(x, 3, -1), {{x, arr<float>({1, 2, 3, 4}, {2, 2})}}};
       },
       "float32[2, 6]", arr<float>({1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}, {2, 6})},
      {"reshape", "repeat(x, 2, 1) of unknown rows",
       [] {
         Var x = tensor("x", float64, {unknown_dim, 2});
         return Built{repeat(x, 2, 1), {{x, arr<double>({1, 2}, {1, 2})}}};
       },
       "float64[?, 4]", arr<double>({1, 1, 2, 2}, {1, 4})},
      {"reshape", "repeat(x, 0, 0)",
       [] {
         Var x = tensor("x", float32, {3});
         return Built{repeat(x, 0, 0), {{x, seq({3})}}};
       },
       "float32[0]", Array::zeros({0})},
      {"reshape", "tile(x, {3})",
       [] {
         Var x = tensor("x", float32, {2});
         return Built{tile(x, {3}), {{x, arr<float>({1, 2})}}};
       },
       "float32[6]", arr<float>({1, 2, 1, 2, 1, 2})},
      {"reshape", "tile(x, {2, 2}) adds a dim",
       [] {
         Var x = vector("x");
         return Built{tile(x, {2, 2}), {{x, arr<float>({1, 2})}}};
       },
       "float32[2, ?]", arr<float>({1, 2, 1, 2, 1, 2, 1, 2}, {2, 4})},
      {"reshape", "tile(m, {2}) tiles the last axis",
       [] {
         Var x = matrix("x", int64);
         return Built{tile(x, {2}), {{x, arr<std::int64_t>({1, 2, 3, 4}, {2, 2})}}};
       },
       "int64[?, ?]", arr<std::int64_t>({1, 2, 1, 2, 3, 4, 3, 4}, {2, 4})},
      {"reshape", "tile(m, {2, 1})",
       [] {
         Var x = tensor("x", float32, {2, 2});
         return Built{tile(x, {2, 1}), {{x, arr<float>({1, 2, 3, 4}, {2, 2})}}};
       },
       "float32[4, 2]", arr<float>({1, 2, 3, 4, 1, 2, 3, 4}, {4, 2})},
      {"reshape", "tile(row, {2, 1, 2})",
       [] {
         Var x = tensor("x", float32, {1, 2});
         return Built{tile(x, {2, 1, 2}), {{x, arr<float>({1, 2}, {1, 2})}}};
       },
       "float32[2, 1, 4]", arr<float>({1, 2, 1, 2, 1, 2, 1, 2}, {2, 1, 4})},
      {"reshape", "tile with a 0 rep",
       [] {
         Var x = tensor("x", float32, {2, 1});
         return Built{tile(x, {1, 0}), {{x, seq({2, 1})}}};
       },
       "float32[2, 0]", Array::zeros({2, 0})},
  };
}

bool graph_has_op(const Var& y, std::string_view op) {
  std::vector<Var> outs{y};
  for (const Node* n : topo_sort(outs))
    if (n->op().name == op) return true;
  return false;
}

}  // namespace

TEST_CASE("shape ops: static types and values (table)") {
  for (const Case& c : cases()) {
    INFO(std::string(c.op) << ": " << std::string(c.what));
    Built b = c.build();
    CHECK(b.y.type().str() == std::string(c.type));
    CHECK(graph_has_op(b.y, c.op));
    Array got = evaluate(b.y, b.bindings);
    CHECK(got.dtype() == c.expected.dtype());
    CHECK(shape_str(got.shape()) == shape_str(c.expected.shape()));
    INFO("got " << got.to_string() << ", expected " << c.expected.to_string());
    CHECK(array_equal(got, c.expected));
  }
}

TEST_CASE("every op of the shape family is in the table") {
  std::set<std::string> tested;
  for (const Case& c : cases()) tested.insert(c.op);
  test::check_op_coverage(OpFamily::Shape, tested);
}
