#pragma once
// Runs the CUDA emitter's kernels without a GPU, so that CI tests what they compute, not
// only that NVRTC accepts them.
//
// The emitted unit (codegen/emit_cuda.hpp) is compiled by the JIT as C++, behind a header
// that gives CUDA's built-in variables, __shared__, __syncthreads and __shfl_down_sync a
// meaning on the CPU; each block's threads run as fibers (ucontext) switched at barriers
// and shuffles (a per-warp exchange), one block after another, so the reductions'
// barriers and shuffles are exercised as written, and a thread that misses a barrier the
// others wait at stops the run with a message. Launches are planned by
// plan_cuda_launch for a small device (one multiprocessor, blocks of at most 64 threads):
// the kernels' grid-stride loops then cover each extent in several rounds.
//
// Not emulated: the memory model (a missing barrier may go unnoticed), timing, and the
// device's float rounding (FMA contraction differs).
#include <memory>
#include <set>

#include "codegen/emit_cuda.hpp"
#include "codegen/program.hpp"

namespace cgvm::test {

class CudaEmulator {
 public:
  // Emits `program`'s kernels as CUDA and compiles them for the CPU.
  explicit CudaEmulator(const Program& program);
  ~CudaEmulator();

  // Runs one kernel (an Executor's launcher, api/executor.hpp).
  void launch(const KernelCall& call);

  // The modes (emit_cuda.hpp) of the launches so far, to check that a test reached both.
  const std::set<int>& modes() const { return modes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::set<int> modes_;
};

}  // namespace cgvm::test
