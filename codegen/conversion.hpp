#pragma once
// Copies on a device: dst[i...] = cast(src[i...]) for two strided arrays of one shape, the
// DeviceContext::convert that Array::copy, astype and assign use there (runtime/device.hpp).
//
// The kernel is the op table's cast lowered as a map over `rank` dims of unknown size, so a
// device converts exactly as the host does (runtime/cast.hpp), and the CUDA emitter needs
// nothing of its own for it. A device keeps one such program per (from, to, rank) and
// launches its one kernel with the call below.
#include <memory>
#include <vector>

#include "codegen/program.hpp"
#include "runtime/array.hpp"

namespace cgvm {

// One map kernel: operand 0 the source, result 0 the destination, loop dim d = axis d.
Program conversion_program(DType from, DType to, int rank);

// The launch of `program`'s kernel for dst = cast(src): sizes and strides from the arrays,
// their addresses (device addresses for device arrays). Holds the spans the call points to.
class ConversionCall {
 public:
  ConversionCall(const Program& program, const Array& dst, const Array& src);
  KernelCall call() const;

 private:
  const Program& program_;
  std::vector<long long> size_, stride_;
  std::vector<char*> data_;
};

}  // namespace cgvm
