// The contraction family: matmul on every rank combination (the table below, in several
// dtypes, with static and unknown input sizes), strided inputs, a larger random case against
// a naive loop, integer and bool products, dot/outer/tensordot on hand-computed values, gemm
// with every shape of its addend, and the user errors. The last test fails when a contraction
// op of ops::all_ops() has no row in the tables.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "runtime/random.hpp"
#include "support.hpp"
#include "symbolic/contraction.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_array;
using test::make;
using test::this_file;
using test::Values;

namespace {

// Error messages must point at this file (the user's line). Kept alive here: a temporary's
// c_str() in CHECK_ERROR's list would dangle.
const std::string file_name = this_file();
const char* const file = file_name.c_str();

// A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]], v = [1, 2, 3];
// S = [A, P] with P = [[1, 0, 0], [0, 1, 0]]; BB = [B, Q] with Q = [[1, 0], [0, 1], [1, 1]].
// A@B = [[58, 64], [139, 154]], A@Q = [[4, 5], [10, 11]], P@B = [[7, 8], [9, 10]],
// P@Q = [[1, 0], [0, 1]], A@v = [14, 32], P@v = [1, 2], v@B = [58, 64], v@Q = [4, 5].
const Values A = {1, 2, 3, 4, 5, 6};
const Values B = {7, 8, 9, 10, 11, 12};
const Values v = {1, 2, 3};
const Values S = {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0};
const Values BB = {7, 8, 9, 10, 11, 12, 1, 0, 0, 1, 1, 1};

struct Case {
  const char* name;  // the op the row exercises
  Values a;
  Shape a_shape;
  Values b;
  Shape b_shape;
  Shape out_shape;
  Values want;
  bool stretches;  // a batch dim of static size 1 stretches (needs static sizes)
};

const std::vector<Case> cases = {
    {"matmul", v, {3}, {4, 5, 6}, {3}, {}, {32}, false},                      // 1 x 1
    {"matmul", v, {3}, B, {3, 2}, {2}, {58, 64}, false},                      // 1 x 2
    {"matmul", A, {2, 3}, v, {3}, {2}, {14, 32}, false},                      // 2 x 1
    {"matmul", A, {2, 3}, B, {3, 2}, {2, 2}, {58, 64, 139, 154}, false},      // 2 x 2
    {"matmul", S, {2, 2, 3}, B, {3, 2}, {2, 2, 2},                            // 3 x 2
     {58, 64, 139, 154, 7, 8, 9, 10}, false},
    {"matmul", A, {2, 3}, BB, {2, 3, 2}, {2, 2, 2},                           // 2 x 3
     {58, 64, 139, 154, 4, 5, 10, 11}, false},
    {"matmul", S, {2, 2, 3}, BB, {2, 3, 2}, {2, 2, 2},                        // 3 x 3
     {58, 64, 139, 154, 1, 0, 0, 1}, false},
    {"matmul", A, {1, 2, 3}, BB, {2, 3, 2}, {2, 2, 2},                        // static 1
     {58, 64, 139, 154, 4, 5, 10, 11}, true},
    {"matmul", S, {2, 1, 2, 3}, BB, {1, 2, 3, 2}, {2, 2, 2, 2},               // both stretch
     {58, 64, 139, 154, 4, 5, 10, 11, 7, 8, 9, 10, 1, 0, 0, 1}, true},
    {"matmul", v, {3}, BB, {2, 3, 2}, {2, 2}, {58, 64, 4, 5}, false},         // 1 x 3
    {"matmul", S, {2, 2, 3}, v, {3}, {2, 2}, {14, 32, 1, 2}, false},          // 3 x 1
    {"matmul", {}, {0, 3}, B, {3, 2}, {0, 2}, {}, false},                     // empty rows
    {"matmul", {}, {2, 0}, {}, {0, 2}, {2, 2}, {0, 0, 0, 0}, false},          // empty sum
};

}  // namespace

TEST_CASE("contraction: matmul on every rank combination, dtype and size knowledge") {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    for (DType dtype : {float32, float64, int32, int64, int16}) {
      CAPTURE(i);
      CAPTURE(dtype_name(dtype));
      Var a = tensor("a", dtype, c.a_shape), b = tensor("b", dtype, c.b_shape);
      Var y = matmul(a, b);
      CHECK(y.node()->op().name == c.name);
      CHECK(shape_str(y.static_shape()) == shape_str(c.out_shape));
      Bindings values{{a, make(dtype, c.a, c.a_shape)}, {b, make(dtype, c.b, c.b_shape)}};
      check_array(evaluate(y, values), dtype, c.out_shape, c.want);
      if (c.stretches) continue;
      Var au = tensor("a", dtype, Shape(c.a_shape.size(), unknown_dim));
      Var bu = tensor("b", dtype, Shape(c.b_shape.size(), unknown_dim));
      Var yu = matmul(au, bu);
      CHECK(yu.rank() == static_cast<int>(c.out_shape.size()));
      check_array(evaluate(yu, {{au, values[0].second}, {bu, values[1].second}}), dtype,
                  c.out_shape, c.want);
    }
  }
}

TEST_CASE("contraction: strided float inputs (transposed, sliced, reversed, broadcast)") {
  for (DType dtype : {float32, float64}) {
    CAPTURE(dtype_name(dtype));
    Var a = matrix("a", dtype), b = matrix("b", dtype);
    Var y = matmul(a, b);
    Array a_t = make(dtype, {1, 4, 2, 5, 3, 6}, {3, 2}).transpose();          // column-major A
    Array b_t = make(dtype, {7, 9, 11, 8, 10, 12}, {2, 3}).transpose();       // column-major B
    Array a_wide = make(dtype, {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0}, {2, 6}).slice(1, 0, 6, 2);
    Array b_rev = make(dtype, {11, 12, 9, 10, 7, 8}, {3, 2}).slice(0, 2, -4, -1);
    Array a_bcast = make(dtype, {1, 2, 3}, {1, 3}).broadcast_to({2, 3});     // rows stride 0
    const Values ab = {58, 64, 139, 154};
    check_array(evaluate(y, {{a, a_t}, {b, make(dtype, B, {3, 2})}}), dtype, {2, 2}, ab);
    check_array(evaluate(y, {{a, make(dtype, A, {2, 3})}, {b, b_t}}), dtype, {2, 2}, ab);
    check_array(evaluate(y, {{a, a_t}, {b, b_t}}), dtype, {2, 2}, ab);
    check_array(evaluate(y, {{a, a_wide}, {b, b_rev}}), dtype, {2, 2}, ab);
    check_array(evaluate(y, {{a, a_bcast}, {b, make(dtype, B, {3, 2})}}), dtype, {2, 2},
                {58, 64, 58, 64});
    // A strided vector on either side (1-d promotion keeps its stride).
    Var x = vector("x", dtype);
    Array v_step = make(dtype, {1, 0, 2, 0, 3, 0}, {6}).slice(0, 0, 6, 2);
    check_array(evaluate(matmul(a, x), {{a, a_t}, {x, v_step}}), dtype, {2}, {14, 32});
    check_array(evaluate(matmul(x, b), {{x, v_step}, {b, b_t}}), dtype, {2}, {58, 64});
    // A transposed batch: the matrix dims of each batch element are column-major.
    Var s = tensor3("s", dtype);
    Array s_t = make(dtype, S, {2, 2, 3}).copy().transpose({0, 2, 1}).copy().transpose({0, 2, 1});
    check_array(evaluate(matmul(s, b), {{s, s_t}, {b, make(dtype, B, {3, 2})}}), dtype,
                {2, 2, 2}, {58, 64, 139, 154, 7, 8, 9, 10});
  }
}

TEST_CASE("contraction: a larger random batch against a naive loop") {
  // (2, 1, 17, 33) @ (3, 33, 9) -> (2, 3, 17, 9), with a transposed right operand.
  for (DType dtype : {float32, float64}) {
    CAPTURE(dtype_name(dtype));
    Array a = Array::uniform(11, {2, 1, 17, 33}, -1, 1, dtype);
    Array b = Array::uniform(12, {3, 9, 33}, -1, 1, dtype).transpose({0, 2, 1});
    Var x = tensor("x", dtype, {2, 1, 17, 33}), y = tensor("y", dtype, {3, 33, 9});
    Array got = evaluate(matmul(x, y), {{x, a}, {y, b}});
    Array want = Array::zeros({2, 3, 17, 9}, float64);
    for (std::int64_t p = 0; p < 2; ++p)
      for (std::int64_t q = 0; q < 3; ++q)
        for (std::int64_t i = 0; i < 17; ++i)
          for (std::int64_t j = 0; j < 9; ++j) {
            double acc = 0;
            for (std::int64_t k = 0; k < 33; ++k) {
              std::int64_t ia[] = {p, 0, i, k}, ib[] = {q, k, j};
              acc += a.get_as_double(ia) * b.get_as_double(ib);
            }
            std::int64_t io[] = {p, q, i, j};
            want.set_from_double(io, acc);
          }
    CHECK(got.dtype() == dtype);
    CHECK(allclose(got.astype(float64), want, dtype == float32 ? 1e-5 : 1e-12,
                   dtype == float32 ? 1e-5 : 1e-12));
  }
}

TEST_CASE("contraction: integer products are exact and wrap, bool products are logical") {
  Var a = matrix("a", int8), b = matrix("b", int8);
  check_array(evaluate(matmul(a, b),
                       {{a, make(int8, {100}, {1, 1})}, {b, make(int8, {3}, {1, 1})}}),
              int8, {1, 1}, {44});  // 300 mod 256, as numpy
  Var c = matrix("c", int64), d = matrix("d", int64);
  // 2^32 * 2^32 wraps to 0 in int64, as numpy's int64 products do.
  const double two32 = 4294967296.0;
  check_array(evaluate(matmul(c, d), {{c, make(int64, {two32, 1}, {1, 2})},
                                      {d, make(int64, {two32, 1}, {2, 1})}}),
              int64, {1, 1}, {1});
  // An integer transposed view uses the same strided loop.
  Var e = matrix("e", int32);
  check_array(evaluate(matmul(e, e), {{e, make(int32, {1, 3, 2, 4}, {2, 2}).transpose()}}),
              int32, {2, 2}, {7, 10, 15, 22});

  Var p = matrix("p", bool_), q = matrix("q", bool_);
  check_array(evaluate(matmul(p, q), {{p, make(bool_, {1, 0, 0, 1}, {2, 2})},
                                      {q, make(bool_, {0, 1, 1, 0}, {2, 2})}}),
              bool_, {2, 2}, {0, 1, 1, 0});
  // Two true terms give true, not 2.
  check_array(evaluate(matmul(p, q), {{p, make(bool_, {1, 1}, {1, 2})},
                                      {q, make(bool_, {1, 1}, {2, 1})}}),
              bool_, {1, 1}, {1});
}

TEST_CASE("contraction: operands of different dtypes are promoted with casts") {
  Var a = matrix("a", int32), b = matrix("b", float32);
  Var y = matmul(a, b);
  CHECK(y.dtype() == float32);
  check_array(evaluate(y, {{a, make(int32, A, {2, 3})}, {b, make(float32, B, {3, 2})}}), float32,
              {2, 2}, {58, 64, 139, 154});
  CHECK(matmul(vector("u", int8), vector("w", int32)).dtype() == int32);
  CHECK(dot(matrix("f", float32), matrix("g", float64)).dtype() == float64);
}

TEST_CASE("contraction: dot follows numpy.dot") {
  Var x = tensor("x", float32, {3}), w = tensor("w", float32, {3});
  Var a = tensor("a", float32, {2, 3}), b = tensor("b", float32, {3, 2});
  Var s = tensor("s", float32, {2, 2, 3}), bb = tensor("bb", float32, {2, 3, 2});
  Var k = scalar("k");
  Bindings values{{x, make(float32, v, {3})},          {w, make(float32, {4, 5, 6}, {3})},
                  {a, make(float32, A, {2, 3})},       {b, make(float32, B, {3, 2})},
                  {s, make(float32, S, {2, 2, 3})},    {bb, make(float32, BB, {2, 3, 2})},
                  {k, Array::scalar(2.0f)}};
  check_array(evaluate(dot(x, w), values), float32, {}, {32});
  check_array(evaluate(dot(a, x), values), float32, {2}, {14, 32});
  check_array(evaluate(dot(x, b), values), float32, {2}, {58, 64});
  check_array(evaluate(dot(a, b), values), float32, {2, 2}, {58, 64, 139, 154});
  check_array(evaluate(dot(k, x), values), float32, {3}, {2, 4, 6});
  check_array(evaluate(dot(s, b), values), float32, {2, 2, 2}, {58, 64, 139, 154, 7, 8, 9, 10});
  check_array(evaluate(dot(s, x), values), float32, {2, 2}, {14, 32, 1, 2});
  check_array(evaluate(dot(x, bb), values), float32, {2, 2}, {58, 64, 4, 5});
  // N-d . M-d: sum over s's last axis and bb's second-to-last, result [i, j, k, l].
  Var sb = dot(s, bb);
  CHECK(sb.static_shape() == Shape{2, 2, 2, 2});
  check_array(evaluate(sb, values), float32, {2, 2, 2, 2},
              {58, 64, 4, 5, 139, 154, 10, 11, 7, 8, 1, 0, 9, 10, 0, 1});
  // The same with unknown sizes: the reshapes use symbolic dims.
  Var su = tensor3("su"), bu = tensor3("bu");
  check_array(evaluate(dot(su, bu), {{su, values[4].second}, {bu, values[5].second}}), float32,
              {2, 2, 2, 2}, {58, 64, 4, 5, 139, 154, 10, 11, 7, 8, 1, 0, 9, 10, 0, 1});
}

TEST_CASE("contraction: outer flattens its operands") {
  Var x = vector("x"), w = vector("w");
  check_array(evaluate(outer(x, w),
                       {{x, make(float32, v, {3})}, {w, make(float32, {4, 5, 6}, {3})}}),
              float32, {3, 3}, {4, 5, 6, 8, 10, 12, 12, 15, 18});
  Var m = matrix("m"), i = vector("i", int32);
  Var y = outer(m, i);
  CHECK(y.dtype() == float32);
  CHECK(y.rank() == 2);
  check_array(evaluate(y, {{m, make(float32, {1, 2, 3, 4}, {2, 2})},
                          {i, make(int32, {10, -1}, {2})}}),
              float32, {4, 2}, {10, -1, 20, -2, 30, -3, 40, -4});
  Var c = tensor("c", float64, {2}), d = tensor("d", float64, {2, 1});
  CHECK(outer(c, d).static_shape() == Shape{2, 2});
}

TEST_CASE("contraction: tensordot with a count and with axis lists") {
  Var a = tensor("a", float64, {2, 3}), b = tensor("b", float64, {3, 2});
  Var c = tensor("c", float64, {2, 3}), x = tensor("x", float64, {3});
  Var s = tensor("s", float64, {2, 2, 3}), bb = tensor("bb", float64, {2, 3, 2});
  Bindings values{{a, make(float64, A, {2, 3})},    {b, make(float64, B, {3, 2})},
                  {c, make(float64, {1, 0, 1, 0, 1, 0}, {2, 3})}, {x, make(float64, v, {3})},
                  {s, make(float64, S, {2, 2, 3})}, {bb, make(float64, BB, {2, 3, 2})}};
  check_array(evaluate(tensordot(a, b, 1), values), float64, {2, 2}, {58, 64, 139, 154});
  check_array(evaluate(tensordot(a, a, 2), values), float64, {}, {91});
  check_array(evaluate(tensordot(x, x, 0), values), float64, {3, 3},
              {1, 2, 3, 2, 4, 6, 3, 6, 9});
  check_array(evaluate(tensordot(a, c, {1}, {1}), values), float64, {2, 2}, {4, 2, 10, 5});
  check_array(evaluate(tensordot(s, bb, {0, 2}, {0, 1}), values), float64, {2, 2},
              {59, 64, 139, 155});
  check_array(evaluate(tensordot(s, bb, {-3, -1}, {0, -2}), values), float64, {2, 2},
              {59, 64, 139, 155});
  // Summed axes in a different order than they are stored: s's (2, 0) against bb's (1, 0).
  check_array(evaluate(tensordot(s, bb, {2, 0}, {1, 0}), values), float64, {2, 2},
              {59, 64, 139, 155});
  Var su = tensor("su", float64, {unknown_dim, 2, unknown_dim});
  Var bu = tensor3("bu", float64);
  check_array(evaluate(tensordot(su, bu, {0, 2}, {0, 1}),
                       {{su, values[4].second}, {bu, values[5].second}}),
              float64, {2, 2}, {59, 64, 139, 155});
}

// Summed axes stored first (sum over t and b of x[t, b]^T y[t, b], BPTT's weight gradients) or
// last in the right operand: the operand is reshaped to the other matrix and transposed, a
// view BLAS reads with its transpose flag, not transposed whole and then copied by reshape.
TEST_CASE("contraction: tensordot over stored-first summed axes reshapes, then transposes") {
  Var x = tensor("x", float64, {3, 2, 4}), y = tensor("y", float64, {3, 2, 5});
  Var z = tensor3("z", float64);
  Bindings values{{x, Array::uniform(1, {3, 2, 4}, -1, 1, float64)},
                  {y, Array::uniform(2, {3, 2, 5}, -1, 1, float64)},
                  {z, Array::uniform(3, {5, 2, 4}, -1, 1, float64)}};
  // The operand as the product reads it: transpose(reshape(v)), v itself below.
  auto reshaped_then_transposed = [](const Var& operand, const Var& v) {
    const Node& t = *operand.node();
    return &t.op() == &ops::dimshuffle_op() && t.attrs().get_ints("pattern") == Ints{1, 0} &&
           &t.input(0).node()->op() == &ops::reshape_op() && t.input(0).node()->input(0).same(v);
  };
  // x's (t, b) against y's (t, b): x enters as reshape(x, [6, 4])^T
  Var leading = tensordot(x, y, {0, 1}, {0, 1});
  REQUIRE(&leading.node()->op() == &ops::matmul_op());
  CHECK(reshaped_then_transposed(leading.node()->input(0), x));
  Var want = (dimshuffle(x, {0, 1, 2, -1}) * dimshuffle(y, {0, 1, -1, 2})).sum({0, 1});
  CHECK(allclose(evaluate(leading, values), evaluate(want, values), 1e-12, 1e-12));
  // x's (b, i) against z's (b, i), which z stores after its free axis: z enters as
  // reshape(z, [5, 8])^T; unknown sizes alike
  Var trailing = tensordot(x, z, {1, 2}, {1, 2});
  REQUIRE(&trailing.node()->op() == &ops::matmul_op());
  CHECK(reshaped_then_transposed(trailing.node()->input(1), z));
  Var want2 = (dimshuffle(x, {0, -1, 1, 2}) * dimshuffle(z, {-1, 0, 1, 2})).sum({2, 3});
  CHECK(allclose(evaluate(trailing, values), evaluate(want2, values), 1e-12, 1e-12));
  // summed axes stored in another order: transposed first, as before
  Var swapped = tensordot(x, y, {1, 0}, {1, 0});
  CHECK(allclose(evaluate(swapped, values), evaluate(want, values), 1e-12, 1e-12));
}

TEST_CASE("contraction: user errors name the op, the types and the line") {
  Var a = tensor("a", float32, {2, 3}), b = tensor("b", float32, {4, 5});
  CHECK_ERROR(matmul(a, b),
              {"matmul", "inner dimensions do not match: float32[2, 3] @ float32[4, 5]", file});
  CHECK_ERROR(matmul(tensor("v", float32, {4}), a),
              {"matmul", "inner dimensions", "float32[4] @ float32[2, 3]", file});
  CHECK_ERROR(matmul(tensor("s", float32, {2, 2, 3}), tensor("t", float32, {3, 3, 2})),
              {"matmul", "batch dimensions", "float32[2, 2, 3] @ float32[3, 3, 2]", file});
  CHECK_ERROR(matmul(scalar("k"), a), {"matmul", "rank >= 1", "float32[]", file});
  CHECK_ERROR(apply(ops::matmul_op(), {a, tensor("d", float64, {3, 2})}, Attrs{},
                    std::source_location::current()),
              {"matmul", "dtypes differ", "float32[2, 3] @ float64[3, 2]", file});
  CHECK_ERROR(matmul(Var(), a), {"matmul", "null", file});

  // At run time, with unknown sizes.
  Var x = matrix("x"), y = matrix("y");
  CHECK_ERROR(evaluate(matmul(x, y), {{x, Array::zeros({2, 3})}, {y, Array::zeros({4, 5})}}),
              {"matmul", "inner dimensions do not match: float32[2, 3] @ float32[4, 5]", file});
  Var p = tensor3("p"), q = tensor3("q");
  CHECK_ERROR(evaluate(matmul(p, q), {{p, Array::zeros({2, 2, 3})}, {q, Array::zeros({3, 3, 2})}}),
              {"matmul", "batch dimensions do not match", "float32[2, 2, 3] @ float32[3, 3, 2]",
               file});
  // Unknown dims never stretch, even when they turn out to be 1 (Theano's rule).
  CHECK_ERROR(evaluate(matmul(p, q), {{p, Array::zeros({1, 2, 3})}, {q, Array::zeros({2, 3, 2})}}),
              {"matmul", "batch dimensions do not match", "float32[1, 2, 3]", file});

  Var s = tensor("s", float32, {2, 3, 4});
  CHECK_ERROR(dot(s, tensor("t", float32, {5, 6})),
              {"dot", "summed axes differ", "float32[2, 3, 4]", "float32[5, 6]", file});
  CHECK_ERROR(tensordot(s, a, 3), {"tensordot", "3 axes", "float32[2, 3, 4]", file});
  CHECK_ERROR(tensordot(s, a, -1), {"tensordot", "-1 axes", file});
  CHECK_ERROR(tensordot(s, a, {0, 1}, {0}), {"tensordot", "differ in length", file});
  CHECK_ERROR(tensordot(s, a, {3}, {0}), {"tensordot", "axis 3", "rank 3", "float32[2, 3, 4]",
                                          file});
  CHECK_ERROR(tensordot(s, a, {1, -2}, {0, 1}), {"tensordot", "repeated", file});
  CHECK_ERROR(tensordot(s, a, {2}, {1}),
              {"tensordot", "summed axes differ", "float32[2, 3, 4]", "float32[2, 3]", file});
  CHECK_ERROR(outer(a, Var()), {"outer", "null", file});
  // Summed sizes that disagree at run time surface as the product's inner dimensions.
  Var su = tensor3("su"), bu = tensor3("bu");
  CHECK_ERROR(evaluate(dot(su, bu), {{su, Array::zeros({2, 2, 3})}, {bu, Array::zeros({2, 4, 2})}}),
              {"matmul", "inner dimensions do not match", file});
}

namespace {

// gemm(A, B, c, 2, -1) = 2 A@B - c for every shape of c, and the gemv forms (one row, one
// column), with A@B = [[58, 64], [139, 154]].
struct GemmCase {
  const char* label;
  Values a;
  Shape a_shape;
  Values b;
  Shape b_shape;
  Values c;
  Shape c_shape;
  Shape out_shape;
  Values want;
};

const std::vector<GemmCase> gemm_cases = {
    {"scalar addend", A, {2, 3}, B, {3, 2}, {1}, {}, {2, 2}, {115, 127, 277, 307}},
    {"bias row [n]", A, {2, 3}, B, {3, 2}, {1, 2}, {2}, {2, 2}, {115, 126, 277, 306}},
    {"bias row [1, n]", A, {2, 3}, B, {3, 2}, {1, 2}, {1, 2}, {2, 2}, {115, 126, 277, 306}},
    {"column [m, 1]", A, {2, 3}, B, {3, 2}, {1, 2}, {2, 1}, {2, 2}, {115, 127, 276, 306}},
    {"full matrix", A, {2, 3}, B, {3, 2}, {1, 2, 3, 4}, {2, 2}, {2, 2}, {115, 126, 275, 304}},
    {"one row (gemv)", v, {1, 3}, B, {3, 2}, {1, 2}, {2}, {1, 2}, {115, 126}},
    {"one column (gemv)", A, {2, 3}, v, {3, 1}, {1, 2}, {2, 1}, {2, 1}, {27, 62}},
    {"empty sum: -c", {}, {2, 0}, {}, {0, 2}, {1, 2}, {2}, {2, 2}, {-1, -2, -1, -2}},
};

}  // namespace

TEST_CASE("contraction: gemm is alpha * a @ b + beta * c for every shape of c") {
  for (const GemmCase& c : gemm_cases) {
    for (DType dtype : {float32, float64}) {
      CAPTURE(c.label);
      CAPTURE(dtype_name(dtype));
      Array av = make(dtype, c.a, c.a_shape), bv = make(dtype, c.b, c.b_shape);
      Array cv = make(dtype, c.c, c.c_shape);
      Var a = tensor("a", dtype, c.a_shape), b = tensor("b", dtype, c.b_shape);
      Var k = tensor("c", dtype, c.c_shape);
      Var y = gemm(a, b, k, 2, -1);
      CHECK(shape_str(y.static_shape()) == shape_str(c.out_shape));
      check_array(evaluate(y, {{a, av}, {b, bv}, {k, cv}}), dtype, c.out_shape, c.want);
      // Unknown sizes, and the operands as transposed views (BLAS's flags, no copy).
      Var au = matrix("a", dtype), bu = matrix("b", dtype);
      Var yu = gemm(au, bu, k, 2, -1);
      auto column_major = [](const Array& m) { return m.copy().transpose().copy().transpose(); };
      Array at = column_major(av), bt = column_major(bv);
      check_array(evaluate(yu, {{au, at}, {bu, bt}, {k, cv}}), dtype, c.out_shape, c.want);
    }
  }
  // beta 0: c is not read (NaN stays out); alpha 0 gives beta * c.
  Var a = matrix("a"), b = matrix("b"), c = matrix("c");
  Bindings values{{a, make(float32, A, {2, 3})}, {b, make(float32, B, {3, 2})},
                  {c, Array::full({2, 2}, std::nan(""))}};
  check_array(evaluate(gemm(a, b, c, 1, 0), values), float32, {2, 2}, {58, 64, 139, 154});
  values[2].second = make(float32, {1, 2, 3, 4}, {2, 2});
  check_array(evaluate(gemm(a, b, c, 0, 3), values), float32, {2, 2}, {3, 6, 9, 12});
}

TEST_CASE("contraction: gemm's user errors name the op, the types and the line") {
  Var a = tensor("a", float32, {2, 3}), b = tensor("b", float32, {4, 5});
  Var c = tensor("c", float32, {5});
  CHECK_ERROR(gemm(a, b, c), {"gemm", "inner dimensions do not match: float32[2, 3] @ "
                                      "float32[4, 5]", file});
  Var bm = tensor("bm", float32, {3, 5});
  CHECK_ERROR(gemm(a, bm, tensor("d", float32, {4})),
              {"gemm", "addend float32[4] does not broadcast to the product's shape [2, 5]", file});
  CHECK_ERROR(gemm(tensor("r", float32, {1, 3}), bm, tensor("e", float32, {2, 5})),
              {"gemm", "addend float32[2, 5]", "[1, 5]", file});
  CHECK_ERROR(gemm(a, bm, tensor("t", float32, {1, 2, 5})), {"gemm", "more dims", file});
  CHECK_ERROR(gemm(tensor("s", float32, {2, 2, 3}), bm, c), {"gemm", "must be matrices", file});
  CHECK_ERROR(gemm(matrix("i", int32), matrix("j", int32), scalar("k", int32)),
              {"gemm", "float operands", "int32", file});
  CHECK_ERROR(gemm(a, tensor("f", float64, {3, 5}), c), {"gemm", "one dtype", "float64", file});
  CHECK_ERROR(gemm(a, bm, Var()), {"gemm", "null", file});
  // At run time, with unknown sizes: c stretches only along its static 1s.
  Var x = matrix("x"), y = matrix("y"), z = vector("z");
  Var g = gemm(x, y, z);
  auto at = [&](const Shape& xs, const Shape& ys, const Shape& zs) {
    return Bindings{{x, Array::zeros(xs)}, {y, Array::zeros(ys)}, {z, Array::zeros(zs)}};
  };
  CHECK_ERROR(evaluate(g, at({2, 3}, {4, 5}, {5})),
              {"gemm", "inner dimensions do not match: float32[2, 3] @ float32[4, 5]", file});
  CHECK_ERROR(evaluate(g, at({2, 3}, {3, 5}, {1})),
              {"gemm", "addend float32[1] does not broadcast to the product's shape [2, 5]",
               "static size 1", file});
}

TEST_CASE("contraction: every contraction op of ops::all_ops() has a row in the table") {
  std::set<std::string> covered;
  for (const Case& c : cases) covered.insert(c.name);
  if (!gemm_cases.empty()) covered.insert("gemm");
  test::check_op_coverage(OpFamily::Contraction, covered);
}
