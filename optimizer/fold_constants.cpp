#include "optimizer/fold_constants.hpp"

#include <algorithm>

#include "runtime/error.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

namespace {

// A folded result may be this much larger than all its inputs together.
constexpr std::int64_t kMaxGrowth = 1024;

Var fold(const Match& m) {
  const Node& n = m.node();
  const OpDef& op = n.op();
  if (n.inputs().empty() || !op.eval || op.state_input >= 0 || op.family == OpFamily::Random)
    return {};
  std::vector<Array> values;
  std::int64_t input_elements = 0;
  for (const Var& in : n.inputs()) {
    const Array* a = constant_value(in);
    if (!a) return {};
    values.push_back(*a);
    input_elements += a->size();
  }
  const Shape& out = n.output_types()[0].shape;
  if (std::any_of(out.begin(), out.end(), [](std::int64_t d) { return d < 0; }) ||
      shape_size(out) > input_elements + kMaxGrowth)
    return {};
  try {
    std::vector<Array> result = op.eval(EvalArgs{n, values});
    return m.constant(result[0]);
  } catch (const Error&) {
    return {};  // raised again, with real context, when the function runs
  }
}

}  // namespace

std::vector<Rule> fold_constants_rules() {
  return {
      // op(constant, ...) -> constant
      {"fold constants", Pattern::any_op(), fold},
  };
}

}  // namespace cgvm
