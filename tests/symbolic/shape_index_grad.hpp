#pragma once
// Helpers shared by the shape and index families' gradient tests (shape_grad_test.cpp,
// index_grad_test.cpp): one table row per checked use of an op, run against central
// differences, and the coverage check that every op of a family has a row.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cgvm.hpp"
#include "symbolic/op_list.hpp"
#include "support.hpp"

namespace cgvm::test {

using GradBody = std::function<Var(const std::vector<Var>&)>;

// `fn` of random points must contain the primitive op `op`; verify_grad checks it.
struct GradRow {
  const char* op;
  const char* what;
  std::vector<Shape> shapes;  // one random point per shape, in [-1, 1)
  GradBody fn;
};

inline bool graph_uses(const Var& out, std::string_view op) {
  for (const Node* n : topo_sort(std::vector<Var>{out}))
    if (n->op().name == op) return true;
  return false;
}

// The inputs verify_grad gives `fn`: rank known, sizes unknown.
inline std::vector<Var> fresh_inputs(const std::vector<Shape>& shapes, DType dtype) {
  std::vector<Var> inputs;
  for (const Shape& s : shapes)
    inputs.push_back(tensor("p", dtype, Shape(s.size(), unknown_dim)));
  return inputs;
}

// Each row: the graph holds its op; in float32 the gradient graph stays float32 (no float64
// node sneaks in); the float64 gradient matches central differences.
inline void check_rows(const std::vector<GradRow>& rows) {
  std::uint64_t seed = 1;
  for (const GradRow& row : rows) {
    INFO(row.op << ": " << row.what);
    CHECK(graph_uses(row.fn(fresh_inputs(row.shapes, float64)), row.op));

    const std::vector<Var> in32 = fresh_inputs(row.shapes, float32);
    const std::vector<Var> g32 =
        grad(sum(row.fn(in32)), in32, {.disconnected = Disconnected::Zero});
    bool all_float32 = true;
    for (const Node* n : topo_sort(g32))
      for (const TensorType& t : n->output_types()) all_float32 &= t.dtype != float64;
    CHECK(all_float32);

    std::vector<Array> points;
    for (const Shape& s : row.shapes) points.push_back(Array::uniform(seed++, s, -1, 1, float64));
    CHECK_NOTHROW(verify_grad(row.fn, points));
  }
}

// The ops the rows exercise, for check_op_coverage.
inline std::set<std::string> covered_ops(const std::vector<GradRow>& rows) {
  std::set<std::string> names;
  for (const GradRow& row : rows) names.insert(row.op);
  return names;
}

}  // namespace cgvm::test
