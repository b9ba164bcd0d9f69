#include "symbolic/op_def.hpp"

#include <fmt/format.h>

#include "symbolic/op_list.hpp"

namespace cgvm {

std::string_view family_name(OpFamily family) {
  switch (family) {
    case OpFamily::Source: return "source";
    case OpFamily::Elementwise: return "elementwise";
    case OpFamily::Reduce: return "reduce";
    case OpFamily::Shape: return "shape";
    case OpFamily::Index: return "index";
    case OpFamily::Contraction: return "contraction";
    case OpFamily::Random: return "random";
    case OpFamily::Gradient: return "gradient";
    case OpFamily::Control: return "control";
  }
  return "?";
}

void InferArgs::fail(const std::string& message) const {
  std::vector<std::string> types;
  for (const Var& v : inputs) types.push_back(v.type().str());
  throw_error(op.name, fmt::format("{} (inputs: {})", message, fmt::join(types, ", ")), loc);
}

const Attrs& EvalArgs::attrs() const { return node.attrs(); }

const TensorType& EvalArgs::output_type(int i) const { return node.output_types()[i]; }

void EvalArgs::fail(const std::string& message) const {
  std::vector<std::string> shapes;
  for (const Array& a : inputs)
    shapes.push_back(fmt::format("{}{}", dtype_name(a.dtype()), shape_str(a.shape())));
  throw_error(node.op().name,
              fmt::format("{} (input values: {})", message, fmt::join(shapes, ", ")),
              node.location());
}

const Array* constant_value(const Var& v) {
  if (v.is_null() || &v.node()->op() != &ops::constant_op()) return nullptr;
  return &v.node()->attrs().get_array("value");
}

std::optional<std::int64_t> constant_int(const Var& v) {
  const Array* a = constant_value(v);
  if (!a || a->rank() != 0 || is_float(a->dtype())) return std::nullopt;
  return a->item<std::int64_t>();
}

namespace ops {

const std::vector<const OpDef*>& all_ops() {
  static const std::vector<const OpDef*> list = {
#define CGVM_LIST_OP(name, family) &name##_op(),
      CGVM_OPS(CGVM_LIST_OP)
#undef CGVM_LIST_OP
  };
  return list;
}

}  // namespace ops
}  // namespace cgvm

namespace cgvm {

DType EmitArgs::in_dtype(int i) const { return node.input(i).dtype(); }

bool any_device(const Node&) { return true; }

EmitFn emit_call(std::string function) {
  return [function = std::move(function)](const EmitArgs& a) {
    std::string text = function + "(";
    for (std::size_t i = 0; i < a.in.size(); ++i) text += (i ? ", " : "") + a.in[i];
    return text + ")";
  };
}

EmitFn emit_infix(std::string op) {
  return [op = std::move(op)](const EmitArgs& a) {
    return "(" + a.in[0] + " " + op + " " + a.in[1] + ")";
  };
}

}  // namespace cgvm
