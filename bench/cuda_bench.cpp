// The GPU kernels cgvm emits (codegen/emit_cuda.hpp), against the device's own copy
// bandwidth (issue 7's target: a fused elementwise kernel at >= 80% of it).
//
//   elementwise  tanh(a*x + b) * sigmoid(y) + x*x, float32, N = 2^26 (a, b scalars): reads
//                x and y, writes the result (12 bytes per element)
//   softmax      row softmax of a 4096x1024 float32 matrix: reads it, writes the result
//   copy         cuMemcpyDtoD of N float32 (reads and writes 4 bytes per element): the
//                reference bandwidth
// Each figure is the median over --reps repetitions of 20 back-to-back launches timed with
// CUDA events (no host round trip inside). The kernels come from the same lowering as
// function() (no optimizer passes: the expression as written, fused into one kernel).
//
// Then whole device functions (device_models.hpp: an MLP training step, LSTM training, a
// while loop, greedy decoding), at batch 128 and 512, each call followed by a
// synchronisation (a training loop that reads its loss every step); bench/torch_gpu.py
// times the same models in PyTorch on the same GPU, and device_overhead_bench measures what
// the host spends on each call.
// With CGVM_CUDA_GRAPHS=0 the loops run step by step instead of replaying a recorded step
// (the while loop then reads its condition back at every step; cuda/README.md). Without a
// usable GPU it says why and exits 0.
//
//   cuda_bench [--reps 11] [--quick]
#include <cgvm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "codegen/emit_cuda.hpp"
#include "codegen/lower.hpp"
#include "cuda/backend.hpp"
#include "cuda/compile.hpp"
#include "cuda/device.hpp"
#include "cuda/module.hpp"
#include "device_models.hpp"
#include "harness.hpp"
#include "optimizer/fuse_kernels.hpp"

using namespace cgvm;

namespace {

constexpr int kLaunchesPerRep = 20;

// A one-kernel program over device buffers: the parameter words for contiguous args.
struct DeviceKernel {
  Program program;
  cuda::Module module;
  cuda::Kernel kernel;
  std::vector<long long> words;
  CudaLaunch plan;
};

// `outputs` over `inputs` as one kernel, compiled for `device`.
DeviceKernel make_kernel(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                         const cuda::DeviceInfo& device) {
  DeviceKernel k;
  k.program = lower(inputs, outputs, fuse_kernels(outputs));
  if (k.program.kernels.size() != 1) throw Error("cuda_bench: expected one fused kernel");
  cuda::CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  k.module = cuda::Module::load(cuda::compile_cubin(emit_cuda(k.program), device.arch(), options));
  k.kernel = k.module.kernel(k.program.kernels[0].name);
  return k;
}

// The launch plan and parameter words for contiguous args of `shapes` at `addresses`, one
// per arg of the kernel (operands in kernel order, then results).
void bind_args(DeviceKernel& k, const std::vector<Shape>& shapes,
          const std::vector<cuda::DevicePtr>& addresses, const cuda::DeviceInfo& device) {
  const LoopKernel& lk = k.program.kernels[0];
  const int dims = lk.num_dims;
  const int args = static_cast<int>(lk.operands.size() + lk.results.size());
  std::vector<long long> size(static_cast<std::size_t>(dims), 1), stride(static_cast<std::size_t>(args * dims), 0);
  for (int a = 0; a < args; ++a) {
    const KernelArg& arg = a < static_cast<int>(lk.operands.size())
                               ? lk.operands[a]
                               : lk.results[a - lk.operands.size()];
    long long step = 1;
    for (std::size_t j = arg.dims.size(); j-- > 0;) {
      if (arg.dims[j] < 0) continue;
      size[arg.dims[j]] = shapes[a][j];
      stride[a * dims + arg.dims[j]] = step;
      step *= shapes[a][j];
    }
  }
  k.plan = plan_cuda_launch(lk, size, stride,
                            {.multiprocessors = device.multiprocessors,
                             .max_threads_per_block = device.max_threads_per_block});
  const std::vector<long long> device_addresses(addresses.begin(), addresses.end());
  k.words = cuda_kernel_parameter(lk, k.plan, size, device_addresses, stride);
}

// Median seconds per launch of `issue` over the repetitions.
template <class F>
double time_on_device(F&& issue, const bench::Config& config, cuda::Stream& stream) {
  issue();  // warm-up
  stream.synchronize();
  std::vector<double> per_launch;
  for (int r = 0; r < config.repetitions; ++r) {
    cuda::Event start, end;
    start.record(stream);
    for (int i = 0; i < kLaunchesPerRep; ++i) issue();
    end.record(stream);
    end.synchronize();
    per_launch.push_back(cuda::Event::elapsed_ms(start, end) / 1e3 / kLaunchesPerRep);
  }
  return bench::summarize(per_launch).median;
}

// Milliseconds per call of `step` (followed by a synchronisation), the median.
template <class F>
double ms_per_step(F&& step, const bench::Config& config) {
  const std::shared_ptr<DeviceContext> gpu = device_context(Device::cuda());
  return bench::measure([&] { step(); gpu->synchronize(); }, config).median * 1e3;
}

// One device function: milliseconds per call, and what it says of itself after.
void time_call(const bench::DeviceCall& call, std::int64_t batch, const std::string& after,
               const bench::Config& config) {
  const double ms = ms_per_step([&] { call.f(call.args); }, config);
  std::printf("%-13s batch %4lld %10.3f ms %s  (%s)\n", call.name.c_str(),
              static_cast<long long>(batch), ms, call.unit.c_str(), after.c_str());
}

void device_functions(std::int64_t batch, const bench::Config& config) {
  const Device gpu = Device::cuda();
  const bench::DeviceCall mlp = bench::mlp_step_call(batch, gpu);
  time_call(mlp, batch, fmt::format("loss after: {:.4f}", Array(mlp.f(mlp.args)).item<double>()),
            config);
  const bench::DeviceCall lstm = bench::lstm_train_call(batch, gpu);
  time_call(lstm, batch, lstm.f.compile_report().to_string(), config);
  const bench::DeviceCall loop = bench::while_loop_call(batch, gpu);
  time_call(loop, batch, fmt::format("{} steps", Array(loop.f(loop.args)).shape()[0]), config);
  const bench::DeviceCall decode = bench::greedy_decode_call(batch, gpu);
  time_call(decode, batch, fmt::format("50 steps; {}", decode.f.compile_report().to_string()),
            config);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  if (!cuda::available()) {
    std::printf("cuda_bench: no usable GPU: %s\n", cuda::status().c_str());
    return 0;
  }
  const cuda::DeviceInfo device = cuda::device_info(0);
  std::printf("cuda_bench: %s; %s; scans %s\n", cuda::status().c_str(), bench::today().c_str(),
              cuda::graphs_enabled() ? "replay a CUDA graph per step"
                                     : "run step by step (CGVM_CUDA_GRAPHS=0)");
  cuda::Stream stream;
  const long long n = config.quick ? (1LL << 22) : (1LL << 26);

  // The reference: a device-to-device copy of n floats.
  cuda::DeviceBuffer x(4 * n), y(4 * n), out(4 * n);
  cuda::fill_bytes(x.get(), 0, 4 * n);
  cuda::fill_bytes(y.get(), 0, 4 * n);
  const double copy = time_on_device(
      [&] { cuda::copy_device_async(out.get(), x.get(), 4 * n, stream); }, config, stream);
  const double copy_bw = 8.0 * n / copy;
  std::printf("%-12s %10.3f ms  %8.1f GB/s\n", "copy", copy * 1e3, copy_bw / 1e9);

  // The fused elementwise kernel; a and b are 0-d inputs.
  Var vx = vector("x"), vy = vector("y"), va = scalar("a"), vb = scalar("b");
  DeviceKernel ew = make_kernel({vx, vy, va, vb}, {tanh(va * vx + vb) * sigmoid(vy) + vx * vx}, device);
  cuda::DeviceBuffer a(4), b(4);
  const float half = 0.5f;
  cuda::copy_to_device(a.get(), &half, 4);
  cuda::copy_to_device(b.get(), &half, 4);
  std::vector<Shape> shapes;
  std::vector<cuda::DevicePtr> addresses;
  for (const KernelArg& arg : ew.program.kernels[0].operands) {
    // The operands are inputs x, y, a, b, in some order.
    const auto at = std::find(ew.program.inputs.begin(), ew.program.inputs.end(), arg.value);
    if (at == ew.program.inputs.end()) throw Error("cuda_bench: an operand is not an input");
    const auto input = at - ew.program.inputs.begin();
    shapes.push_back(input < 2 ? Shape{n} : Shape{});
    addresses.push_back(input == 0 ? x.get() : input == 1 ? y.get() : input == 2 ? a.get() : b.get());
  }
  shapes.push_back(Shape{n});
  addresses.push_back(out.get());
  bind_args(ew, shapes, addresses, device);
  auto launch = [&](DeviceKernel& k) {
    void* params[] = {k.words.data(), nullptr};
    k.kernel.launch({.grid = {static_cast<unsigned>(k.plan.grid)},
                     .block = {static_cast<unsigned>(k.plan.block)},
                     .stream = stream},
                    params);
  };
  const double ew_time = time_on_device([&] { launch(ew); }, config, stream);
  const double ew_bw = 12.0 * n / ew_time;
  std::printf("%-12s %10.3f ms  %8.1f GB/s  %.0f%% of copy (grid %lld x %d)\n", "elementwise",
              ew_time * 1e3, ew_bw / 1e9, 100 * ew_bw / copy_bw, ew.plan.grid, ew.plan.block);

  // Row softmax of a rows x cols matrix.
  const long long rows = 4096, cols = 1024;
  Var m = matrix("m");
  DeviceKernel sm = make_kernel({m}, {softmax(m)}, device);
  if (sm.program.kernels[0].operands.size() != 1) throw Error("cuda_bench: softmax reads more than m");
  bind_args(sm, {Shape{rows, cols}, Shape{rows, cols}}, {x.get(), out.get()}, device);
  const double sm_time = time_on_device([&] { launch(sm); }, config, stream);
  const double sm_bw = 8.0 * rows * cols / sm_time;
  std::printf("%-12s %10.3f ms  %8.1f GB/s  %.0f%% of copy (mode %d, grid %lld x %d)\n",
              "softmax", sm_time * 1e3, sm_bw / 1e9, 100 * sm_bw / copy_bw, sm.plan.mode,
              sm.plan.grid, sm.plan.block);

  for (std::int64_t batch : {128, 512}) device_functions(batch, config);
  return 0;
}
