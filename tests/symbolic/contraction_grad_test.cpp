// Gradients of matmul for every rank combination numpy.matmul allows (1-d promotion, batch
// dims that broadcast by a missing dim or a static 1), of the compositions dot, outer and
// tensordot, gemm with every shape of its addend, hand-computed values, dtype and line, and
// second derivatives. The last test fails when a contraction op of ops::all_ops() has no
// row in the table.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "symbolic/contraction.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::check_array;
using test::check_grad;
using test::make;
using test::uniform_point;

namespace {

using BinaryFn = std::function<Var(const Var&, const Var&)>;

struct Row {
  const char* name;  // the primitive op or the composition
  const char* label;
  BinaryFn fn;
  Shape a, b;
  // Give the operands these static shapes inside fn: verify_grad's inputs have unknown
  // sizes, and only a static 1 stretches a batch dim.
  bool static_sizes = false;
};

Var fixed(const Var& x, const Shape& shape) { return reshape(x, Dims(shape.begin(), shape.end())); }

const BinaryFn matmul_fn = [](const Var& a, const Var& b) { return matmul(a, b); };
const BinaryFn dot_fn = [](const Var& a, const Var& b) { return dot(a, b); };
const BinaryFn outer_fn = [](const Var& a, const Var& b) { return outer(a, b); };
// Sums a's axes 0 and 2 against b's axes 1 and 0.
const BinaryFn tensordot_lists_fn = [](const Var& a, const Var& b) {
  return tensordot(a, b, {0, 2}, {1, 0});
};
BinaryFn tensordot_fn(std::int64_t axes) {
  return [axes](const Var& a, const Var& b) { return tensordot(a, b, axes); };
}

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      {"matmul", "vector @ vector", matmul_fn, {4}, {4}},
      {"matmul", "vector @ matrix", matmul_fn, {4}, {4, 3}},
      {"matmul", "matrix @ vector", matmul_fn, {2, 4}, {4}},
      {"matmul", "matrix @ matrix", matmul_fn, {2, 4}, {4, 3}},
      {"matmul", "vector @ batch", matmul_fn, {4}, {2, 4, 3}},
      {"matmul", "batch @ vector", matmul_fn, {2, 3, 4}, {4}},
      {"matmul", "batch @ batch", matmul_fn, {2, 3, 4}, {2, 4, 5}},
      {"matmul", "batch @ matrix", matmul_fn, {2, 3, 4}, {4, 5}},
      {"matmul", "matrix @ batch", matmul_fn, {3, 4}, {2, 4, 5}},
      {"matmul", "rank 4 @ batch (a missing dim)", matmul_fn, {3, 2, 2, 4}, {2, 4, 5}},
      {"matmul", "static 1 batch @ batch", matmul_fn, {1, 3, 4}, {2, 4, 5}, true},
      {"matmul", "batch @ static 1 batch", matmul_fn, {2, 3, 4}, {1, 4, 5}, true},
      {"matmul", "both stretch", matmul_fn, {2, 1, 3, 4}, {1, 3, 4, 2}, true},
      {"matmul", "static matrix @ matrix", matmul_fn, {2, 4}, {4, 3}, true},
      {"matmul", "static vector @ batch", matmul_fn, {4}, {1, 4, 3}, true},
      {"dot", "scalar . matrix", dot_fn, {}, {2, 3}},
      {"dot", "vector . vector", dot_fn, {5}, {5}},
      {"dot", "matrix . vector", dot_fn, {2, 5}, {5}},
      {"dot", "rank 3 . matrix", dot_fn, {2, 3, 4}, {4, 2}},
      {"dot", "rank 3 . vector", dot_fn, {2, 3, 4}, {4}},
      {"dot", "matrix . rank 3", dot_fn, {2, 4}, {3, 4, 2}},
      {"outer", "vector x vector", outer_fn, {3}, {4}},
      {"outer", "matrix x vector (flattened)", outer_fn, {2, 3}, {4}},
      {"tensordot", "axes 0", tensordot_fn(0), {2, 3}, {4}},
      {"tensordot", "axes 1", tensordot_fn(1), {2, 3}, {3, 4}},
      {"tensordot", "axes 2", tensordot_fn(2), {2, 3, 4}, {3, 4, 5}},
      {"tensordot", "axes 2, static", tensordot_fn(2), {2, 3, 4}, {3, 4, 5}, true},
      {"tensordot", "axis lists", tensordot_lists_fn, {3, 2, 4}, {4, 3, 5}},
  };
  return table;
}

}  // namespace

TEST_CASE("contraction grad: every rank combination") {
  std::uint64_t seed = 0;
  for (const Row& row : rows()) {
    auto fn = [&](const std::vector<Var>& in) {
      if (!row.static_sizes) return row.fn(in[0], in[1]);
      return row.fn(fixed(in[0], row.a), fixed(in[1], row.b));
    };
    check_grad(std::string(row.name) + ": " + row.label, fn,
               {uniform_point(++seed, row.a, -1, 1), uniform_point(++seed, row.b, -1, 1)});
  }
}

TEST_CASE("contraction grad: hand-computed values") {
  Var a = matrix("a", float64), b = matrix("b", float64);
  Array av = make(float64, {1, 2, 3, 4}, {2, 2}), bv = make(float64, {5, 6, 7, 8}, {2, 2});
  Array w = make(float64, {1, 0, 0, 2}, {2, 2});
  // cost = sum(W * (A @ B)): dA = W @ B^T, dB = A^T @ W.
  auto g = grad(sum(matmul(a, b) * w), {a, b});
  Bindings at{{a, av}, {b, bv}};
  check_array(evaluate(g[0], at), float64, {2, 2}, {5, 7, 12, 16});
  check_array(evaluate(g[1], at), float64, {2, 2}, {1, 6, 2, 8});
  // vector @ vector: d/da = b, d/db = a, times the incoming gradient 3.
  Var u = vector("u", float64), v = vector("v", float64);
  auto gv = grad(matmul(u, v) * 3, {u, v});
  Bindings uv{{u, make(float64, {1, 2}, {2})}, {v, make(float64, {4, -1}, {2})}};
  check_array(evaluate(gv[0], uv), float64, {2}, {12, -3});
  check_array(evaluate(gv[1], uv), float64, {2}, {3, 6});
  // A static batch of 1 against a batch of 2: the two products' gradients add up.
  Var x = tensor("x", float64, {1, 1, 2}), y = tensor("y", float64, {2, 2, 1});
  Var gx = grad(sum(matmul(x, y)), x);
  CHECK(gx.static_shape() == Shape{1, 1, 2});
  check_array(evaluate(gx, {{x, make(float64, {1, 1}, {1, 1, 2})},
                            {y, make(float64, {1, 2, 3, 4}, {2, 2, 1})}}),
              float64, {1, 1, 2}, {4, 6});
}

TEST_CASE("contraction grad: dtype, static shapes and the forward line") {
  Var a = tensor("a", float32, {unknown_dim, 3, 4}), b = tensor("b", float32, {4});
  unsigned forward = __LINE__ + 1;
  Var cost = sum(matmul(a, b));
  unsigned backward = __LINE__ + 1;
  auto g = grad(cost, {a, b});
  CHECK(g[0].dtype() == float32);
  CHECK(g[1].dtype() == float32);
  CHECK(g[0].static_shape() == Shape{unknown_dim, 3, 4});
  CHECK(g[1].static_shape() == Shape{4});
  for (const Node* n : topo_sort(g)) {
    if (n->op().name == "input") continue;
    unsigned line = n->location().line();
    INFO("node " << n->op().name << " at line " << line);
    CHECK((line == forward || line == backward));
  }
}

TEST_CASE("contraction grad: second derivatives") {
  // x^T M x: the Hessian is M + M^T.
  Var x = tensor("x", float64, {2});
  Array m = make(float64, {1, 2, 3, 4}, {2, 2});
  Var q = dot(x, matmul(constant(m), x));
  check_array(evaluate(hessian(q, x), {{x, make(float64, {0.5, -1}, {2})}}), float64, {2, 2},
              {2, 5, 5, 8});
  // The gradient of sum((A @ B)^2) checked against its own finite differences, in A and B:
  // second derivatives through matmul, transposes and batch sums.
  struct Pair {
    Shape a, b;
  };
  std::uint64_t seed = 100;
  for (const Pair& p : {Pair{{3, 4}, {4, 2}}, Pair{{4}, {2, 4, 3}}, Pair{{2, 3, 4}, {4}}}) {
    auto grad_a = [](const std::vector<Var>& in) {
      Var c = matmul(in[0], in[1]);
      return grad(sum(c * c), in[0]);
    };
    check_grad("second derivative of sum((A @ B)^2)", grad_a,
               {uniform_point(++seed, p.a, -1, 1), uniform_point(++seed, p.b, -1, 1)});
  }
}

TEST_CASE("contraction grad: gemm, with every shape of its addend") {
  // dA = alpha G B^T, dB = alpha A^T G, dC = beta G summed over the dims C stretched along.
  struct GemmRow {
    const char* label;
    Shape c;
    double alpha, beta;
    bool transposed = false;  // A enters as the transpose of a [4, 2] input
  };
  const GemmRow gemm_rows[] = {
      {"scalar addend", {}, 2, -1},          {"bias row [n]", {3}, 1, 1},
      {"bias row [1, n]", {1, 3}, 0.5, 2},   {"column [m, 1]", {2, 1}, -1, 1},
      {"full matrix", {2, 3}, 1.5, -0.5},    {"beta 0: c unread", {2, 3}, 2, 0},
      {"transposed operand", {3}, 3, 1, true},
  };
  std::uint64_t seed = 200;
  for (const GemmRow& row : gemm_rows) {
    auto fn = [&](const std::vector<Var>& in) {
      Var a = row.transposed ? transpose(in[0]) : in[0];
      return gemm(a, in[1], row.c.empty() ? in[2] : fixed(in[2], row.c), row.alpha, row.beta);
    };
    check_grad(std::string("gemm: ") + row.label, fn,
               {uniform_point(++seed, row.transposed ? Shape{4, 2} : Shape{2, 4}, -1, 1),
                uniform_point(++seed, {4, 3}, -1, 1), uniform_point(++seed, row.c, -1, 1)});
  }
  // Second derivatives: the gradient of sum(gemm(A, B, c)^2) in A, against its own finite
  // differences.
  auto grad_a = [](const std::vector<Var>& in) {
    Var y = gemm(in[0], in[1], in[2], 2, -1);
    return grad(sum(y * y), in[0]);
  };
  check_grad("second derivative of sum(gemm(A, B, c)^2)", grad_a,
             {uniform_point(300, {3, 4}, -1, 1), uniform_point(301, {4, 2}, -1, 1),
              uniform_point(302, {2}, -1, 1)});
}

TEST_CASE("contraction grad: every contraction op has a gradient row") {
  // No contraction op lacks a gradient today: a new one needs a row or a reason.
  std::set<std::string> covered{"gemm"};  // its own test, above
  for (const Row& row : rows()) covered.insert(row.name);
  test::check_op_coverage(OpFamily::Contraction, covered, {}, /*require_grad=*/true);
}
