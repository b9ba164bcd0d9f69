#include "cuda/program_kernels.hpp"

#include <chrono>
#include <vector>

#include "codegen/emit_cuda.hpp"
#include "cuda/backend.hpp"
#include "cuda/module.hpp"

namespace cgvm::cuda {

struct ProgramKernels::Impl {
  DeviceInfo device;
  Module module;
  std::vector<Kernel> kernels;  // by kernel table index
  double compile_ms = 0;
  bool from_cache = false;
};

ProgramKernels::ProgramKernels(const Program& program, int device)
    : impl_(std::make_unique<Impl>()) {
  const auto start = std::chrono::steady_clock::now();
  require();
  set_device(device);
  impl_->device = device_info(device);
  CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  options.program_name = "cgvm_kernels.cu";
  impl_->module = Module::build(emit_cuda(program), impl_->device, options, &impl_->from_cache);
  for (const LoopKernel* k : all_kernels(program)) impl_->kernels.push_back(impl_->module.kernel(k->name));
  impl_->compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

ProgramKernels::~ProgramKernels() = default;

double ProgramKernels::compile_ms() const { return impl_->compile_ms; }
bool ProgramKernels::from_cache() const { return impl_->from_cache; }

void ProgramKernels::launch(const KernelCall& call, StreamRef stream) const {
  launch(call, cuda_call_addresses(call), stream);
}

void ProgramKernels::launch(const KernelCall& call, std::span<const long long> address,
                            StreamRef stream) const {
  const LoopKernel& k = call.kernel;
  const CudaLaunch plan = plan_cuda_launch(
      k, call.size, call.stride,
      {.multiprocessors = impl_->device.multiprocessors,
       .max_threads_per_block = impl_->device.max_threads_per_block});
  if (plan.grid == 0) return;
  // A split reduction's passes share scratch memory, freed in stream order after them.
  const StreamBuffer scratch(plan.scratch_bytes, stream);
  const Kernel& kernel = impl_->kernels.at(static_cast<std::size_t>(call.index));
  for (CudaPassLaunch& l :
       cuda_call_launches(call, plan, address, static_cast<long long>(scratch.get()))) {
    void* params[] = {l.words.data(), nullptr};
    kernel.launch({.grid = {static_cast<unsigned>(l.pass.grid)},
                   .block = {static_cast<unsigned>(l.pass.block)},
                   .stream = stream},
                  params);
  }
}

}  // namespace cgvm::cuda
