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

// The walk of arrays of one shape: the shape with size-1 axes dropped and each axis merged
// into the one before it where every array's stride on that one is its stride on this one
// times this one's size; each array's strides on the walk's axes.
struct Walk {
  Shape shape;
  std::vector<Strides> strides;  // per array
};

Walk walk(const std::vector<const Array*>& arrays) {
  Walk w;
  w.strides.resize(arrays.size());
  const Shape& shape = arrays.front()->shape();
  for (std::size_t axis = 0; axis < shape.size(); ++axis) {
    if (shape[axis] == 1) continue;
    bool merges = !w.shape.empty();
    for (std::size_t i = 0; merges && i < arrays.size(); ++i)
      merges = w.strides[i].back() == arrays[i]->strides()[axis] * shape[axis];
    if (merges) w.shape.back() *= shape[axis];
    else w.shape.push_back(shape[axis]);
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      if (merges) w.strides[i].back() = arrays[i]->strides()[axis];
      else w.strides[i].push_back(arrays[i]->strides()[axis]);
    }
  }
  return w;
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
  return {kind, dst.dtype(), src.dtype(), static_cast<int>(walk({&dst, &src}).shape.size())};
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
  std::vector<const Array*> arrays{&dst};
  for (const Array& input : inputs) {
    CGVM_ASSERT(input.shape() == dst.shape(), "an elementwise copy needs one shape");
    arrays.push_back(&input);
  }
  const Walk w = walk(arrays);
  const int dims = k.num_dims;
  CGVM_ASSERT(static_cast<int>(w.shape.size()) == dims, "a copy's program walks its arrays' dims");
  const int args = static_cast<int>(k.operands.size() + k.results.size());
  size_.assign(w.shape.begin(), w.shape.end());
  stride_.assign(static_cast<std::size_t>(args * dims), 0);
  // Arg a is bound to arrays[i]: its data, and its strides on the loop dims of its axes.
  auto bind = [&](int a, const KernelArg& arg, std::size_t i) {
    for (int axis = 0; axis < dims; ++axis) {
      const int d = arg.dims[axis];
      CGVM_ASSERT(d >= 0, "an elementwise copy walks every axis");
      stride_[a * dims + d] = w.strides[i][axis];
    }
    data_.push_back(static_cast<char*>(arrays[i]->raw_data()));
  };
  for (std::size_t a = 0; a < k.operands.size(); ++a) {
    const auto input = std::find(program.inputs.begin(), program.inputs.end(), k.operands[a].value);
    CGVM_ASSERT(input != program.inputs.end(), "an operand that is not an input");
    const auto i = static_cast<std::size_t>(input - program.inputs.begin());
    bind(static_cast<int>(a), k.operands[a], 1 + i);  // arrays[0] is dst
  }
  bind(static_cast<int>(k.operands.size()), k.results.front(), 0);
}

KernelCall ElementwiseCall::call() const {
  return KernelCall{program_, program_.kernels.front(), program_.kernel_base, size_, data_, stride_};
}

}  // namespace cgvm
