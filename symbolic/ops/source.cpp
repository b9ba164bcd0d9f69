// Source ops: where values enter a graph. They have no inputs; their value comes from the
// caller (input), the node itself (constant) or the library's state (shared).
#include <fmt/format.h>

#include <atomic>

#include "symbolic/op_list.hpp"
#include "symbolic/shared.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace ops {

// A symbolic input: attrs name, uid (distinct inputs never hash-cons together), type.
const OpDef& input_op() {
  static const OpDef def{
      .name = "input",
      .family = OpFamily::Source,
      .infer = [](const InferArgs& a) {
        return std::vector<TensorType>{
            {a.attrs.get_dtype("dtype"), a.attrs.get_ints("shape")}};
      },
      .eval = [](const EvalArgs& a) -> std::vector<Array> {
        a.fail(fmt::format("no value was given for input '{}'", a.attrs().get_string("name")));
      },
  };
  return def;
}

// A constant: attrs value (an Array). Its static shape is fully known.
const OpDef& constant_op() {
  static const OpDef def{
      .name = "constant",
      .family = OpFamily::Source,
      .infer = [](const InferArgs& a) {
        const Array& v = a.attrs.get_array("value");
        return std::vector<TensorType>{{v.dtype(), v.shape()}};
      },
      .eval = [](const EvalArgs& a) { return std::vector<Array>{a.attrs().get_array("value")}; },
  };
  return def;
}

// A shared variable: attrs state (the SharedState), name.
const OpDef& shared_op() {
  static const OpDef def{
      .name = "shared",
      .family = OpFamily::Source,
      .infer = [](const InferArgs& a) {
        return std::vector<TensorType>{a.attrs.get_shared("state")->type()};
      },
      .eval = [](const EvalArgs& a) {
        return std::vector<Array>{a.attrs().get_shared("state")->get(/*borrow=*/true).to_host()};
      },
  };
  return def;
}

}  // namespace ops

namespace {
std::atomic<std::int64_t> next_input_uid{1};

Var make_input(const std::string& name, DType dtype, Shape shape, std::source_location loc) {
  for (auto d : shape)
    if (d < 0 && d != unknown_dim)
      throw_error("tensor", fmt::format("dimension sizes must be >= 0 or unknown_dim, got {}",
                                        shape_str(shape)),
                  loc);
  return apply(ops::input_op(), {},
               Attrs{{"name", name},
                     {"uid", next_input_uid++},
                     {"dtype", dtype},
                     {"shape", std::move(shape)}},
               loc);
}
}  // namespace

Var tensor(const std::string& name, DType dtype, const Shape& static_shape,
           std::source_location loc) {
  return make_input(name, dtype, static_shape, loc);
}
Var scalar(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, {}, loc);
}
Var vector(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, {unknown_dim}, loc);
}
Var matrix(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, {unknown_dim, unknown_dim}, loc);
}
Var tensor3(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, Shape(3, unknown_dim), loc);
}
Var tensor4(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, Shape(4, unknown_dim), loc);
}
Var row(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, {1, unknown_dim}, loc);
}
Var col(const std::string& name, DType dtype, std::source_location loc) {
  return make_input(name, dtype, {unknown_dim, 1}, loc);
}

Var constant(const Array& value, std::source_location loc) {
  // A device array is copied to the host: the graph's values are read there (hash-consing,
  // folding), and a device function moves its constants over once.
  return apply(ops::constant_op(), {},
               Attrs{{"value", value.on_host() ? value.copy() : value.to_host()}}, loc);
}

Var constant(double value, DType dtype, std::source_location loc) {
  return apply(ops::constant_op(), {}, Attrs{{"value", Array::full({}, value, dtype)}}, loc);
}

bool is_input(const Var& v) { return v && &v.node()->op() == &ops::input_op(); }
bool is_constant(const Var& v) { return v && &v.node()->op() == &ops::constant_op(); }
bool is_shared(const Var& v) { return v && &v.node()->op() == &ops::shared_op(); }

}  // namespace cgvm
