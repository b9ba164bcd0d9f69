// The ifelse op and ifelse() (symbolic/ifelse.hpp).
//
// The node: inputs [cond, operands...]; attrs "then" and "else", each a Subgraph whose inputs
// are placeholders for the operands, in order, and whose outputs are the branch's values.
#include "symbolic/ifelse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "runtime/error.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

// Both branches' types agree on dtype and rank; a size they disagree on is unknown.
std::vector<TensorType> infer_ifelse(const InferArgs& a) {
  const Subgraph &yes = *a.attrs.get_subgraph("then"), &no = *a.attrs.get_subgraph("else");
  std::vector<TensorType> out;
  for (std::size_t i = 0; i < yes.outputs.size(); ++i) {
    TensorType t = yes.outputs[i].type();
    const TensorType& e = no.outputs[i].type();
    for (int d = 0; d < t.rank(); ++d)
      if (t.shape[d] != e.shape[d]) t.shape[d] = unknown_dim;
    out.push_back(t);
  }
  return out;
}

std::vector<Array> eval_ifelse(const EvalArgs& e) {
  const bool taken = e.inputs[0].astype(DType::Bool).item<bool>();
  const Subgraph& branch = *e.attrs().get_subgraph(taken ? "then" : "else");
  Bindings bind;
  for (std::size_t i = 0; i < branch.inputs.size(); ++i) bind.emplace_back(branch.inputs[i], e.inputs[1 + i]);
  std::vector<Array> out = evaluate(branch.outputs, bind);
  // A constant of the branch is shared by every graph that holds it: never hand it out.
  for (std::size_t i = 0; i < out.size(); ++i)
    if (is_constant(branch.outputs[i])) out[i] = out[i].copy();
  return out;
}

std::vector<Var> node_outputs(const NodePtr& node) {
  std::vector<Var> out;
  for (int i = 0; i < node->num_outputs(); ++i) out.push_back(node->output(i));
  return out;
}

Var placeholder_like(const std::string& name, const Var& v) {
  return tensor(name, v.dtype(), v.static_shape());
}

// d/d operand: the taken branch's gradient, as another lazy ifelse node whose operands are
// the forward operands and the gradients flowing in, and whose branches are each branch's
// gradient over its own placeholders (independent of each other, unlike the operands, which
// may be computed from one another: n = norm(g); ifelse(n > c, g * (c / n), g)).
std::vector<Var> grad_ifelse(const GradArgs& a) {
  const Node& node = a.node;
  const auto& loc = a.loc();
  std::vector<Var> grads(node.inputs().size());
  std::vector<int> outputs_in;  // float outputs with a gradient flowing in
  for (int i = 0; i < node.num_outputs(); ++i)
    if (a.grad(i) && is_float(node.output(i).dtype())) outputs_in.push_back(i);
  std::vector<int> wrt;  // float operands
  for (int i = 1; i < static_cast<int>(node.inputs().size()); ++i)
    if (is_float(node.input(i).dtype())) wrt.push_back(i);
  if (outputs_in.empty() || wrt.empty()) return grads;
  auto branch_gradient = [&](const char* which) {
    const Subgraph& branch = *node.attrs().get_subgraph(which);
    std::vector<Var> inputs = branch.inputs;
    Replacements known;
    for (int i : outputs_in) {
      inputs.push_back(placeholder_like(fmt::format("grad{}", i), a.grad(i)));
      known.emplace_back(branch.outputs[i], inputs.back());
    }
    std::vector<Var> over;
    for (int i : wrt) over.push_back(branch.inputs[i - 1]);
    std::vector<Var> g = grad(Var(), over, {.known_grads = known, .disconnected = Disconnected::Zero}, loc);
    return std::make_shared<const Subgraph>(Subgraph{std::move(inputs), std::move(g)});
  };
  std::vector<Var> inputs(node.inputs().begin(), node.inputs().end());
  for (int i : outputs_in) inputs.push_back(a.grad(i));
  NodePtr g = make_node(ops::ifelse_op(), std::move(inputs),
                        Attrs{{"then", branch_gradient("then")}, {"else", branch_gradient("else")}}, loc);
  for (std::size_t k = 0; k < wrt.size(); ++k) grads[wrt[k]] = g->output(static_cast<int>(k));
  return grads;
}

}  // namespace

namespace ops {

// ifelse(cond, operands...; then, else): the outputs of the branch cond picks, computing only
// that branch (symbolic/ifelse.hpp).
const OpDef& ifelse_op() {
  static const OpDef def{
      .name = "ifelse",
      .family = OpFamily::Control,
      .min_inputs = 1,
      .max_inputs = -1,
      .infer = infer_ifelse,
      .eval = eval_ifelse,
      .grad = grad_ifelse,
  };
  return def;
}

}  // namespace ops

std::vector<Var> ifelse(const Var& cond, const std::vector<Var>& then_values,
                        const std::vector<Var>& else_values, std::source_location loc) {
  if (cond.is_null()) throw_error("ifelse", "the condition is a null Var", loc);
  if (cond.rank() != 0)
    throw_error("ifelse", fmt::format("the condition must be a scalar, got {} (where() picks "
                                      "per element)", cond.type().str()), loc);
  if (then_values.size() != else_values.size() || then_values.empty())
    throw_error("ifelse", fmt::format("the branches give {} and {} values; they must give the "
                                      "same number, at least one",
                                      then_values.size(), else_values.size()), loc);
  for (std::size_t i = 0; i < then_values.size(); ++i) {
    const Var &t = then_values[i], &e = else_values[i];
    if (t.is_null() || e.is_null()) throw_error("ifelse", fmt::format("value {} is a null Var", i), loc);
    if (t.dtype() != e.dtype() || t.rank() != e.rank())
      throw_error("ifelse", fmt::format("value {} is {} in the then branch and {} in the else "
                                        "branch; they must have one dtype and rank",
                                        i, t.type().str(), e.type().str()), loc);
  }
  // Operands: what the branches read from outside (leaves, and what the condition computes).
  std::unordered_set<const Node*> outside;
  for (const Node* n : topo_sort(std::vector<Var>{cond})) outside.insert(n);
  std::vector<Var> all(then_values);
  all.insert(all.end(), else_values.begin(), else_values.end());
  std::vector<Var> operands;
  std::unordered_set<const Node*> seen;
  std::vector<Var> stack(all.begin(), all.end());
  while (!stack.empty()) {
    Var v = stack.back();
    stack.pop_back();
    const Node* n = v.node().get();
    // Random draws stay outside too: their state advances with every call of the function.
    const bool leaf = (n->inputs().empty() && !is_constant(v)) || n->op().state_input >= 0;
    if (leaf || outside.count(n)) {
      if (std::none_of(operands.begin(), operands.end(), [&](const Var& o) { return o.same(v); }))
        operands.push_back(v);
      continue;
    }
    if (!seen.insert(n).second) continue;
    for (const Var& in : n->inputs()) stack.push_back(in);
  }
  auto subgraph = [&](const std::vector<Var>& values) {
    Replacements bind;
    std::vector<Var> placeholders;
    for (std::size_t i = 0; i < operands.size(); ++i) {
      placeholders.push_back(placeholder_like(fmt::format("operand{}", i), operands[i]));
      bind.emplace_back(operands[i], placeholders.back());
    }
    return std::make_shared<const Subgraph>(Subgraph{placeholders, clone_replace(values, bind)});
  };
  std::vector<Var> inputs{cond};
  inputs.insert(inputs.end(), operands.begin(), operands.end());
  return node_outputs(make_node(ops::ifelse_op(), std::move(inputs),
                                Attrs{{"then", subgraph(then_values)}, {"else", subgraph(else_values)}},
                                loc));
}

Var ifelse(const Var& cond, const Var& then_value, const Var& else_value, std::source_location loc) {
  return ifelse(cond, std::vector<Var>{then_value}, std::vector<Var>{else_value}, loc)[0];
}

}  // namespace cgvm
