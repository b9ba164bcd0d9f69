// The CUDA emitter's kernels against the interpreter: every elementwise op and accumulating
// reduction for every dtype it takes, with broadcast, strided and empty operands; maps over
// more points than the grid has threads; row and column softmax; reductions of several
// types sharing one kernel's shared slots; and whole training functions (an MLP step, an
// LSTM through scan, its loop bodies' kernels included). Each case runs twice: on the CPU
// emulation of a GPU (cuda_emulator.hpp; what CI checks of the kernels' arithmetic,
// indexing and block reductions) and on a real GPU where there is one
// (cuda/staged_kernels.hpp), skipping with a message where there is none.
#include <algorithm>
#include <string>
#include <vector>

#include "api/executor.hpp"
#include "cuda/staged_kernels.hpp"
#include "cuda_emulator.hpp"
#include "cuda_helpers.hpp"
#include "op_values.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm::test {
namespace {

// An executor of `program` whose kernels `runner` launches (CudaEmulator or
// cuda::StagedKernels); the runner must outlive it.
template <class Runner>
Executor executor_on(Runner& runner, const Program& program) {
  return Executor(program, [&runner](const KernelCall& call) { runner.launch(call); });
}

// Runs `program` (lowered from `outputs`) with `values` bound to `inputs`, its kernels on
// `runner`, and compares every result with the interpreter's.
template <class Runner>
void check_kernels(Runner& runner, const Program& program, const std::vector<Var>& inputs,
                   const std::vector<Var>& outputs, const std::vector<Array>& values,
                   const std::string& what) {
  Executor executor = executor_on(runner, program);
  std::vector<Array> got = executor.run(values);
  Bindings bindings;
  for (std::size_t i = 0; i < inputs.size(); ++i) bindings.emplace_back(inputs[i], values[i]);
  std::vector<Array> want = evaluate(outputs, bindings);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    check_same(got[i], want[i], fmt::format("{} output {} ({})", what, i,
                                            outputs[i].node()->op().name));
}

// Float32 results of long sums (training graphs): within 1e-4 of the largest magnitude.
void check_close(const Array& got, const Array& want, const std::string& what) {
  INFO(what);
  REQUIRE(shape_str(got.shape()) == shape_str(want.shape()));
  std::vector<double> g = got.to_double_vector(), w = want.to_double_vector();
  double scale = 1e-30;
  for (double x : w) scale = std::max(scale, std::fabs(x));
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", interpreter " << w[i]);
    REQUIRE(std::fabs(g[i] - w[i]) <= 1e-4 * scale);
  }
}

template <class Runner>
void every_elementwise_op() {
  auto here = std::source_location::current();
  for (DType dtype : dtypes) {
    // Maps over a vector of 37 (not a multiple of a block), over a transposed 7x5 view,
    // over rows against a broadcast row and a vector against the rows; casts; where.
    Var v = tensor("v", dtype, {unknown_dim});
    Var m = tensor("m", dtype, {unknown_dim, unknown_dim});
    Var a = tensor("a", dtype, {unknown_dim, unknown_dim});
    Var row = tensor("row", dtype, {1, unknown_dim});
    Var col = tensor("col", dtype, {unknown_dim});
    Var c = tensor("c", DType::Bool, {unknown_dim, 1});
    std::vector<Var> outputs;
    for (const OpDef* op : ops::all_ops()) {
      if (op->family != OpFamily::Elementwise || !op->emit || op->name == "cast" ||
          !in_domain(*op, dtype))
        continue;
      if (op->min_inputs == 1) {
        outputs.push_back(apply(*op, {v}, {}, here));
        outputs.push_back(apply(*op, {m}, {}, here));
      } else if (op->min_inputs == 2) {
        outputs.push_back(apply(*op, {a, row}, {}, here));
        outputs.push_back(apply(*op, {col, a}, {}, here));
      }
    }
    for (DType to : dtypes)
      if (to != dtype) outputs.push_back(apply(ops::cast_op(), {v}, {{"dtype", to}}, here));
    outputs.push_back(apply(ops::where_op(), {c, a, row}, {}, here));
    const std::vector<Var> inputs = {v, m, a, row, col, c};
    Program program = lower_as_written(inputs, outputs);
    Runner runner(program);
    check_kernels(runner, program, inputs, outputs,
                   {values_for(dtype, {37}, 1), values_for(dtype, {5, 7}, 2).transpose(),
                    values_for(dtype, {5, 19}, 3), values_for(dtype, {1, 19}, 4),
                    values_for(dtype, {19}, 5), int_values(DType::Bool, {5, 1}, 6)},
                   std::string(dtype_name(dtype)));
  }
}

// Maps over more points than a round of the grid has threads (the emulator's 2048; a
// GPU's, with `wide` at 500,000: 1.5 million points), where each thread moves its outer
// and inner point by the grid's step: over a transposed view against a broadcast row, and
// over a 3-d tensor (two outer dims) against a broadcast vector.
template <class Runner>
void maps_past_the_grid(std::int64_t wide) {
  Var x = matrix("x"), row = tensor("row", DType::Float32, {1, unknown_dim});
  Var t = tensor3("t"), v = vector("v");
  const std::vector<Var> inputs = {x, row, t, v}, outputs = {x * row + 1, t * v};
  Program program = lower_as_written(inputs, outputs);
  Runner runner(program);
  check_kernels(runner, program, inputs, outputs,
                {float_values(DType::Float32, {wide, 3}, 14).transpose(),
                 float_values(DType::Float32, {1, wide}, 15),
                 float_values(DType::Float32, {4, 7, wide / 10}, 16),
                 float_values(DType::Float32, {wide / 10}, 17)},
                "maps past the grid");
}

// Returns the launch modes used where the runner tells (the emulator).
template <class Runner>
std::set<int> every_reduction() {
  auto here = std::source_location::current();
  std::set<int> modes;
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int32, DType::Bool}) {
    Var x = tensor("x", dtype, {unknown_dim, unknown_dim, unknown_dim});
    std::vector<Var> all, with_identity;
    for (const OpDef* op : ops::all_ops()) {
      if (op->family != OpFamily::Reduce || !op->emit_reduce ||
          !in_domain(*op, dtype, {{"axes", Ints{0}}, {"keepdims", false}}))
        continue;
      for (const Ints& axes : {Ints{0}, Ints{1}, Ints{2}, Ints{0, 1}, Ints{1, 2}, Ints{0, 2},
                               Ints{0, 1, 2}})
        for (bool keepdims : {false, true}) {
          Var r = apply(*op, {x}, {{"axes", axes}, {"keepdims", keepdims}}, here);
          all.push_back(r);
          if (op->emit_reduce(*r.node()).has_identity) with_identity.push_back(r);
        }
    }
    const std::string what(dtype_name(dtype));
    Program program = lower_as_written({x}, all);
    Runner runner(program);
    // 37 along the middle: a block of 64 threads per row there; 3 and 5: a thread each.
    check_kernels(runner, program, {x}, all, {values_for(dtype, {3, 37, 5}, 7)}, what);
    check_kernels(runner, program, {x}, all,
                   {values_for(dtype, {4, 5, 6}, 8).transpose({2, 0, 1})}, what + " strided");
    check_kernels(runner, program, {x}, all, {values_for(dtype, {2, 70, 3}, 9)},
                   what + " longer");
    // 40 strided reduced points under 66 contiguous outer points: columns.
    check_kernels(runner, program, {x}, all, {values_for(dtype, {2, 40, 33}, 10)},
                   what + " columns");
    if constexpr (requires { runner.modes(); })
      modes.insert(runner.modes().begin(), runner.modes().end());
    Program identity_program = lower_as_written({x}, with_identity);
    Runner identity_runner(identity_program);
    check_kernels(identity_runner, identity_program, {x}, with_identity,
                   {values_for(dtype, {2, 0, 3}, 11)}, what + " empty");
  }
  return modes;
}

template <class Runner>
void softmax_and_friends() {
  Var x = matrix("x");
  std::vector<Var> outputs = {softmax(x), softmax(x, 0), logsumexp(x, Axes{1}), x.mean(Axes{0}),
                              x.max() - x.min()};
  Program program = lower_as_written({x}, outputs);
  Runner runner(program);
  check_kernels(runner, program, {x}, outputs, {float_values(DType::Float32, {6, 150}, 11)},
                 "a wide matrix");
  check_kernels(runner, program, {x}, outputs,
                 {Array::normal(12, {150, 6}, 0, 2).transpose()}, "a transposed one");
  // Columns of 40 under 70 contiguous columns: softmax(x, 0) in column mode, its results
  // stored per point.
  check_kernels(runner, program, {x}, outputs, {float_values(DType::Float32, {40, 70}, 13)},
                "a tall matrix");
}

// Reductions of several types in one kernel, sharing one array of shared slots, in each mode
// that uses them: rows across a block, and columns (a transposed matrix's rows); NaNs where
// a max or min must keep them.
template <class Runner>
std::set<int> reductions_sharing_slots() {
  Var x = tensor("x", DType::Float64, {unknown_dim, unknown_dim});
  std::vector<Var> outputs = {x.max(Axes{1}) + x.min(Axes{1}) + x.sum(Axes{1}) +
                              (x > 0).astype(DType::Int32).sum(Axes{1})};
  Program program = lower_as_written({x}, outputs);
  INFO(program.str());
  REQUIRE(program.kernels.size() == 1);
  const std::vector<const Node*>& nodes = program.kernels.front().nodes;
  const auto reduces = [](const Node* n) { return n->op().emit_reduce != nullptr; };
  REQUIRE(std::ranges::count_if(nodes, reduces) == 4);
  Runner runner(program);
  Array wide = float_values(DType::Float64, {6, 300}, 21);
  wide.set<double>({2, 17}, std::nan(""));
  check_kernels(runner, program, {x}, outputs, {wide}, "wide rows");
  check_kernels(runner, program, {x}, outputs, {float_values(DType::Float64, {70, 40}, 22)},
                "short rows");
  check_kernels(runner, program, {x}, outputs,
                {float_values(DType::Float64, {40, 70}, 23).transpose()}, "columns");
  if constexpr (requires { runner.modes(); }) return runner.modes();
  return {};
}

template <class Runner>
void training_functions() {
  TrainingGraph mlp = mlp_training_graph();
  Program mlp_program = lower_optimized(mlp.inputs, mlp.outputs);
  Runner mlp_runner(mlp_program);
  Generator gen(13);
  std::vector<Array> mlp_values = {
      Array::normal(gen, {8, 784}),
      Array::from_list<std::int64_t>({0, 3, 9, 1, 1, 7, 4, 2}),
      Array::uniform(gen, {784, 64}, -0.05, 0.05),
      Array::uniform(gen, {64}, -0.05, 0.05),
      Array::uniform(gen, {64, 10}, -0.1, 0.1),
      Array::uniform(gen, {10}, -0.1, 0.1)};
  Executor mlp_executor = executor_on(mlp_runner, mlp_program);
  std::vector<Array> got = mlp_executor.run(mlp_values);
  Bindings bindings;
  for (std::size_t i = 0; i < mlp.inputs.size(); ++i)
    bindings.emplace_back(mlp.inputs[i], mlp_values[i]);
  std::vector<Array> want = evaluate(mlp.outputs, bindings);
  for (std::size_t i = 0; i < got.size(); ++i)
    check_close(got[i], want[i], "MLP output " + std::to_string(i));

  const std::int64_t hidden = 16;
  TrainingGraph lstm = lstm_training_graph(hidden);
  Program lstm_program = lower_optimized(lstm.inputs, lstm.outputs);
  REQUIRE(!lstm_program.loops.empty());
  Runner lstm_runner(lstm_program);
  std::vector<Array> lstm_values = {
      Array::normal(gen, {4, 3, 5}),
      Array::normal(gen, {3, hidden}, 0, 0.5),
      Array::normal(gen, {3, hidden}, 0, 0.5),
      Array::uniform(gen, {5, 4 * hidden}, -0.25, 0.25),
      Array::uniform(gen, {hidden, 4 * hidden}, -0.25, 0.25),
      Array::uniform(gen, {4 * hidden}, -0.25, 0.25)};
  Executor lstm_executor = executor_on(lstm_runner, lstm_program);
  got = lstm_executor.run(lstm_values);
  bindings.clear();
  for (std::size_t i = 0; i < lstm.inputs.size(); ++i)
    bindings.emplace_back(lstm.inputs[i], lstm_values[i]);
  want = evaluate(lstm.outputs, bindings);
  for (std::size_t i = 0; i < got.size(); ++i)
    check_close(got[i], want[i], "LSTM output " + std::to_string(i));
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda kernels, emulated: every elementwise op equals the interpreter, each dtype") {
    every_elementwise_op<CudaEmulator>();
  }
  TEST_CASE("cuda kernels, emulated: maps over more points than the grid has threads") {
    maps_past_the_grid<CudaEmulator>(1000);
  }
  TEST_CASE("cuda kernels, emulated: every reduction over each axis set") {
    // Every strategy ran: a thread per output, a block per output with shuffles, columns.
    CHECK(every_reduction<CudaEmulator>() == std::set<int>{0, 1, 2, 3, 4});
  }
  TEST_CASE("cuda kernels, emulated: softmax along rows and columns, logsumexp and mean") {
    softmax_and_friends<CudaEmulator>();
  }
  TEST_CASE("cuda kernels, emulated: reductions of several types in one kernel share slots") {
    const std::set<int> modes = reductions_sharing_slots<CudaEmulator>();
    INFO("modes " << fmt::format("{}", fmt::join(modes, " ")));
    CHECK(modes.count(1) == 1);  // a block per row: slots per warp
    CHECK(modes.count(2) == 1);  // columns: slots per thread
  }
  TEST_CASE("cuda kernels, emulated: an MLP training step and an LSTM trained through scan") {
    training_functions<CudaEmulator>();
  }

  TEST_CASE("cuda kernels, GPU: every elementwise op equals the interpreter, each dtype") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    every_elementwise_op<cuda::StagedKernels>();
  }
  TEST_CASE("cuda kernels, GPU: maps over more points than the grid has threads") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    maps_past_the_grid<cuda::StagedKernels>(500000);
  }
  TEST_CASE("cuda kernels, GPU: every reduction over each axis set") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    every_reduction<cuda::StagedKernels>();
  }
  TEST_CASE("cuda kernels, GPU: reductions of several types in one kernel share slots") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    reductions_sharing_slots<cuda::StagedKernels>();
  }
  TEST_CASE("cuda kernels, GPU: softmax along rows and columns, logsumexp and mean") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    softmax_and_friends<cuda::StagedKernels>();
  }
  TEST_CASE("cuda kernels, GPU: an MLP training step and an LSTM trained through scan") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    training_functions<cuda::StagedKernels>();
  }
}

}  // namespace cgvm::test
