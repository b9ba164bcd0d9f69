#include "cuda/staged_kernels.hpp"

#include <fmt/format.h>

#include <vector>

#include "codegen/emit_cuda.hpp"
#include "cuda/backend.hpp"
#include "cuda/compile.hpp"
#include "cuda/device.hpp"
#include "cuda/module.hpp"
#include "runtime/log.hpp"

namespace cgvm::cuda {

struct StagedKernels::Impl {
  DeviceInfo device;
  Module module;
  std::vector<Kernel> kernels;  // by kernel table index
  Stream stream;
};

ElementSpan touched_elements(const KernelCall& call, int arg) {
  const int dims = call.kernel.num_dims;
  ElementSpan span{0, 0};
  for (int d = 0; d < dims; ++d) {
    if (call.size[d] == 0) return {};
    const long long reach = (call.size[d] - 1) * call.stride[arg * dims + d];
    (reach < 0 ? span.first : span.last) += reach;
  }
  return span;
}

StagedKernels::StagedKernels(const Program& program, int device) : impl_(std::make_unique<Impl>()) {
  require();
  set_device(device);
  impl_->device = device_info(device);
  const std::string source = emit_cuda(program);
  CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  options.program_name = "cgvm_kernels.cu";
  CudaCode code;
  try {
    code = compile_cubin(source, impl_->device.arch(), options);
  } catch (const Error& e) {
    // An NVRTC older than the GPU: PTX of the newest architecture it knows would do, but
    // we cannot tell which that is; compute_80 runs on every GPU since Ampere.
    warn(fmt::format("cuda: no CUBIN for {} ({}); compiling PTX for compute_80",
                     impl_->device.arch(), e.what()));
    code = compile_ptx(source, "compute_80", options);
  }
  impl_->module = Module::load(code);
  for (const LoopKernel* k : all_kernels(program)) impl_->kernels.push_back(impl_->module.kernel(k->name));
}

StagedKernels::~StagedKernels() = default;

void StagedKernels::launch(const KernelCall& call) {
  const LoopKernel& k = call.kernel;
  const CudaLaunch plan = plan_cuda_launch(
      k, call.size, call.stride,
      {.multiprocessors = impl_->device.multiprocessors,
       .max_threads_per_block = impl_->device.max_threads_per_block});
  if (plan.grid == 0) return;
  const int operands = static_cast<int>(k.operands.size());
  const int args = operands + static_cast<int>(k.results.size());

  // Each arg's span to the device (results too: a result may cover only part of it).
  struct Staged {
    DeviceBuffer buffer;
    char* host = nullptr;
    std::size_t bytes = 0;
    long long device_address = 0;  // where element 0 of the arg is, on the device
  };
  std::vector<Staged> staged(static_cast<std::size_t>(args));
  for (int a = 0; a < args; ++a) {
    const KernelArg& arg = a < operands ? k.operands[a] : k.results[a - operands];
    const std::size_t element = dtype_size(call.program.values[arg.value].dtype());
    const ElementSpan span = touched_elements(call, a);
    Staged& s = staged[a];
    if (span.first > span.last) continue;  // touches nothing
    s.host = call.data[a] + span.first * static_cast<long long>(element);
    s.bytes = static_cast<std::size_t>(span.last - span.first + 1) * element;
    s.buffer = DeviceBuffer(s.bytes);
    copy_to_device_async(s.buffer.get(), s.host, s.bytes, impl_->stream);
    s.device_address = static_cast<long long>(s.buffer.get()) -
                       span.first * static_cast<long long>(element);
  }

  std::vector<long long> addresses;
  for (const Staged& s : staged) addresses.push_back(s.device_address);
  std::vector<long long> words = cuda_kernel_parameter(k, plan, call.size, addresses, call.stride);
  void* params[] = {words.data(), nullptr};
  impl_->kernels.at(static_cast<std::size_t>(call.index))
      .launch({.grid = {static_cast<unsigned>(plan.grid)},
               .block = {static_cast<unsigned>(plan.block)},
               .stream = impl_->stream},
              params);
  for (int a = operands; a < args; ++a)
    if (staged[a].bytes)
      copy_to_host_async(staged[a].host, staged[a].buffer.get(), staged[a].bytes, impl_->stream);
  impl_->stream.synchronize();
  ++launches_;
}

}  // namespace cgvm::cuda
