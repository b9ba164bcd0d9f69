#include "codegen/lower.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "symbolic/graph.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

class Lowering {
 public:
  Lowering(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
           const FusionPlan& plan)
      : plan_(plan) {
    for (const Var& v : inputs) p_.inputs.push_back(id(v));
    for (const Node* n : topo_sort(outputs)) {
      if (auto k = plan.kernel_of.find(n); k != plan.kernel_of.end()) {
        // A kernel's last node in topological order is its root: every other node of the
        // kernel feeds it. The kernel runs there, when all its operands exist.
        if (n == plan.kernels[k->second].nodes.back()) add_kernel(k->second, outputs);
        continue;
      }
      Var v0 = n->output(0);
      if (is_input(v0)) continue;
      if (is_constant(v0) || is_shared(v0)) {
        p_.sources.emplace_back(id(v0), v0);
        continue;
      }
      Step s{.kind = Step::Kind::Eval, .node = n};
      if (&n->op() == &ops::scan_op()) {
        // The body, already optimized with the graph (optimizer/scan_loops.hpp), is fused
        // and lowered on its own.
        const Subgraph& body = *n->attrs().get_subgraph("body");
        s.kind = Step::Kind::Loop;
        s.loop = static_cast<int>(p_.loops.size());
        p_.loops.push_back({lower(body.inputs, body.outputs, fuse_kernels(body.outputs))});
      }
      if (&n->op() == &ops::ifelse_op()) {
        // Each branch, already optimized with the graph (optimizer/ifelse_branches.hpp),
        // is fused and lowered on its own.
        s.kind = Step::Kind::Branch;
        s.loop = static_cast<int>(p_.loops.size());
        for (const char* which : {"then", "else"}) {
          const Subgraph& branch = *n->attrs().get_subgraph(which);
          p_.loops.push_back({lower(branch.inputs, branch.outputs, fuse_kernels(branch.outputs))});
        }
      }
      for (const Var& in : n->inputs()) s.inputs.push_back(id(in));
      for (int i = 0; i < n->num_outputs(); ++i) s.outputs.push_back(id(n->output(i)));
      p_.steps.push_back(std::move(s));
    }
    for (const Var& v : outputs) p_.outputs.push_back(id(v));
    plan_buffers();
  }

  Program take() { return std::move(p_); }

 private:
  int id(const Var& v) {
    auto [it, inserted] = ids_.emplace(v, static_cast<int>(p_.values.size()));
    if (inserted) p_.values.push_back(v);
    return it->second;
  }

  void add_kernel(int index, const std::vector<Var>& outputs) {
    const FusedKernel& f = plan_.kernels[index];
    LoopKernel k;
    k.name = fmt::format("cgk{}", p_.kernels.size());
    k.num_dims = f.num_dims;
    k.nodes = f.nodes;
    k.static_size.assign(f.num_dims, -1);
    auto note_sizes = [&](const Shape& shape, const std::vector<int>& dims) {
      for (std::size_t a = 0; a < dims.size(); ++a)
        if (dims[a] >= 0 && shape[a] != unknown_dim) k.static_size[dims[a]] = shape[a];
    };
    auto inside = [&](const Var& v) {
      auto it = plan_.kernel_of.find(v.node().get());
      return it != plan_.kernel_of.end() && it->second == index;
    };
    std::unordered_map<const Node*, int> node_index;
    for (const Node* n : f.nodes) node_index[n] = static_cast<int>(node_index.size());
    for (const Node* n : f.nodes) {
      const auto& in_dims = f.input_dims.at(n);
      k.dims.push_back(f.output_dims.at(n));
      for (std::size_t i = 0; i < n->inputs().size(); ++i) {
        const Var& in = n->input(static_cast<int>(i));
        note_sizes(in.static_shape(), in_dims[i]);
        if (inside(in)) continue;
        KernelArg arg{id(in), in_dims[i], n};
        auto seen = std::find_if(k.operands.begin(), k.operands.end(), [&](const KernelArg& o) {
          return o.value == arg.value && o.dims == arg.dims;
        });
        if (seen == k.operands.end()) k.operands.push_back(std::move(arg));
      }
      note_sizes(n->output_types()[0].shape, f.output_dims.at(n));
      if (n->op().emit_reduce && !n->op().emit_reduce(*n).has_identity)
        k.need_elements.push_back(n);
    }
    for (const Node* n : f.nodes) {
      std::vector<int> src;
      for (std::size_t i = 0; i < n->inputs().size(); ++i) {
        const Var& in = n->input(static_cast<int>(i));
        if (inside(in)) {
          src.push_back(node_index.at(in.node().get()));
          continue;
        }
        int value = id(in);
        const auto& dims = f.input_dims.at(n)[i];
        auto o = std::find_if(k.operands.begin(), k.operands.end(), [&](const KernelArg& a) {
          return a.value == value && a.dims == dims;
        });
        src.push_back(-1 - static_cast<int>(o - k.operands.begin()));
      }
      k.sources.push_back(std::move(src));
    }
    // Results: the root, and whatever else the function returns.
    for (const Node* n : f.nodes) {
      Var v = n->output(0);
      bool returned = std::any_of(outputs.begin(), outputs.end(),
                                  [&](const Var& o) { return o.same(v); });
      if (n == f.nodes.back() || returned) k.results.push_back({id(v), f.output_dims.at(n), n});
    }
    for (int d = 0; d < f.num_dims; ++d)
      if (std::find(f.reduced.begin(), f.reduced.end(), d) == f.reduced.end()) k.outer.push_back(d);
    k.reduces = !f.reduced.empty();
    if (k.reduces) {
      k.inner = f.reduced;
    } else if (!k.outer.empty()) {
      k.inner = {k.outer.back()};
      k.outer.pop_back();
    }

    Step s{.kind = Step::Kind::Kernel, .kernel = static_cast<int>(p_.kernels.size())};
    for (const KernelArg& a : k.operands) s.inputs.push_back(a.value);
    for (const KernelArg& a : k.results) s.outputs.push_back(a.value);
    p_.kernels.push_back(std::move(k));
    p_.steps.push_back(std::move(s));
  }

  // Linear scan over the steps. A value may be released after its last reader. An eval may
  // return a view of its inputs (reshape, dimshuffle...), so its inputs live as long as its
  // outputs. Kernel results that the function does not return get slots; a slot is free
  // again once its value is released, and a kernel result takes over the slot of an operand
  // that dies at that step when it reads it at exactly the point it writes (in place).
  void plan_buffers() {
    const int n_values = static_cast<int>(p_.values.size());
    const int n_steps = static_cast<int>(p_.steps.size());
    p_.last_use.assign(n_values, -1);
    for (int s = 0; s < n_steps; ++s)
      for (int v : p_.steps[s].inputs) p_.last_use[v] = s;
    for (int v : p_.outputs) p_.last_use[v] = n_steps;
    for (int s = n_steps - 1; s >= 0; --s) {
      const Step& st = p_.steps[s];
      for (int v : st.outputs) p_.last_use[v] = std::max(p_.last_use[v], s);
      if (st.kind != Step::Kind::Eval) continue;  // kernels and loops write fresh memory
      int live = s;
      for (int v : st.outputs) live = std::max(live, p_.last_use[v]);
      for (int v : st.inputs) p_.last_use[v] = std::max(p_.last_use[v], live);
    }

    p_.release_after.assign(n_steps, {});
    for (int v = 0; v < n_values; ++v)
      if (p_.last_use[v] >= 0 && p_.last_use[v] < n_steps) p_.release_after[p_.last_use[v]].push_back(v);

    p_.slot.assign(n_values, -1);
    std::vector<int> free_slots;
    std::vector<bool> returned(n_values, false);
    for (int v : p_.outputs) returned[v] = true;
    for (int s = 0; s < n_steps; ++s) {
      const Step& st = p_.steps[s];
      if (st.kind == Step::Kind::Kernel) {
        const LoopKernel& k = p_.kernels[st.kernel];
        for (const KernelArg& r : k.results) {
          if (returned[r.value]) continue;
          p_.slot[r.value] = in_place_slot(k, r, s);
          if (p_.slot[r.value] >= 0) continue;
          if (free_slots.empty()) {
            p_.slot[r.value] = p_.num_slots++;
          } else {
            p_.slot[r.value] = free_slots.back();
            free_slots.pop_back();
          }
        }
      }
      // A dying operand's slot stays taken when a live result of this step took it over.
      auto held = [&](int slot) {
        return std::any_of(st.outputs.begin(), st.outputs.end(),
                           [&](int o) { return p_.slot[o] == slot && p_.last_use[o] > s; });
      };
      std::set<int> freed;
      for (int v : p_.release_after[s])
        if (p_.slot[v] >= 0 && !held(p_.slot[v])) freed.insert(p_.slot[v]);
      free_slots.insert(free_slots.end(), freed.begin(), freed.end());
    }
  }

  // The slot of an operand that dies here, is read once, at the same points as `r` is
  // written, with the same element size: `r` may overwrite it.
  int in_place_slot(const LoopKernel& k, const KernelArg& r, int step) {
    for (const KernelArg& o : k.operands) {
      int slot = p_.slot[o.value];
      if (slot < 0 || p_.last_use[o.value] != step || o.dims != r.dims) continue;
      if (dtype_size(p_.values[o.value].dtype()) != dtype_size(p_.values[r.value].dtype())) continue;
      long uses = std::count_if(k.operands.begin(), k.operands.end(),
                                [&](const KernelArg& x) { return x.value == o.value; });
      if (uses != 1 || slot_taken(slot, p_.steps[step])) continue;
      return slot;
    }
    return -1;
  }

  bool slot_taken(int slot, const Step& st) const {
    return std::any_of(st.outputs.begin(), st.outputs.end(),
                       [&](int v) { return p_.slot[v] == slot; });
  }

  const FusionPlan& plan_;
  Program p_;
  std::unordered_map<Var, int, VarHash, VarEq> ids_;
};

}  // namespace

namespace {

// Kernel names and table entries, depth first through loop bodies: one translation unit,
// one table.
void number_kernels(Program& p, int& next) {
  p.kernel_base = next;
  for (LoopKernel& k : p.kernels) k.name = fmt::format("cgk{}", next++);
  for (ScanLoop& l : p.loops) number_kernels(l.body, next);
}

}  // namespace

Program lower(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
              const FusionPlan& plan) {
  Program p = Lowering(inputs, outputs, plan).take();
  int next = 0;
  number_kernels(p, next);
  return p;
}

}  // namespace cgvm
