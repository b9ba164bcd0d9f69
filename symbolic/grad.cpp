// Reverse-mode differentiation over the graph. The order of work:
//   1. check the cost, the wrt list and the known gradients;
//   2. mark, in forward order, every Var that depends on a wrt (consider_constant cuts);
//   3. walk the cost's ancestors in reverse order, asking each op's gradient block for its
//      inputs' gradients where an input depends on a wrt, summing contributions per Var;
//   4. apply the disconnected-input policy.
#include "symbolic/grad.hpp"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

#include "runtime/log.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using VarSet = std::unordered_set<Var, VarHash, VarEq>;

std::string label(const Var& v) {
  std::string n = v.name();
  return n.empty() ? fmt::format("<{} {}>", v.node()->op().name, v.type().str())
                   : fmt::format("'{}'", n);
}

// Contributions to each Var's gradient, summed when read.
class GradSums {
 public:
  void add(const Var& v, const Var& g) { parts_[v].push_back(g); }
  Var total(const Var& v) const {
    auto it = parts_.find(v);
    if (it == parts_.end() || it->second.empty()) return {};
    Var sum = it->second[0];
    for (std::size_t i = 1; i < it->second.size(); ++i)
      sum = add_parts(sum, it->second[i], v);
    return sum;
  }

 private:
  static Var add_parts(const Var& a, const Var& b, const Var& v) {
    return cgvm::add(a, b, v.node()->location());
  }
  std::unordered_map<Var, std::vector<Var>, VarHash, VarEq> parts_;
};

// Brings an op's input gradient to the input's dtype and checks its rank.
Var fit_gradient(const Var& g, const Var& input, const Node& node) {
  CGVM_ASSERT(g.rank() == input.rank(),
              fmt::format("gradient of {} input has type {}, the input {}", node.op().name,
                          g.type().str(), input.type().str()));
  return g.dtype() == input.dtype() ? g : cast(g, input.dtype(), node.location());
}

// A known gradient may be broadcastable where its variable is not (a row for a matrix): it
// is stretched to the variable's shape, or every gradient below it gets that wrong shape.
Var fit_known_grad(const Var& g, const Var& v, const std::source_location& loc) {
  Var out = cast(g, v.dtype(), loc);  // a cast to the same dtype returns g
  bool stretch = false;
  for (int i = 0; i < v.rank(); ++i)
    stretch |= out.static_shape()[i] == 1 && v.static_shape()[i] != 1;
  return stretch ? broadcast_to(out, dims_of(v, loc), loc) : out;
}

VarSet mark_dependents(const std::vector<const Node*>& order, const VarSet& wrt,
                       const VarSet& blocked) {
  VarSet depends;
  for (const Var& w : wrt)
    if (!blocked.count(w)) depends.insert(w);
  for (const Node* node : order) {
    bool any = false;
    for (const Var& in : node->inputs()) any |= depends.count(in) > 0;
    for (int i = 0; i < node->num_outputs(); ++i) {
      Var out = node->output(i);
      if (blocked.count(out) || !is_float(out.dtype())) continue;
      if (any) depends.insert(out);
    }
  }
  return depends;
}

}  // namespace

std::vector<Var> grad(const Var& cost, const std::vector<Var>& wrt, const GradOptions& options,
                      std::source_location loc) {
  // 1. checks
  if (cost.is_null() && options.known_grads.empty())
    throw_error("grad", "the cost is a null Var and no known_grads were given", loc);
  if (!cost.is_null() && (cost.rank() != 0 || !is_float(cost.dtype())))
    throw_error("grad",
                fmt::format("the cost must be a float scalar, got {} (reduce it with sum or "
                            "mean first)",
                            cost.type().str()),
                loc);
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    if (wrt[i].is_null()) throw_error("grad", fmt::format("wrt {} is a null Var", i), loc);
    if (!is_float(wrt[i].dtype()))
      throw_error("grad",
                  fmt::format("cannot differentiate with respect to {} of type {}: integer and "
                              "bool tensors are not differentiable",
                              label(wrt[i]), wrt[i].type().str()),
                  loc);
  }
  std::vector<Var> roots;
  if (!cost.is_null()) roots.push_back(cost);
  for (const auto& [v, g] : options.known_grads) {
    if (v.is_null() || g.is_null()) throw_error("grad", "known_grads holds a null Var", loc);
    if (!is_float(v.dtype()) || v.rank() != g.rank())
      throw_error("grad",
                  fmt::format("known_grads: the gradient of {} has type {}; it must be a float "
                              "tensor of the variable's rank",
                              label(v), g.type().str()),
                  loc);
    for (int i = 0; i < v.rank(); ++i) {
      std::int64_t gd = g.static_shape()[i], vd = v.static_shape()[i];
      if (gd != unknown_dim && vd != unknown_dim && gd != 1 && gd != vd)
        throw_error("grad",
                    fmt::format("known_grads: the gradient of {} has type {}, which does not fit "
                                "the variable's type {}",
                                label(v), g.type().str(), v.type().str()),
                    loc);
    }
    roots.push_back(v);
  }

  // 2. forward marking
  std::vector<const Node*> order = topo_sort(roots);
  VarSet wrt_set(wrt.begin(), wrt.end());
  VarSet blocked(options.consider_constant.begin(), options.consider_constant.end());
  VarSet depends = mark_dependents(order, wrt_set, blocked);

  // 3. backward accumulation
  GradSums sums;
  if (!cost.is_null() && depends.count(cost)) sums.add(cost, constant(1.0, cost.dtype(), loc));
  for (const auto& [v, g] : options.known_grads)
    if (depends.count(v)) sums.add(v, fit_known_grad(g, v, loc));

  std::vector<Var> output_grads;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node& node = **it;
    bool needed = false;
    for (const Var& in : node.inputs()) needed |= depends.count(in) > 0;
    if (!needed) continue;
    output_grads.clear();
    bool any_grad = false;
    for (int i = 0; i < node.num_outputs(); ++i) {
      Var out = node.output(i);
      output_grads.push_back(depends.count(out) ? sums.total(out) : Var());
      any_grad |= !output_grads.back().is_null();
    }
    if (!any_grad) continue;
    if (!node.op().grad)
      throw_error(node.op().name,
                  "has no gradient, but the cost's gradient must flow through it to the "
                  "variables asked for (wrap the input in stop_gradient if that is intended)",
                  node.location());
    std::vector<Var> in_grads = node.op().grad(GradArgs{node, output_grads});
    CGVM_ASSERT(in_grads.size() == node.inputs().size(),
                fmt::format("{} gradient returned {} values for {} inputs", node.op().name,
                            in_grads.size(), node.inputs().size()));
    for (std::size_t i = 0; i < in_grads.size(); ++i) {
      const Var& in = node.input(static_cast<int>(i));
      if (in_grads[i].is_null() || !depends.count(in)) continue;
      sums.add(in, fit_gradient(in_grads[i], in, node));
    }
  }

  // 4. results and the disconnected policy
  std::vector<Var> result;
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    Var g = depends.count(wrt[i]) ? sums.total(wrt[i]) : Var();
    if (g.is_null()) {
      std::string msg = fmt::format(
          "the cost does not depend on {} (wrt {}); pass disconnected = Warn or Zero to get "
          "zeros",
          label(wrt[i]), i);
      if (options.disconnected == Disconnected::Raise) throw_error("grad", msg, loc);
      if (options.disconnected == Disconnected::Warn)
        warn(fmt::format("grad: {} at {}", msg, format_location(loc)));
      g = zeros_like(wrt[i], loc);
    }
    result.push_back(g);
  }
  return result;
}

Var grad(const Var& cost, const Var& wrt, const GradOptions& options, std::source_location loc) {
  return grad(cost, std::vector<Var>{wrt}, options, loc)[0];
}

Var sum_to_shape(const Var& g, const TensorType& like, const std::source_location& loc) {
  int extra = g.rank() - like.rank();
  CGVM_ASSERT(extra >= 0, "sum_to_shape: gradient of lower rank than its input");
  Var out = g;
  if (extra > 0) {
    std::vector<std::int64_t> lead;
    for (int i = 0; i < extra; ++i) lead.push_back(i);
    out = sum(out, Axes(lead), false, loc);
  }
  std::vector<std::int64_t> stretched;
  for (int i = 0; i < like.rank(); ++i)
    if (like.shape[i] == 1 && out.static_shape()[i] != 1) stretched.push_back(i);
  if (!stretched.empty()) out = sum(out, Axes(stretched), true, loc);
  return out;
}

}  // namespace cgvm
