#include "symbolic/graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "symbolic/op_def.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

std::vector<const Node*> topo_sort(std::span<const Var> outputs) {
  // Iterative DFS (graphs can be deep chains); a node is emitted after all its inputs.
  std::vector<const Node*> order;
  std::unordered_set<const Node*> done;
  std::vector<std::pair<const Node*, std::size_t>> stack;
  for (const Var& out : outputs) {
    if (out.is_null() || done.count(out.node().get())) continue;
    stack.emplace_back(out.node().get(), 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs().size()) {
        const Node* in = node->inputs()[next++].node().get();
        if (!done.count(in)) stack.emplace_back(in, 0);
        continue;
      }
      if (done.insert(node).second) order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

std::vector<Var> clone_replace(std::span<const Var> outputs, const Replacements& replacements,
                               bool strict) {
  std::unordered_map<Var, Var, VarHash, VarEq> replace;
  for (const auto& [from, to] : replacements) {
    if (from.is_null() || to.is_null())
      throw Error("givens: a replacement pair contains a null Var");
    const TensorType &a = from.type(), &b = to.type();
    bool ok = strict ? a == b : (a.dtype == b.dtype && a.rank() == b.rank());
    if (!ok)
      throw_error("givens",
                  fmt::format("cannot replace '{}' of type {} by a value of type {}",
                              from.name().empty() ? std::string(from.node()->op().name)
                                                  : from.name(),
                              a.str(), b.str()),
                  to.node()->location());
    replace[from] = to;
  }
  if (replace.empty()) return {outputs.begin(), outputs.end()};

  std::unordered_map<const Node*, NodePtr> rebuilt;
  auto map_var = [&](const Var& v) -> Var {
    if (auto it = replace.find(v); it != replace.end()) return it->second;
    if (auto it = rebuilt.find(v.node().get()); it != rebuilt.end())
      return Var(it->second, v.index());
    return v;
  };
  for (const Node* node : topo_sort(outputs)) {
    std::vector<Var> inputs;
    bool changed = false;
    for (const Var& in : node->inputs()) {
      inputs.push_back(map_var(in));
      changed |= !inputs.back().same(in);
    }
    if (changed)
      rebuilt[node] = make_node(node->op(), std::move(inputs), node->attrs(), node->location());
  }
  std::vector<Var> result;
  for (const Var& out : outputs) result.push_back(map_var(out));
  return result;
}

std::vector<Var> graph_inputs(std::span<const Var> outputs) {
  std::vector<Var> inputs;
  for (const Node* node : topo_sort(outputs))
    if (is_input(node->output(0))) inputs.push_back(node->output(0));
  std::sort(inputs.begin(), inputs.end(),
            [](const Var& a, const Var& b) { return a.node()->id() < b.node()->id(); });
  return inputs;
}

}  // namespace cgvm
