#include "codegen/conversion.hpp"

#include <algorithm>

#include "codegen/lower.hpp"
#include "optimizer/fuse_kernels.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

// `op` over inputs of `dtypes`, all of rank `rank`, lowered as written (one map kernel).
Program one_kernel(const OpDef& op, const std::vector<DType>& dtypes, int rank, Attrs attrs) {
  std::vector<Var> inputs;
  for (DType d : dtypes) inputs.push_back(tensor("x", d, Shape(static_cast<std::size_t>(rank), unknown_dim)));
  // apply, not the user functions: a cast to the same dtype must stay a node (a copy).
  const std::vector<Var> outputs{apply(op, inputs, std::move(attrs), std::source_location::current())};
  Program p = lower(inputs, outputs, fuse_kernels(outputs));
  CGVM_ASSERT(p.kernels.size() == 1 && p.steps.size() == 1, "an elementwise copy is one kernel");
  return p;
}

}  // namespace

Program conversion_program(DType from, DType to, int rank) {
  return one_kernel(ops::cast_op(), {from}, rank, Attrs{{"dtype", to}});
}

Program accumulation_program(DType dtype, int rank) {
  const OpDef& op = dtype == DType::Bool ? ops::logical_or_op() : ops::add_op();
  return one_kernel(op, {dtype, dtype}, rank, {});
}

CopyKey copy_key(CopyKind kind, const Array& dst, const Array& src) {
  return {kind, dst.dtype(), src.dtype(), dst.rank()};
}

Program copy_program(const CopyKey& key) {
  return key.kind == CopyKind::Accumulate ? accumulation_program(key.to, key.rank)
                                          : conversion_program(key.from, key.to, key.rank);
}

ElementwiseCall ElementwiseCall::copy(const Program& program, CopyKind kind, const Array& dst,
                                      const Array& src) {
  return kind == CopyKind::Accumulate ? ElementwiseCall(program, dst, {dst, src})
                                      : ElementwiseCall(program, dst, {src});
}

ElementwiseCall::ElementwiseCall(const Program& program, const Array& dst,
                                 const std::vector<Array>& inputs)
    : program_(program) {
  const LoopKernel& k = program.kernels.front();
  const int dims = k.num_dims;
  const int args = static_cast<int>(k.operands.size() + k.results.size());
  size_.assign(static_cast<std::size_t>(dims), 1);
  stride_.assign(static_cast<std::size_t>(args * dims), 0);
  // Arg a is bound to `array`: its data, and its strides on the loop dims of its axes.
  auto bind = [&](int a, const KernelArg& arg, const Array& array) {
    CGVM_ASSERT(array.shape() == dst.shape(), "an elementwise copy needs one shape");
    for (int axis = 0; axis < array.rank(); ++axis) {
      const int d = arg.dims[axis];
      CGVM_ASSERT(d >= 0, "an elementwise copy walks every axis");
      size_[d] = array.shape()[axis];
      stride_[a * dims + d] = array.strides()[axis];
    }
    data_.push_back(static_cast<char*>(array.raw_data()));
  };
  for (std::size_t a = 0; a < k.operands.size(); ++a) {
    const auto input = std::find(program.inputs.begin(), program.inputs.end(), k.operands[a].value);
    CGVM_ASSERT(input != program.inputs.end(), "an operand that is not an input");
    bind(static_cast<int>(a), k.operands[a], inputs.at(input - program.inputs.begin()));
  }
  bind(static_cast<int>(k.operands.size()), k.results.front(), dst);
}

KernelCall ElementwiseCall::call() const {
  return KernelCall{program_, program_.kernels.front(), program_.kernel_base, size_, data_, stride_};
}

}  // namespace cgvm
