#include "codegen/conversion.hpp"

#include "codegen/lower.hpp"
#include "optimizer/fuse_kernels.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

Program conversion_program(DType from, DType to, int rank) {
  Var x = tensor("x", from, Shape(static_cast<std::size_t>(rank), unknown_dim));
  // apply, not cast(): a cast to the same dtype must stay a node (a plain copy).
  Var y = apply(ops::cast_op(), {x}, Attrs{{"dtype", to}}, std::source_location::current());
  const std::vector<Var> outputs{y};
  Program p = lower({x}, outputs, fuse_kernels(outputs));
  CGVM_ASSERT(p.kernels.size() == 1 && p.steps.size() == 1, "a conversion is one kernel");
  return p;
}

ConversionCall::ConversionCall(const Program& program, const Array& dst, const Array& src)
    : program_(program) {
  CGVM_ASSERT(dst.shape() == src.shape(), "a conversion needs one shape");
  const LoopKernel& k = program.kernels.front();
  const int dims = k.num_dims;
  size_.assign(static_cast<std::size_t>(dims), 1);
  stride_.assign(static_cast<std::size_t>(2 * dims), 0);
  for (int axis = 0; axis < dst.rank(); ++axis) {
    const int src_dim = k.operands[0].dims[axis], dst_dim = k.results[0].dims[axis];
    CGVM_ASSERT(src_dim == dst_dim && src_dim >= 0, "a conversion walks each axis in one dim");
    size_[src_dim] = dst.shape()[axis];
    stride_[src_dim] = src.strides()[axis];
    stride_[dims + dst_dim] = dst.strides()[axis];
  }
  data_ = {static_cast<char*>(src.raw_data()), static_cast<char*>(dst.raw_data())};
}

KernelCall ConversionCall::call() const {
  const LoopKernel& k = program_.kernels.front();
  return KernelCall{program_, k, program_.kernel_base, size_, data_, stride_};
}

}  // namespace cgvm
