#include "device.hpp"

#include <mutex>

#include "cuda/context.hpp"
#include "cuda/program_kernels.hpp"

namespace cgvm {
namespace {

DeviceProvider cuda_provider() {
  return {
      .context = [](int ordinal, const std::source_location& loc) -> std::shared_ptr<DeviceContext> {
        return cuda::Context::get(ordinal, loc);
      },
      .kernels = [](const Program& program, const std::shared_ptr<DeviceContext>& context,
                    double* compile_ms) -> KernelLauncher {
        auto gpu = std::static_pointer_cast<cuda::Context>(context);
        auto kernels = std::make_shared<cuda::ProgramKernels>(program, gpu->device().ordinal);
        if (compile_ms) *compile_ms = kernels->compile_ms();
        return [kernels, gpu](const KernelCall& call) { kernels->launch(call, gpu->stream()); };
      },
  };
}

std::mutex provider_mutex;
DeviceProvider& cuda_slot() {
  static DeviceProvider provider = cuda_provider();
  return provider;
}

}  // namespace

namespace detail {

DeviceProvider replace_cuda_provider(DeviceProvider provider) {
  std::lock_guard lock(provider_mutex);
  DeviceProvider old = std::move(cuda_slot());
  cuda_slot() = provider.context ? std::move(provider) : cuda_provider();
  return old;
}

DeviceProvider provider(Device::Kind kind) {
  CGVM_ASSERT(kind == Device::Kind::CUDA, "only CUDA devices have a provider");
  std::lock_guard lock(provider_mutex);
  return cuda_slot();
}

}  // namespace detail

std::shared_ptr<DeviceContext> device_context(Device device, std::source_location loc) {
  if (device.is_cpu()) return nullptr;
  return detail::provider(device.kind).context(device.ordinal, loc);
}

Array to_device(const Array& a, Device device, std::source_location loc) {
  return a.to(device_context(device, loc));
}

void to_device(const SharedVar& v, Device device, std::source_location loc) {
  v.state()->place(device_context(device, loc));
}

}  // namespace cgvm
