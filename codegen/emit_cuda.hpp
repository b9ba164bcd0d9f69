#pragma once
// Emission for the GPU: a Program's loop kernels -> one CUDA C++ translation unit, compiled
// with NVRTC (cuda/compile.hpp). The kernels are the same as emit_cpp's (KernelWriter
// shares the node expressions and their order); what differs is how points are mapped to
// threads and how reductions combine.
//
// The unit starts with cuda_prelude(): the C++ prelude (scalar semantics and math shared
// with the interpreter, so GPU results follow the same rules), made to compile as device
// code, and warp helpers. Each kernel is
//
//   struct cgkN_params { long long w[W]; };
//   extern "C" __global__ void cgkN(const cgkN_params params);
//
// with one parameter, passed by value, whose words are (D loop dims, A args):
//   w[0]                 the mode of a reduction kernel (plan_cuda_launch chooses): 0 a
//                        thread per outer point, 1 a block per outer point, 2 a warp of
//                        neighbouring outer points per block, its rows of threads
//                        splitting the reduced points
//   w[1 .. 1+D)          the extent of each loop dim
//   w[1+D .. 1+D+A)      the device address of each arg: operands, then results
//   w[1+D+A .. +A*D)     [a * D + d]: arg a's element stride along dim d, 0 where it does not
//                        walk it
// Compile with cuda_compile_options().
//
// Map kernels run a grid-stride loop over every point (all dims flattened, the last one
// fastest). Reduction kernels run rounds of outer points, the same rounds for every thread
// of a block. Mode 0: each thread reduces its own outer point serially (many outputs, short
// reductions). Mode 1: a block shares each outer point, its threads stride over the reduced
// points and combine with warp shuffles and shared memory (long contiguous rows: row
// softmax, row sums). Mode 2: a block takes 32 neighbouring outer points, one per lane, and
// its rows of threads split the reduced points, combined in shared memory (sums down
// columns: bias gradients, softmax over axis 0), so that a warp reads consecutive
// addresses. Blocks are a multiple of 32 threads, at most 256 in mode 2.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/program.hpp"

namespace cgvm {

// Declarations that make the C++ prelude compile as CUDA device code, the prelude itself,
// and the warp-shuffle helpers the reductions use.
std::string_view cuda_prelude();
// The first part of cuda_prelude(): the names that map the Clang builtins the C++ prelude
// calls to CUDA's device math. (A host compiler reads the source without it.)
std::string_view cuda_device_builtins();

// NVRTC options the emitted source needs (C++20, functions without an execution space are
// device functions: the prelude is shared with host code).
std::vector<std::string> cuda_compile_options();

// The kernels of `program` and of its scan loop bodies, after cuda_prelude().
std::string emit_cuda(const Program& program);

// The number of 8-byte words of a kernel's parameter.
int cuda_param_words(const LoopKernel& kernel);

// What plan_cuda_launch needs to know about the device.
struct CudaDeviceShape {
  int multiprocessors = 1;
  int max_threads_per_block = 1024;
};

struct CudaLaunch {
  long long grid = 0;  // blocks; 0: nothing to run (an empty extent)
  int block = 0;       // threads per block, a multiple of 32
  int mode = 0;        // w[0]
};

// Grid, block and mode for one launch. `size` holds the extent of each loop dim, `stride`
// the args' strides as in the parameter ([a * D + d]).
CudaLaunch plan_cuda_launch(const LoopKernel& kernel, std::span<const long long> size,
                            std::span<const long long> stride, const CudaDeviceShape& device);

// The kernel's parameter for one launch, as laid out above: `launch.mode`, `size`, the args'
// device addresses (`address`, operands then results), `stride`. Throws InternalError when
// the parts do not add up to cuda_param_words(kernel).
std::vector<long long> cuda_kernel_parameter(const LoopKernel& kernel, const CudaLaunch& launch,
                                             std::span<const long long> size,
                                             std::span<const long long> address,
                                             std::span<const long long> stride);

}  // namespace cgvm
