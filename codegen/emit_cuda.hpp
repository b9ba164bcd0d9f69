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
//                        splitting the reduced points, 3 and 4 the two passes of a split
//                        reduction
//   w[1 .. 1+D)          the extent of each loop dim
//   w[1+D .. 1+D+A)      the device address of each arg: operands, then results
//   w[1+D+A .. +A*D)     [a * D + d]: arg a's element stride along dim d, 0 where it does not
//                        walk it
//   w[W-2], w[W-1]       a split reduction's splits per outer point and the device address
//                        of its scratch memory (1 and 0 otherwise)
// Compile with cuda_compile_options().
//
// Map kernels run a grid-stride loop over every point (all dims flattened, the last one
// fastest); a thread splits its first point into outer and inner points with one division
// and then moves both by the grid's step. Reduction kernels run rounds of outer points, the
// same rounds for every thread of a block. Mode 0: each thread reduces its own outer point
// serially (many outputs, short reductions). Mode 1: a block shares each outer point, its
// threads stride over the reduced points and combine with warp shuffles and shared memory
// (long contiguous rows: row softmax, row sums). Mode 2: a block takes 32 neighbouring
// outer points, one per lane, and its rows of threads split the reduced points, combined in
// shared memory (sums down columns: bias gradients, softmax over axis 0), so that a warp
// reads consecutive addresses. Modes 3 and 4 split a reduction to fewer outputs than the
// device has multiprocessors (a full sum, a norm) over many blocks: in mode 3 each block
// reduces one outer point's share of the reduced points, as in mode 1, and leaves the value
// in the scratch memory; mode 4, a second launch, takes a thread per outer point, combines
// the shares and stores the results. Only kernels whose results are all per outer point and
// whose reductions do not read one another are split. Blocks are a multiple of 32 threads,
// at most 256 in mode 2.
#include <cstddef>
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
// device functions: the prelude is shared with host code), and a compile on every core.
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
  long long splits = 1;  // modes 3 and 4: blocks sharing each outer point's reduction
  // Mode 3: the device memory both passes share (the launcher allocates it), and the
  // second pass (mode 4).
  std::size_t scratch_bytes = 0;
  long long final_grid = 0;
  int final_block = 0;
};

// The launches one call takes, in order: `plan` itself, or for a split reduction (mode 3)
// the partial pass then the final one (mode 4), both with the same scratch memory.
std::vector<CudaLaunch> cuda_passes(const CudaLaunch& plan);

// Whether plan_cuda_launch may split the kernel's reductions (modes 3 and 4): its results
// are all per outer point, and no reduction reads another's value.
bool cuda_splittable(const LoopKernel& kernel);

// Grid, block and mode for one launch. `size` holds the extent of each loop dim, `stride`
// the args' strides as in the parameter ([a * D + d]).
CudaLaunch plan_cuda_launch(const LoopKernel& kernel, std::span<const long long> size,
                            std::span<const long long> stride, const CudaDeviceShape& device);

// The kernel's parameter for one launch, as laid out above: `launch.mode`, `size`, the args'
// device addresses (`address`, operands then results), `stride`, `launch.splits` and the
// scratch memory's address. Throws InternalError when the parts do not add up to
// cuda_param_words(kernel).
std::vector<long long> cuda_kernel_parameter(const LoopKernel& kernel, const CudaLaunch& launch,
                                             std::span<const long long> size,
                                             std::span<const long long> address,
                                             std::span<const long long> stride,
                                             long long scratch = 0);

// What a launcher sends the device for one call planned as `plan`: each pass (cuda_passes)
// with its parameter, the call's args at `address` (device addresses, in call.data's
// order) and the plan's scratch memory at `scratch`.
struct CudaPassLaunch {
  CudaLaunch pass;
  std::vector<long long> words;
};
std::vector<CudaPassLaunch> cuda_call_launches(const KernelCall& call, const CudaLaunch& plan,
                                               std::span<const long long> address,
                                               long long scratch);
// call.data as parameter words (the addresses a launcher passes on as they are).
std::vector<long long> cuda_call_addresses(const KernelCall& call);

}  // namespace cgvm
