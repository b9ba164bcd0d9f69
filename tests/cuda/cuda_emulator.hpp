#pragma once
// Runs the CUDA emitter's kernels without a GPU, so that CI tests what they compute, not
// only that NVRTC accepts them.
//
// The emitted unit (codegen/emit_cuda.hpp) is compiled by the JIT as C++, behind a header
// that gives CUDA's built-in variables, __shared__, __syncthreads and __shfl_down_sync a
// meaning on the CPU; each block's threads run as fibers (ucontext) switched at barriers
// and shuffles (a per-warp exchange), one block after another, so the reductions'
// barriers and shuffles are exercised as written, and what is undefined on a GPU stops the
// run with a message: a thread that misses a barrier the others wait at, threads that meet
// at different barriers or shuffles, a shuffle of part of a warp (cuda_emulator_test.cpp). Launches are planned by
// plan_cuda_launch for a small device (one multiprocessor, blocks of at most 64 threads):
// the kernels' grid-stride loops then cover each extent in several rounds. Units written
// by hand (the index kernels) run the same way.
//
// Not emulated: the memory model (a missing barrier may go unnoticed), timing, and the
// device's float rounding (FMA contraction differs).
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "codegen/emit_cuda.hpp"
#include "codegen/program.hpp"

namespace cgvm::test {

class CudaEmulator {
 public:
  // Emits `program`'s kernels as CUDA and compiles them for the CPU.
  explicit CudaEmulator(const Program& program);
  ~CudaEmulator();

  // Compiles a unit of kernels written by hand (codegen/device_kernels.hpp): `kernels`
  // names each and the words of its parameter (`struct <name>_params { long long w[W]; }`).
  CudaEmulator(const std::string& source, const std::vector<std::pair<std::string, int>>& kernels);

  // Small enough that the grid-stride loops take several rounds on the tests' shapes.
  static constexpr CudaDeviceShape device_shape{.multiprocessors = 1,
                                                .max_threads_per_block = 64};

  // Runs one kernel (an Executor's launcher, api/executor.hpp).
  void launch(const KernelCall& call);
  // Runs the kernel `name` of a hand-written unit on `grid` blocks of `block` threads.
  void run(const std::string& name, long long grid, int block, const std::vector<long long>& words);

  // The modes (emit_cuda.hpp) of the launches so far, to check that a test reached both.
  const std::set<int>& modes() const { return modes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::set<int> modes_;
};

}  // namespace cgvm::test
