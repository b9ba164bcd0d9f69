#include "optimizer/fuse_kernels.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "symbolic/graph.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm {
namespace {

bool is_reduce(const Node& n) { return static_cast<bool>(n.op().emit_reduce); }
bool is_dimshuffle(const Node& n) { return &n.op() == &ops::dimshuffle_op(); }

// A kernel under construction. Dims are unified as nodes join (two consumers reading one
// value walk its axes with the same dims), so they live in a union-find until the end.
struct Builder {
  std::vector<const Node*> nodes;
  std::vector<int> parent;
  std::unordered_map<const Node*, std::vector<int>> out;
  std::unordered_map<const Node*, std::vector<std::vector<int>>> in;

  int fresh() {
    parent.push_back(static_cast<int>(parent.size()));
    return parent.back();
  }
  int find(int d) {
    if (d < 0) return d;
    while (parent[d] != d) d = parent[d] = parent[parent[d]];
    return d;
  }
  bool unite(int a, int b) {
    if ((a < 0) != (b < 0)) return false;
    if (a >= 0) parent[find(a)] = find(b);
    return true;
  }
  std::set<int> resolved(const std::vector<int>& dims) {
    std::set<int> s;
    for (int d : dims)
      if (d >= 0) s.insert(find(d));
    return s;
  }
};

// The dims of each input of `n`, given the dims of its output.
std::vector<std::vector<int>> input_dims(const Node& n, const std::vector<int>& out,
                                         Builder& b) {
  std::vector<std::vector<int>> result;
  for (int i = 0; i < static_cast<int>(n.inputs().size()); ++i) {
    const Shape& shape = n.input(i).static_shape();
    const int rank = static_cast<int>(shape.size());
    std::vector<int> dims(rank, -1);
    if (is_dimshuffle(n)) {
      const auto& pattern = n.attrs().get_ints("pattern");
      for (std::size_t o = 0; o < pattern.size(); ++o)
        if (pattern[o] >= 0) dims[pattern[o]] = out[o];
    } else if (is_reduce(n)) {
      const auto& axes = n.attrs().get_ints("axes");
      const bool keepdims = n.attrs().get_bool("keepdims");
      int kept = 0;
      for (int j = 0; j < rank; ++j) {
        bool reduced = std::find(axes.begin(), axes.end(), j) != axes.end();
        if (reduced) dims[j] = shape[j] == 1 ? -1 : b.fresh();
        else dims[j] = shape[j] == 1 ? -1 : out[keepdims ? j : kept];
        if (!reduced) ++kept;
      }
    } else {  // elementwise: inputs align to the output's trailing axes
      const int offset = static_cast<int>(out.size()) - rank;
      for (int j = 0; j < rank; ++j) dims[j] = shape[j] == 1 ? -1 : out[j + offset];
    }
    result.push_back(std::move(dims));
  }
  return result;
}

// Distinct axes of one value walk distinct dims: a value is computed once per point, so
// reading it transposed against itself (a + a.T) cannot be fused.
bool distinct(Builder& b, const std::vector<int>& dims) {
  std::set<int> seen;
  for (int d : dims)
    if (d >= 0 && !seen.insert(b.find(d)).second) return false;
  return true;
}

bool all_distinct(Builder& b) {
  for (const Node* n : b.nodes) {
    if (!distinct(b, b.out[n])) return false;
    for (const auto& dims : b.in[n])
      if (!distinct(b, dims)) return false;
  }
  return true;
}

// Every reduction of a kernel reduces the same dims, and keeps none of them.
bool valid(Builder& b) {
  if (!all_distinct(b)) return false;
  std::set<int> reduced;
  bool first = true;
  for (const Node* n : b.nodes) {
    if (!is_reduce(*n)) continue;
    std::set<int> all = b.resolved(b.in[n][0]);
    std::set<int> kept = b.resolved(b.out[n]);
    std::set<int> r;
    std::set_difference(all.begin(), all.end(), kept.begin(), kept.end(),
                        std::inserter(r, r.end()));
    if (r.empty() || r.size() + kept.size() != all.size()) return false;
    if (!first && r != reduced) return false;
    reduced = r;
    first = false;
  }
  return true;
}

// Axes of one outside value read in several places have one size, so their dims may be
// one dim: two reductions over the rows of one operand then share their inner loop (softmax
// reads x for its max and again for its sum). Only where the kernel stays valid: x + x.T
// reads x both ways and must keep two dims.
void unify_operand_axes(Builder& b) {
  std::map<std::pair<const void*, std::size_t>, std::vector<int>> axes;
  for (const Node* n : b.nodes)
    for (std::size_t i = 0; i < n->inputs().size(); ++i) {
      const Var& in = n->input(static_cast<int>(i));
      if (b.out.count(in.node().get())) continue;
      const void* key = reinterpret_cast<const char*>(in.node().get()) + in.index();
      const auto& dims = b.in[n][i];
      for (std::size_t a = 0; a < dims.size(); ++a)
        if (dims[a] >= 0) axes[{key, a}].push_back(dims[a]);
    }
  for (const auto& [axis, dims] : axes)
    for (std::size_t j = 1; j < dims.size(); ++j) {
      if (b.find(dims[j]) == b.find(dims[0])) continue;
      std::vector<int> saved = b.parent;
      b.unite(dims[j], dims[0]);
      if (!all_distinct(b)) b.parent = std::move(saved);
    }
}

struct Use {
  const Node* node;
  int input;
};

// Adds `n` to `b`, reading its dims from its consumers there. False if they disagree or the
// kernel would become invalid; `b` may then be half-changed (the caller keeps a copy).
bool join(Builder& b, const Node* n, const std::vector<Use>& uses) {
  std::vector<int> dims = b.in[uses[0].node][uses[0].input];
  for (std::size_t k = 1; k < uses.size(); ++k) {
    const std::vector<int>& d = b.in[uses[k].node][uses[k].input];
    for (std::size_t a = 0; a < d.size(); ++a)
      if (!b.unite(dims[a], d[a])) return false;
  }
  b.out[n] = dims;
  b.in[n] = input_dims(*n, dims, b);
  b.nodes.push_back(n);
  unify_operand_axes(b);
  return valid(b);
}

Builder start(const Node* n) {
  Builder b;
  std::vector<int> dims;
  for (std::int64_t size : n->output_types()[0].shape) dims.push_back(size == 1 ? -1 : b.fresh());
  b.out[n] = dims;
  b.in[n] = input_dims(*n, dims, b);
  b.nodes.push_back(n);
  return b;
}

FusedKernel finish(Builder& b, const std::unordered_map<const Node*, int>& topo_index) {
  FusedKernel k;
  k.nodes = b.nodes;
  std::sort(k.nodes.begin(), k.nodes.end(),
            [&](const Node* x, const Node* y) { return topo_index.at(x) < topo_index.at(y); });
  std::map<int, int> number;  // resolved dim -> 0..num_dims-1, in order of first appearance
  auto renumber = [&](std::vector<int> dims) {
    for (int& d : dims) {
      if (d < 0) continue;
      auto [it, inserted] = number.emplace(b.find(d), static_cast<int>(number.size()));
      d = it->second;
    }
    return dims;
  };
  // Number the dims in the axis order of the kernel's last node (its main output), so that
  // loops follow the memory order of what the kernel writes.
  for (auto it = k.nodes.rbegin(); it != k.nodes.rend(); ++it) k.output_dims[*it] = renumber(b.out[*it]);
  for (const Node* n : k.nodes) {
    auto& ins = k.input_dims[n];
    for (const auto& d : b.in[n]) ins.push_back(renumber(d));
  }
  k.num_dims = static_cast<int>(number.size());
  for (const Node* n : k.nodes) {
    if (!is_reduce(*n)) continue;
    for (int d : k.input_dims[n][0])
      if (d >= 0 && std::find(k.output_dims[n].begin(), k.output_dims[n].end(), d) ==
                        k.output_dims[n].end() &&
          std::find(k.reduced.begin(), k.reduced.end(), d) == k.reduced.end())
        k.reduced.push_back(d);
  }
  return k;
}

}  // namespace

bool is_fusible(const Node& n) {
  if (n.num_outputs() != 1) return false;
  if (n.op().emit || is_dimshuffle(n)) return true;
  if (!is_reduce(n)) return false;
  // A reduction over static size-1 axes only reduces nothing; it runs as its eval.
  const Shape& shape = n.input(0).static_shape();
  for (auto axis : n.attrs().get_ints("axes"))
    if (shape[axis] != 1) return true;
  return false;
}

FusionPlan fuse_kernels(std::span<const Var> outputs) {
  std::vector<const Node*> order = topo_sort(outputs);
  std::unordered_map<const Node*, int> topo_index;
  std::unordered_map<const Node*, std::vector<Use>> uses;
  for (std::size_t i = 0; i < order.size(); ++i) {
    topo_index[order[i]] = static_cast<int>(i);
    for (int j = 0; j < static_cast<int>(order[i]->inputs().size()); ++j)
      uses[order[i]->input(j).node().get()].push_back({order[i], j});
  }

  std::vector<Builder> builders;
  std::unordered_map<const Node*, int> builder_of;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node* n = *it;
    if (!is_fusible(*n)) continue;
    const std::vector<Use>& u = uses[n];
    int target = -1;
    bool one_kernel = !u.empty();
    for (const Use& use : u) {
      auto found = builder_of.find(use.node);
      int k = found == builder_of.end() ? -1 : found->second;
      if (k < 0 || (target >= 0 && k != target)) one_kernel = false;
      target = k;
    }
    if (one_kernel) {
      Builder trial = builders[target];
      if (join(trial, n, u)) {
        builders[target] = std::move(trial);
        builder_of[n] = target;
        continue;
      }
    }
    // A dimshuffle alone is a view of its input, not worth a copy.
    if (is_dimshuffle(*n)) continue;
    builder_of[n] = static_cast<int>(builders.size());
    builders.push_back(start(n));
  }

  FusionPlan plan;
  for (Builder& b : builders) {
    plan.kernels.push_back(finish(b, topo_index));
    for (const Node* n : b.nodes) plan.kernel_of[n] = static_cast<int>(plan.kernels.size()) - 1;
  }
  return plan;
}

}  // namespace cgvm
