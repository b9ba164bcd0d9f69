// The non-template half of the elementwise family's shared machinery: static and run-time
// broadcasting (Theano's rule: only static size 1 stretches) and the dtype checks of the
// builders in elementwise_kernel.hpp.
#include "symbolic/ops/elementwise_kernel.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "symbolic/grad.hpp"
#include "symbolic/shape.hpp"

namespace cgvm {
namespace ops::detail {

bool accepts_dtype(Domain domain, DType dtype) {
  switch (domain) {
    case Domain::Float: return is_float(dtype);
    case Domain::Numeric: return !is_bool(dtype);
    case Domain::Bool: return is_bool(dtype);
    case Domain::Any: return true;
  }
  return false;
}

std::string_view domain_name(Domain domain) {
  switch (domain) {
    case Domain::Float: return "float";
    case Domain::Numeric: return "integer or float";
    case Domain::Bool: return "bool";
    case Domain::Any: return "any";
  }
  return "?";
}

std::vector<TensorType> infer_same_dtype(const InferArgs& args, Domain domain, bool to_bool) {
  const DType dtype = args.input(0).dtype;
  for (int i = 1; i < args.num_inputs(); ++i)
    if (args.input(i).dtype != dtype)
      args.fail(fmt::format("inputs must share one dtype, got {} and {} (the user functions "
                            "insert the casts)",
                            args.input(0).str(), args.input(i).str()));
  if (!accepts_dtype(domain, dtype))
    args.fail(fmt::format("takes {} inputs, got {}", domain_name(domain), args.input(0).str()));
  return {TensorType{to_bool ? DType::Bool : dtype, broadcast_static_shapes(args)}};
}

GradFn unary_grad(UnaryRule rule) {
  return [rule](const GradArgs& a) {
    return std::vector<Var>{rule({a.grad(), a.input(0), a.output(), a.loc()})};
  };
}

GradFn binary_grad(BinaryRule rule) {
  return [rule](const GradArgs& a) {
    std::array<Var, 2> g = rule({a.grad(), a.input(0), a.input(1), a.output(), a.loc()});
    return std::vector<Var>{sum_to_shape(g[0], a.input(0).type(), a.loc()),
                            sum_to_shape(g[1], a.input(1).type(), a.loc())};
  };
}

GradFn zero_grad() {
  return [](const GradArgs& a) {
    std::vector<Var> grads;
    for (const Var& in : a.node.inputs()) grads.push_back(zeros_like(in, a.loc()));
    return grads;
  };
}

std::array<Var, 2> route(const Var& mask, const Var& g, const std::source_location& l) {
  return {where(mask, g, 0, l), where(mask, 0, g, l)};
}

Shape broadcast_values(const EvalArgs& args) {
  const std::vector<Var>& vars = args.node.inputs();
  const int rank = args.output_type().rank();
  Shape out(rank, 1);
  std::vector<int> owner(rank, -1);  // the input that fixed out[d]
  for (int i = 0; i < static_cast<int>(args.inputs.size()); ++i) {
    const Array& value = args.inputs[i];
    const Shape& type_shape = vars[i].static_shape();
    const int lead = rank - value.rank();
    for (int j = 0; j < value.rank(); ++j) {
      if (type_shape[j] == 1) continue;  // statically broadcastable: stretches
      const int d = lead + j;
      if (owner[d] < 0) {
        out[d] = value.shape()[j];
        owner[d] = i;
      } else if (out[d] != value.shape()[j]) {
        const Array& first = args.inputs[owner[d]];
        args.fail(fmt::format(
            "cannot broadcast {} with {}: sizes {} and {} differ in output dimension {}, and "
            "only dimensions of static size 1 broadcast",
            TensorType{first.dtype(), first.shape()}.str(),
            TensorType{value.dtype(), value.shape()}.str(), out[d], value.shape()[j], d));
      }
    }
  }
  return out;
}

}  // namespace ops::detail

Shape broadcast_static_shapes(const InferArgs& args) {
  int rank = 0;
  for (int i = 0; i < args.num_inputs(); ++i) rank = std::max(rank, args.input(i).rank());
  Shape out(rank, 1);
  std::vector<int> owner(rank, -1);  // the input whose static size fixed out[d]
  for (int i = 0; i < args.num_inputs(); ++i) {
    const TensorType& t = args.input(i);
    const int lead = rank - t.rank();
    for (int j = 0; j < t.rank(); ++j) {
      const std::int64_t size = t.shape[j];
      const int d = lead + j;
      if (size == 1) continue;
      if (size == unknown_dim) {
        if (owner[d] < 0) out[d] = unknown_dim;  // unknown vs unknown: checked at run time
      } else if (owner[d] < 0) {
        out[d] = size;  // unknown vs static k: k
        owner[d] = i;
      } else if (out[d] != size) {
        args.fail(fmt::format("cannot broadcast {} with {}: sizes {} and {} differ in output "
                              "dimension {}, and neither is 1",
                              args.input(owner[d]).str(), t.str(), out[d], size, d));
      }
    }
  }
  return out;
}

}  // namespace cgvm
