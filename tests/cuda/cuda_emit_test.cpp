// The CUDA emitter's kernels through NVRTC, to a CUBIN for sm_90 (ptxas included): every
// elementwise op and every accumulating reduction of the op table, for every dtype it takes,
// the kernels of whole training functions (an MLP step, an LSTM trained through scan) and
// the device's own kernels. Runs wherever the plugin was built (NVRTC needs no GPU); what
// the kernels compute is tested in cuda_kernels_test.cpp.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cgvm.hpp"
#include "codegen/emit_cuda.hpp"
#include "codegen/device_kernels.hpp"
#include "cuda/compile.hpp"
#include "cuda_helpers.hpp"
#include "jit/jit_helpers.hpp"
#include "op_values.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm::test {
namespace {

#ifdef CGVM_TEST_CUDA_PLUGIN
cuda::CompileOptions compile_options(const std::string& program_name = "kernels.cu") {
  cuda::CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  options.cache = fresh_jit_options();
  options.program_name = program_name;
  return options;
}

// `source` as a CUBIN for sm_90 (ptxas included: it has limits of its own, such as 48 KB of
// static shared memory per kernel); a compile error fails the test with NVRTC's log.
cuda::CudaCode compile_to_cubin(const std::string& source, const std::string& program_name) {
  try {
    return cuda::compile_cubin(source, "sm_90", compile_options(program_name));
  } catch (const Error& e) {
    FAIL(e.what());
  }
  return {};
}

// Whether a CUBIN holds the code of kernel `name`: its section, ".text.<name>".
bool has_kernel(const cuda::CudaCode& cubin, const std::string& name) {
  return contains(cubin.bytes, std::string(".text.") + name + '\0');
}

// Compiles the program's CUDA source and checks that every kernel is in the CUBIN (the ELF
// section of its code). Returns the names of the ops inside the kernels.
std::set<std::string> compile_program(const Program& program, const std::string& what) {
  INFO(what);
  const cuda::CudaCode code = compile_to_cubin(emit_cuda(program), "cgvm_kernels.cu");
  std::set<std::string> ops;
  const std::vector<const LoopKernel*> kernels = all_kernels(program);
  CHECK(!kernels.empty());
  for (const LoopKernel* k : kernels) {
    INFO("kernel " << k->name);
    CHECK(has_kernel(code, k->name));
    for (const Node* n : k->nodes) ops.insert(std::string(n->op().name));
  }
  return ops;
}
#endif

}  // namespace

TEST_SUITE("cuda") {
#ifdef CGVM_TEST_CUDA_PLUGIN
  TEST_CASE("cuda emit: every elementwise op and reduction compiles with NVRTC, each dtype") {
    std::set<std::string> covered;
    auto here = std::source_location::current();
    for (DType dtype : dtypes) {
      // Maps over a vector and over rows against a broadcast row; casts to every dtype;
      // where; every accumulating reduction over rows, columns and everything.
      Var v = tensor("v", dtype, {unknown_dim});
      Var a = tensor("a", dtype, {unknown_dim, unknown_dim});
      Var row = tensor("row", dtype, {1, unknown_dim});
      Var c = tensor("c", DType::Bool, {unknown_dim, 1});
      std::vector<Var> outputs;
      for (const OpDef* op : ops::all_ops()) {
        if (op->family == OpFamily::Elementwise && op->emit && op->name != "cast" &&
            in_domain(*op, dtype)) {
          if (op->min_inputs == 1) outputs.push_back(apply(*op, {v}, {}, here));
          if (op->min_inputs == 2) outputs.push_back(apply(*op, {a, row}, {}, here));
        }
        if (op->family == OpFamily::Reduce && op->emit_reduce &&
            in_domain(*op, dtype, {{"axes", Ints{0}}, {"keepdims", false}}))
          for (const Ints& axes : {Ints{0}, Ints{1}, Ints{0, 1}})
            outputs.push_back(apply(*op, {a}, {{"axes", axes}, {"keepdims", false}}, here));
      }
      for (DType to : dtypes)
        if (to != dtype) outputs.push_back(apply(ops::cast_op(), {v}, {{"dtype", to}}, here));
      outputs.push_back(apply(ops::where_op(), {c, a, row}, {}, here));
      std::set<std::string> ops =
          compile_program(lower_as_written({v, a, row, c}, outputs), std::string(dtype_name(dtype)));
      covered.insert(ops.begin(), ops.end());
    }
    for (const OpDef* op : ops::all_ops()) {
      const bool kernel_op = (op->family == OpFamily::Elementwise && op->emit) ||
                             (op->family == OpFamily::Reduce && op->emit_reduce);
      if (!kernel_op) continue;
      INFO("op " << op->name);
      CHECK(covered.count(std::string(op->name)) == 1);
    }
  }

  TEST_CASE("cuda emit: the kernels of an MLP training step and of a scan LSTM compile") {
    TrainingGraph mlp = mlp_training_graph();
    std::set<std::string> ops =
        compile_program(lower_optimized(mlp.inputs, mlp.outputs), "MLP step");
    CHECK(ops.count("max") == 1);  // the row softmax is a reduction kernel
    CHECK(ops.count("sum") == 1);

    TrainingGraph lstm = lstm_training_graph();
    Program program = lower_optimized(lstm.inputs, lstm.outputs);
    REQUIRE(!program.loops.empty());
    CHECK(!all_kernels(program.loops.front().body).empty());
    ops = compile_program(program, "LSTM training");
    CHECK(ops.count("sigmoid") == 1);
    CHECK(ops.count("tanh") == 1);
  }

  TEST_CASE("cuda emit: the device's own kernels (take, inc_take, argmax, draws, scan steps) compile") {
    // gathers by element size; scatters (of host rows and of device rows' chains) and arg
    // reductions by dtype, and the device rows' links (compared, or sorted by five kernels,
    // one of them the prefix sum); uniform and normal draws by float dtype, and integers
    // (walked, or tried at once: two more); a replayed scan step's copies by unit, and its
    // counter. Three units, each compiled apart: every kernel in exactly one.
    std::map<std::string, std::string> unit_of;
    for (const DeviceKernelUnit& unit : device_kernel_units()) {
      INFO("unit " << unit.name);
      const cuda::CudaCode code = compile_to_cubin(unit.source, unit.name + ".cu");
      for (const auto& [name, words] : unit.kernels) {
        INFO("kernel " << name);
        CHECK(has_kernel(code, name));
        CHECK(unit_of.emplace(name, unit.name).second);
      }
    }
    CHECK(unit_of.size() == 4 + 3 * std::size(all_dtypes) + 1 + 5 + 2 * 2 + 3 + 3 + 1);
    CHECK(unit_of.at("cgvm_step_advance") == "cgvm_device_common");
    CHECK(unit_of.at("cgvm_gather_4") == "cgvm_device_index");
    CHECK(unit_of.at("cgvm_uniform_float32") == "cgvm_device_random");
    for (const auto& [kernel, unit] : unit_of) CHECK(device_kernel_unit(kernel).name == unit);
    CHECK_THROWS_AS(device_kernel_unit("cgvm_no_such_kernel"), InternalError);
  }

  TEST_CASE("cuda emit: a kernel NVRTC rejects names the kernel in the log") {
    // What a broken emitter would produce: the error must hold NVRTC's line, not crash.
    Var v = vector("v");
    Program program = lower_as_written({v}, {exp(v)});
    std::string source = emit_cuda(program);
    source += "\nextern \"C\" __global__ void broken() { undefined_name(); }\n";
    CHECK_ERROR(cuda::compile_ptx(source, "sm_90", compile_options()), {"undefined_name"});
  }
#else
  TEST_CASE("cuda emit: NVRTC tests skip without the plugin") {
    MESSAGE("skipped: the CUDA plugin was not built (no CUDA toolkit at configure time)");
  }
#endif
}

}  // namespace cgvm::test
