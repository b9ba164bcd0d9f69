#pragma once
// Emission: a Program's loop kernels -> one C++ translation unit (DESIGN.md §5).
//
// The unit starts with the prelude (codegen/prelude.hpp: the scalar semantics shared with
// the interpreter and the vectorizable math), includes no header, and defines one function
// per kernel:
//
//   extern "C" void cgkN(const long long* size, char* const* data, const long long* stride,
//                        long long begin, long long end);
//
//   size    the extent of each loop dim (dims with a static size use the literal instead)
//   data    the operands, then the results
//   stride  [arg * num_dims + dim]: the element stride of each arg along each loop dim, 0
//           where the arg does not walk that dim
//   [begin, end)  the part of the first outer dim to run (of the inner dim for a rank-1
//           map kernel; ignored, 0..1, for a reduction with no outer dim). The executor
//           splits it across threads.
//
// and one entry point, `extern "C" void cgvm_kernel_table(fn* table)`, which stores the
// address of kernel i in table[i].
//
// Each innermost loop exists twice: with unit strides (checked at the call; this is the one
// that vectorizes) and with general strides (transposed or broadcast views).
#include <string>

#include "codegen/program.hpp"

namespace cgvm {

// The kernel functions of `program` and of its scan loop bodies, after the prelude.
std::string emit_cpp(const Program& program);

// The loop dim whose range [begin, end) the executor splits across threads: the first outer
// dim, or the inner dim of a map kernel without outer dims; -1 when the kernel runs once
// (a reduction with no outer dim, a rank-0 kernel).
int parallel_dim(const LoopKernel& kernel);

}  // namespace cgvm
