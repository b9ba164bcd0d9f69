#pragma once
// Copies and accumulations on a device: the work DeviceContext::convert and ::accumulate
// do (runtime/device.hpp) for Array::copy, astype, assign and an inc_subtensor's update.
//
// Each is an op of the table lowered as one map kernel over `rank` dims of unknown size
// (cast for a conversion, add or logical_or for an accumulation), so a device computes
// exactly what the host does (runtime/cast.hpp, the ops' scalar rules) and the CUDA emitter
// needs nothing of its own. A device keeps one program per dtypes and rank and launches
// its one kernel with an ElementwiseCall. The rank is that of the arrays' walk, not their
// own: size-1 axes dropped and axes that every array steps over as one merged, so a copy of
// a stack's rows or of a transposed matrix needs one or two dims whatever its rank, and a
// few programs serve a whole training step.
#include <vector>

#include "codegen/program.hpp"
#include "runtime/array.hpp"

namespace cgvm {

// dst = cast(src): input 0 is src.
Program conversion_program(DType from, DType to, int rank);
// dst = dst + src (logical or for bool; integers wrap): input 0 is dst, input 1 src. The
// kernel writes each element of dst after reading it, so dst may be its own result.
Program accumulation_program(DType dtype, int rank);

// The two copies a device context does, and the key it keeps their programs by.
enum class CopyKind { Convert, Accumulate };
struct CopyKey {
  CopyKind kind;
  DType to, from;
  int rank;
  auto operator<=>(const CopyKey&) const = default;
};
// dst's and src's dtypes and the rank of their walk.
CopyKey copy_key(CopyKind kind, const Array& dst, const Array& src);
// conversion_program or accumulation_program, as the key says.
Program copy_program(const CopyKey& key);

// The launch of such a program's kernel over the arrays' walk: `inputs` bound to the
// program's inputs in order, the result written into `dst` (all of one shape; device
// addresses for device arrays). Holds the sizes, addresses and strides the KernelCall
// points to.
class ElementwiseCall {
 public:
  KernelCall call() const;
  // The call of copy_program(copy_key(kind, dst, src)) for dst = src or dst += src.
  static ElementwiseCall copy(const Program& program, CopyKind kind, const Array& dst,
                              const Array& src);

 private:
  ElementwiseCall(const Program& program, const Array& dst, const std::vector<Array>& inputs);

  const Program& program_;
  std::vector<long long> size_, stride_;
  std::vector<char*> data_;
};

}  // namespace cgvm
