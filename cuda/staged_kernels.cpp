#include "cuda/staged_kernels.hpp"

#include <vector>

#include "cuda/device.hpp"
#include "cuda/program_kernels.hpp"

namespace cgvm::cuda {

struct StagedKernels::Impl {
  explicit Impl(const Program& program, int device) : kernels(program, device) {}
  ProgramKernels kernels;
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

StagedKernels::StagedKernels(const Program& program, int device)
    : impl_(std::make_unique<Impl>(program, device)) {}

StagedKernels::~StagedKernels() = default;

void StagedKernels::launch(const KernelCall& call) {
  const LoopKernel& k = call.kernel;
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
  impl_->kernels.launch(call, addresses, impl_->stream);
  for (int a = operands; a < args; ++a)
    if (staged[a].bytes)
      copy_to_host_async(staged[a].host, staged[a].buffer.get(), staged[a].bytes, impl_->stream);
  impl_->stream.synchronize();
  ++launches_;
}

}  // namespace cgvm::cuda
