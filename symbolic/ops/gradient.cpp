// Ops that exist for the gradient: identity forward, a changed gradient backward.
#include <fmt/format.h>

#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm {
namespace {

OpDef identity_op(std::string_view name, GradFn grad) {
  return OpDef{
      .name = name,
      .family = OpFamily::Gradient,
      .min_inputs = 1,
      .max_inputs = 1,
      .infer = [](const InferArgs& a) { return std::vector<TensorType>{a.input(0)}; },
      .eval = [](const EvalArgs& a) { return std::vector<Array>{a.inputs[0]}; },
      .grad = std::move(grad),
      .view = true,
      .on_device = any_device,
  };
}

}  // namespace

namespace ops {

// No gradient flows back into the input.
const OpDef& stop_gradient_op() {
  static const OpDef def =
      identity_op("stop_gradient", [](const GradArgs&) { return std::vector<Var>{Var()}; });
  return def;
}

// attrs lo, hi: the gradient flowing back is clipped to [lo, hi].
const OpDef& grad_clip_op() {
  static const OpDef def = identity_op("grad_clip", [](const GradArgs& a) {
    return std::vector<Var>{
        clip(a.grad(), a.attrs().get_double("lo"), a.attrs().get_double("hi"), a.loc())};
  });
  return def;
}

}  // namespace ops

Var stop_gradient(const Var& x, std::source_location loc) {
  return apply(ops::stop_gradient_op(), {x}, {}, loc);
}

Var grad_clip(const Var& x, double lo, double hi, std::source_location loc) {
  if (!(lo <= hi))
    throw_error("grad_clip", fmt::format("lo ({}) must be <= hi ({})", lo, hi), loc);
  return apply(ops::grad_clip_op(), {x}, Attrs{{"lo", lo}, {"hi", hi}}, loc);
}

}  // namespace cgvm
