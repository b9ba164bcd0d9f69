#include "symbolic/interpreter.hpp"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

#include "symbolic/op_def.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

std::string var_label(const Var& v) {
  std::string name = v.name();
  return name.empty() ? std::string(v.node()->op().name) : fmt::format("'{}'", name);
}

// The nodes to run, each after its inputs, not descending past bound Vars.
std::vector<const Node*> schedule(std::span<const Var> outputs,
                                  const std::unordered_map<Var, Array, VarHash, VarEq>& bound) {
  std::vector<const Node*> order;
  std::unordered_set<const Node*> done;
  std::vector<std::pair<const Node*, std::size_t>> stack;
  for (const Var& out : outputs) {
    if (bound.count(out) || done.count(out.node().get())) continue;
    stack.emplace_back(out.node().get(), 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs().size()) {
        const Var& in = node->inputs()[next++];
        if (!bound.count(in) && !done.count(in.node().get()))
          stack.emplace_back(in.node().get(), 0);
        continue;
      }
      if (done.insert(node).second) order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

void check_outputs(const Node& node, const std::vector<Array>& values) {
  CGVM_ASSERT(static_cast<int>(values.size()) == node.num_outputs(),
              fmt::format("{} returned {} values for {} outputs", node.op().name, values.size(),
                          node.num_outputs()));
  for (int i = 0; i < node.num_outputs(); ++i) {
    std::string why = node.output_types()[i].mismatch(values[i]);
    CGVM_ASSERT(why.empty(), fmt::format("{} output {}: {}", node.op().name, i, why));
  }
}

}  // namespace

std::vector<Array> evaluate(std::span<const Var> outputs, const Bindings& bindings) {
  std::unordered_map<Var, Array, VarHash, VarEq> values;
  for (const auto& [var, value] : bindings) {
    if (var.is_null()) throw Error("evaluate: a binding has a null Var");
    std::string why = var.type().mismatch(value);
    if (!why.empty())
      throw_error("evaluate", fmt::format("bad value for {}: {}", var_label(var), why),
                  var.node()->location());
    // The interpreter's evals read and write host memory.
    if (!value.on_host())
      throw_error("evaluate",
                  fmt::format("the value for {} is on {}, but evaluate() runs on the host; pass "
                              "to_host() of it, or make a function with .device = "
                              "Device::cuda({})",
                              var_label(var), value.device().str(), value.device().ordinal),
                  var.node()->location());
    values[var] = value;
  }
  for (const Var& out : outputs)
    if (out.is_null()) throw Error("evaluate: an output is a null Var");

  std::vector<const Node*> order = schedule(outputs, values);

  // How many scheduled consumers still need each value; outputs are pinned.
  std::unordered_map<Var, int, VarHash, VarEq> uses;
  for (const Node* node : order)
    for (const Var& in : node->inputs()) ++uses[in];
  for (const Var& out : outputs) uses[out] += 1 << 20;

  std::vector<Array> inputs;
  for (const Node* node : order) {
    if (is_input(node->output(0)))
      throw_error("evaluate",
                  fmt::format("no value given for input {} of type {}",
                              var_label(node->output(0)), node->output_types()[0].str()),
                  node->location());
    inputs.clear();
    for (const Var& in : node->inputs()) inputs.push_back(values.at(in));
    std::vector<Array> results = node->op().eval(EvalArgs{*node, inputs});
    check_outputs(*node, results);
    for (int i = 0; i < node->num_outputs(); ++i) values[node->output(i)] = results[i];
    for (const Var& in : node->inputs())
      if (--uses[in] == 0) values.erase(in);
  }

  std::vector<Array> result;
  for (const Var& out : outputs) result.push_back(values.at(out));
  return result;
}

Array evaluate(const Var& output, const Bindings& bindings) {
  return evaluate(std::span<const Var>(&output, 1), bindings)[0];
}

}  // namespace cgvm
