#pragma once
// A Program's loop kernels run on the GPU for an executor whose values live in host memory:
// each launch copies the memory its operands and results span to the device, runs the
// emitted kernel (codegen/emit_cuda.hpp) and copies the results back.
//
// For checking the emitted kernels on a real device against the interpreter (every op of
// the table, whole training functions, scan bodies): an Executor built with
// `[&](const KernelCall& c) { kernels.launch(c); }` runs a whole program that way. Not for
// speed: the copies cost far more than the kernels. (A device executor keeps its values on
// the device.)
#include <memory>

#include "codegen/program.hpp"

namespace cgvm::cuda {

class StagedKernels {
 public:
  // Emits `program`'s kernels as CUDA, compiles them for `device` (CUBIN for its
  // architecture; PTX, which the driver compiles, where NVRTC does not know it) and loads
  // them. Throws cgvm::Error when CUDA is not available (cuda::require's message).
  explicit StagedKernels(const Program& program, int device = 0);
  ~StagedKernels();
  StagedKernels(const StagedKernels&) = delete;
  StagedKernels& operator=(const StagedKernels&) = delete;

  // Runs one kernel of the program (or of its loop bodies) and waits for it.
  void launch(const KernelCall& call);

  int launches() const { return launches_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int launches_ = 0;
};

// The element range [first, last] an arg of `call` touches, relative to its data pointer
// (strides may be negative); empty (first > last) when a dim has size 0.
struct ElementSpan {
  long long first = 0, last = -1;
};
ElementSpan touched_elements(const KernelCall& call, int arg);

}  // namespace cgvm::cuda
