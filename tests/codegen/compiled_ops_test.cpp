// Every op of the table, compiled, against the interpreter on the same values: shapes with
// broadcasting, size-1 and empty dims, strided (transposed) inputs and lengths that are not
// multiples of the vector width. Tolerances: float32 within 1e-5 relative (+1e-6 absolute;
// generated code uses the vectorized math of codegen/prelude/math.hpp and reassociated
// sums), float64 within 1e-12, integers and bool exactly, NaN where the interpreter has NaN
// (tests/op_values.hpp).
#include <set>
#include <string>
#include <vector>

#include "cgvm.hpp"
#include "op_values.hpp"
#include "support.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using namespace cgvm::test;

namespace {

std::set<std::string> covered;

// Compiles `outputs` over `inputs` and checks every result against the interpreter.
void check_compiled(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                    const std::vector<Array>& values, const std::string& what) {
  for (const Var& o : outputs)
    for (const Node* n : topo_sort(std::vector<Var>{o})) covered.insert(std::string(n->op().name));
  auto compiled = function(inputs, outputs, {.on_unused_input = OnUnusedInput::Ignore});
  auto reference = function(inputs, outputs,
                            {.on_unused_input = OnUnusedInput::Ignore, .mode = Mode::Interpret});
  std::vector<Value> args(values.begin(), values.end());
  Outputs got = compiled(args), want = reference(args);
  REQUIRE(got.size() == outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i)
    check_same(got[i], want[i], what + " output " + std::to_string(i));
}

}  // namespace

TEST_CASE("compiled: every unary elementwise op equals the interpreter") {
  for (const OpDef* op : ops::all_ops()) {
    if (op->family != OpFamily::Elementwise || op->min_inputs != 1 || !op->emit ||
        op->name == "cast")
      continue;
    for (DType dtype : dtypes) {
      if (!in_domain(*op, dtype)) continue;
      std::string what = std::string(op->name) + " " + std::string(dtype_name(dtype));
      // 37 elements: not a multiple of any vector width; a transposed 7x5 view; empty.
      Var v = tensor("v", dtype, {unknown_dim});
      Var m = tensor("m", dtype, {unknown_dim, unknown_dim});
      auto here = std::source_location::current();
      check_compiled({v}, {apply(*op, {v}, {}, here)}, {values_for(dtype, {37}, 1)}, what);
      check_compiled({m}, {apply(*op, {m}, {}, here)},
                     {values_for(dtype, {5, 7}, 2).transpose()}, what + " strided");
      check_compiled({m}, {apply(*op, {m}, {}, here)}, {values_for(dtype, {0, 3}, 3)},
                     what + " empty");
    }
  }
}

TEST_CASE("compiled: every binary elementwise op equals the interpreter, with broadcasting") {
  for (const OpDef* op : ops::all_ops()) {
    if (op->family != OpFamily::Elementwise || op->min_inputs != 2 || !op->emit) continue;
    for (DType dtype : dtypes) {
      if (!in_domain(*op, dtype)) continue;
      std::string what = std::string(op->name) + " " + std::string(dtype_name(dtype));
      auto here = std::source_location::current();
      Var a = tensor("a", dtype, {unknown_dim, unknown_dim});
      Var row = tensor("row", dtype, {1, unknown_dim});
      Var col = tensor("col", dtype, {unknown_dim});
      // (5, 19) op (1, 19), and the (19,) vector against the rows in the other order.
      check_compiled({a, row, col}, {apply(*op, {a, row}, {}, here), apply(*op, {col, a}, {}, here)},
                     {values_for(dtype, {5, 19}, 4), values_for(dtype, {1, 19}, 5),
                      values_for(dtype, {19}, 6)},
                     what);
      // Both operands transposed views of one another's shape.
      check_compiled({a}, {apply(*op, {a, apply(ops::dimshuffle_op(), {a}, {{"pattern", Ints{1, 0}}}, here)}, {}, here)},
                     {values_for(dtype, {6, 6}, 7)}, what + " against its transpose");
    }
  }
}

TEST_CASE("compiled: cast between every pair of dtypes, and where") {
  auto here = std::source_location::current();
  for (DType from : dtypes)
    for (DType to : dtypes) {
      Var x = tensor("x", from, {unknown_dim});
      check_compiled({x}, {apply(ops::cast_op(), {x}, {{"dtype", to}}, here)},
                     {values_for(from, {23}, 8)},
                     fmt::format("cast {} -> {}", dtype_name(from), dtype_name(to)));
    }
  for (DType dtype : dtypes) {
    Var c = tensor("c", DType::Bool, {unknown_dim, 1});
    Var a = tensor("a", dtype, {unknown_dim, unknown_dim});
    Var b = tensor("b", dtype, {unknown_dim});
    check_compiled({c, a, b}, {apply(ops::where_op(), {c, a, b}, {}, here)},
                   {int_values(DType::Bool, {4, 1}, 9), values_for(dtype, {4, 17}, 10),
                    values_for(dtype, {17}, 11)},
                   std::string("where ") + std::string(dtype_name(dtype)));
  }
}

TEST_CASE("compiled: every reduction over each axis set equals the interpreter") {
  auto here = std::source_location::current();
  const std::vector<Ints> axis_sets = {{0}, {1}, {0, 1}, {1, 2}, {0, 2}};
  for (const OpDef* op : ops::all_ops()) {
    if (op->family != OpFamily::Reduce) continue;
    for (DType dtype : {DType::Float32, DType::Float64, DType::Int32, DType::Bool}) {
      for (const Ints& axes : axis_sets) {
        bool arg = op->name == "argmax" || op->name == "argmin";
        if (arg && axes.size() != 1) continue;
        for (bool keepdims : {false, true}) {
          Var x = tensor("x", dtype, {unknown_dim, unknown_dim, unknown_dim});
          Var r = apply(*op, {x}, {{"axes", axes}, {"keepdims", keepdims}}, here);
          std::string what = fmt::format("{} {} axes {} keepdims {}", op->name, dtype_name(dtype),
                                         fmt::join(axes, ","), keepdims);
          check_compiled({x}, {r}, {values_for(dtype, {3, 37, 5}, 12)}, what);
          check_compiled({x}, {r}, {values_for(dtype, {4, 5, 6}, 13).transpose({2, 0, 1})},
                         what + " strided");
          if (op->emit_reduce && op->emit_reduce(*r.node()).has_identity)
            check_compiled({x}, {r}, {values_for(dtype, {2, 0, 3}, 14)}, what + " empty");
        }
      }
    }
  }
}

TEST_CASE("compiled: shape, index, contraction and random ops run and equal the interpreter") {
  Var x = matrix("x");
  Var y = matrix("y");
  Var v = vector("v");
  Var i = tensor("i", DType::Int64, {unknown_dim});
  std::vector<Var> outs = {
      dot(x, y),                                   // matmul (BLAS)
      gemm(transpose(x), y, y, 2, -1),             // gemm (BLAS, reading x^T in place)
      x.reshape({x.shape(1), x.shape(0)}) * 2,     // reshape, shape_of, make_vector
      broadcast_to(v, {Dim(3), v.shape(0)}) + 1,   // broadcast_to
      concatenate({x, x * 2}, 0),                  // concatenate
      x(slice(1, none), slice(none, none, -1)) + 1,  // subtensor (negative step)
      inc_subtensor(x(slice(0, 2)), x(slice(1, 3))),  // inc_subtensor
      x[i] * 3,                                    // take
      inc_subtensor(x[i], x[i] * 2),               // inc_take (repeated indices add up)
      arange(v.shape(0)).astype(float32) + v,      // arange
      stop_gradient(x) + grad_clip(x, -1, 1),      // gradient ops (identity forward)
      shape(x).astype(float32) * 2,                // make_vector
  };
  Array xv = Array::normal(20, {3, 3}), yv = Array::normal(21, {3, 4});
  check_compiled({x, y, v, i}, outs,
                 {xv, yv, Array::normal(22, {5}), Array::from_list<std::int64_t>({2, 0, 2})},
                 "non-elementwise ops");
  // Random draws: the same seed gives the same numbers either way.
  RandomStreams a(5), b(5);
  auto fa = function({}, {a.uniform({7}) * 2 + a.normal({7}) + a.integers({7}, 0, 9).astype(float32)});
  auto fb = function({}, {b.uniform({7}) * 2 + b.normal({7}) + b.integers({7}, 0, 9).astype(float32)},
                     {.mode = Mode::Interpret});
  for (const OpDef* op : {&ops::random_uniform_op(), &ops::random_normal_op(), &ops::random_integers_op()})
    covered.insert(std::string(op->name));
  check_same(fa(), fb(), "random draws, first call");
  check_same(fa(), fb(), "random draws, second call");
}

TEST_CASE("compiled: the tables above cover every op") {
  for (OpFamily family : {OpFamily::Elementwise, OpFamily::Reduce, OpFamily::Shape,
                          OpFamily::Index, OpFamily::Contraction, OpFamily::Random,
                          OpFamily::Gradient})
    test::check_op_coverage(family, covered);
}
