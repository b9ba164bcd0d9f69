// Compile latency of the CUDA units a device function builds: NVRTC needs no GPU, so this
// runs wherever the CUDA plugin was built (here and on CI machines), unlike cuda_bench.
//
//   cuda_compile_bench [--quick] [--reps N] [--arch sm_90] [--option NVRTC_OPTION]...
//
// Units, each emitted as function(..., {.device = Device::cuda()}) emits it (optimize,
// lower, emit_cuda):
//   elementwise   cuda_bench's fused kernel, tanh(a*x + b) * sigmoid(y) + x*x: one kernel,
//                 so mostly the prelude every unit starts with
//   mlp step      mlp_model.hpp's training step (loss and the SGD-updated weights)
//   lstm train    rnn_model.hpp's LSTM: loss and gradients through scan (its loop bodies'
//                 kernels in the same unit)
//   device_*      the device's own kernels (codegen/device_kernels.hpp), three units each
//                 compiled the first time one of its kernels runs: common (argmax, prefix
//                 sums, a replayed scan step's copies), index (take, inc_take), random
//                 (draws)
// Columns: NVRTC to PTX, and to a CUBIN (ptxas included; what a device function loads),
// each cold (a new cache dir, the in-memory cache cleared: NVRTC runs); the CUBIN cold
// again without --split-compile (one core), what cuda_compile_options() gains by it; then
// warm (the CUBIN from the disk cache, the in-memory cache cleared: a later process).
// Median [min, max] over the repetitions (default 5, --quick 3), in ms. --option adds an
// NVRTC option to every compile, to try one.
#include <cgvm.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "codegen/device_kernels.hpp"
#include "codegen/emit_cuda.hpp"
#include "codegen/lower.hpp"
#include "compile_latency.hpp"
#include "cuda/backend.hpp"
#include "cuda/compile.hpp"
#include "harness.hpp"
#include "jit/jit.hpp"
#include "mlp_model.hpp"
#include "optimizer/pipeline.hpp"
#include "rnn_model.hpp"

using namespace cgvm;

namespace {

struct Unit {
  std::string name;
  std::string source;
  int kernels = 0;
};

// What function() emits for a device function of `outputs` over `inputs`.
Unit device_function_unit(const std::string& name, const std::vector<Var>& inputs,
                          const std::vector<Var>& outputs) {
  const OptimizedGraph g = optimize(outputs);
  const Program program = lower(inputs, g.outputs, g.fusion);
  return {name, emit_cuda(program), static_cast<int>(all_kernels(program).size())};
}

std::vector<Unit> units() {
  std::vector<Unit> out;
  Var x = vector("x"), y = vector("y"), a = scalar("a"), b = scalar("b");
  out.push_back(device_function_unit("elementwise", {x, y, a, b},
                                     {tanh(a * x + b) * sigmoid(y) + x * x}));
  const bench::MlpData data = bench::make_mlp_data();
  const bench::MlpStep step = bench::build_mlp_step(data);
  std::vector<Var> mlp_outputs{step.loss};
  for (const auto& [shared, update] : step.updates) mlp_outputs.push_back(update);
  out.push_back(device_function_unit("mlp step", {step.x, step.labels}, mlp_outputs));
  const bench::CgvmRnn lstm = bench::build_rnn(/*lstm=*/true, 256);
  std::vector<Var> lstm_outputs{lstm.loss};
  lstm_outputs.insert(lstm_outputs.end(), lstm.grads.begin(), lstm.grads.end());
  out.push_back(device_function_unit("lstm train", lstm.inputs, lstm_outputs));
  for (const DeviceKernelUnit& unit : device_kernel_units())
    out.push_back({unit.name.substr(std::string_view("cgvm_").size()), unit.source,
                   static_cast<int>(unit.kernels.size())});
  return out;
}

// The NVRTC options given with --option.
std::vector<std::string> extra_options;

// Milliseconds of one compile of `unit` (cuda_compile_options(), less --split-compile unless
// `split`), into `cache_dir`; throws unless the cache hit or missed as `expect_cached`.
double compile_ms(const Unit& unit, cuda::CodeKind kind, const std::string& arch, bool split,
                  const std::string& cache_dir, bool expect_cached) {
  cuda::CompileOptions options;
  for (const std::string& option : cuda_compile_options())
    if (split || !option.starts_with("--split-compile")) options.nvrtc_options.push_back(option);
  options.nvrtc_options.insert(options.nvrtc_options.end(), extra_options.begin(),
                               extra_options.end());
  options.cache.cache_dir = cache_dir;
  jit_clear_memory_cache();
  const double t0 = bench::now_seconds();
  const cuda::CudaCode code = cuda::compile_cuda(unit.source, kind, arch, options);
  const double ms = (bench::now_seconds() - t0) * 1e3;
  if (code.from_cache != expect_cached)
    throw Error("cuda_compile_bench: " + unit.name + (expect_cached ? " missed" : " hit") +
                " the cache");
  return ms;
}

std::string column(std::vector<double> samples) {
  const bench::Stats s = bench::summarize(std::move(samples));
  char text[80];
  std::snprintf(text, sizeof text, "%7.1f [%6.1f, %6.1f]", s.median, s.min, s.max);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  std::string arch = "sm_90";
  for (std::size_t i = 0; i + 1 < config.rest.size(); ++i) {
    if (config.rest[i] == "--arch") arch = config.rest[++i];
    else if (config.rest[i] == "--option") extra_options.push_back(config.rest[++i]);
  }
  const bool reps_given = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::strcmp(a, "--reps") == 0;
  });
  const int reps = reps_given ? config.repetitions : config.quick ? 3 : 5;
  if (!cuda::plugin_loaded()) {
    std::printf("cuda_compile_bench: NVRTC is not available: %s\n",
                cuda::plugin_status().c_str());
    return 0;
  }
  const cuda::NvrtcVersion version = cuda::nvrtc_version();
  std::printf("cuda_compile_bench: NVRTC %d.%d, %s; %s; %u cores; %d repetitions, ms, "
              "median [min, max]\n",
              version.major, version.minor, arch.c_str(), bench::today().c_str(),
              std::thread::hardware_concurrency(), reps);
  std::printf("%-14s %7s %9s  %-24s  %-24s  %-24s  %-24s\n", "unit", "kernels", "source",
              "PTX cold", "CUBIN cold", "CUBIN cold, 1 core", "CUBIN warm (disk)");
  for (const Unit& unit : units()) {
    std::vector<double> ptx, cubin, one_core, warm;
    for (int r = 0; r < reps; ++r) {
      const std::string dir = bench::latency::new_cache_dir();
      const std::string other = bench::latency::new_cache_dir();  // for the one-core compile
      ptx.push_back(compile_ms(unit, cuda::CodeKind::Ptx, arch, true, dir, false));
      cubin.push_back(compile_ms(unit, cuda::CodeKind::Cubin, arch, true, dir, false));
      one_core.push_back(compile_ms(unit, cuda::CodeKind::Cubin, arch, false, other, false));
      warm.push_back(compile_ms(unit, cuda::CodeKind::Cubin, arch, true, dir, true));
      std::filesystem::remove_all(dir);
      std::filesystem::remove_all(other);
    }
    std::printf("%-14s %7d %6zu KB  %s  %s  %s  %s\n", unit.name.c_str(), unit.kernels,
                unit.source.size() / 1024, column(ptx).c_str(), column(cubin).c_str(),
                column(one_core).c_str(), column(warm).c_str());
  }
  return 0;
}
