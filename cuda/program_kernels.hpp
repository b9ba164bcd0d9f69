#pragma once
// A Program's loop kernels compiled for one GPU and launched there.
//
// The CUDA unit comes from the same Program as the C++ one (codegen/emit_cuda.hpp); NVRTC
// compiles it through the JIT's artifact cache (CUBIN for the device's architecture, PTX
// for compute_80 where NVRTC does not know it) and the module stays loaded while this
// object lives. launch() plans grid and block per call (plan_cuda_launch) and issues the
// kernel on a stream without waiting: a device executor's launcher (api/executor.hpp).
#include <memory>
#include <span>

#include "codegen/program.hpp"
#include "cuda/device.hpp"

namespace cgvm::cuda {

class ProgramKernels {
 public:
  // Throws cgvm::Error when CUDA is not available (cuda::require's message) or NVRTC
  // rejects the unit (its log).
  explicit ProgramKernels(const Program& program, int device = 0);
  ~ProgramKernels();
  ProgramKernels(const ProgramKernels&) = delete;
  ProgramKernels& operator=(const ProgramKernels&) = delete;

  // Issues one kernel on `stream`; call.data holds device addresses.
  void launch(const KernelCall& call, StreamRef stream) const;
  // The same with the args' device addresses given apart (call.data is then not read).
  void launch(const KernelCall& call, std::span<const long long> address, StreamRef stream) const;

  double compile_ms() const;  // NVRTC or the cache, and loading the module
  bool from_cache() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgvm::cuda
