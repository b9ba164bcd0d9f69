#include "optimizer/fuse_kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>

#include "runtime/error.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm {
namespace {

bool is_reduce(const Node& n) { return static_cast<bool>(n.op().emit_reduce); }
bool is_dimshuffle(const Node& n) { return &n.op() == &ops::dimshuffle_op(); }

// A kernel under construction. Dims are unified as nodes join (two consumers reading one
// value walk its axes with the same dims), so they live in a union-find until the end.
//
// Joining is a trial: every change it makes is logged and undone if the kernel would become
// invalid, so a failed join costs only what it touched, never a copy of the kernel. Checks
// are local too: merging two dims can only break a node whose dims name both, so each dim
// keeps the list of nodes that name it, and a merge re-checks the shorter list (appending it
// to the longer one: each node is re-checked O(log n) times over the whole kernel).
struct Builder {
  // An axis of a value the kernel reads from outside: (node, output index, axis).
  struct OperandAxis {
    const Node* node;
    int output;
    int axis;
    bool operator==(const OperandAxis&) const = default;
  };
  struct OperandAxisHash {
    std::size_t operator()(const OperandAxis& a) const {
      return std::hash<const void*>()(a.node) ^ (static_cast<std::size_t>(a.output) << 20) ^
             static_cast<std::size_t>(a.axis);
    }
  };
  // Where a trial started: the sizes of everything it may grow.
  struct Mark {
    std::size_t dims, parent_log, named_log, nodes, reductions, axis_log, touched;
    std::vector<int> reduced;
    bool merged;
  };

  std::vector<const Node*> nodes;
  std::vector<const Node*> reductions;
  std::vector<int> parent;
  std::vector<std::vector<const Node*>> named_by;  // by root dim: the nodes whose dims name it
  std::unordered_map<const Node*, std::vector<int>> out;
  std::unordered_map<const Node*, std::vector<std::vector<int>>> in;
  // The first dim seen walking each outside axis: later reads of that axis unify with it.
  std::unordered_map<OperandAxis, int, OperandAxisHash> operand_axis;
  std::vector<int> reduced;  // dims reduced by the kernel's reductions; empty: none yet

  std::vector<std::pair<int, int>> parent_log;          // (dim, its parent before the write)
  std::vector<std::pair<int, std::size_t>> named_log;  // (root, its list's size before)
  std::vector<OperandAxis> axis_log;                    // operand axes first seen in this trial
  std::vector<const Node*> touched;                     // nodes whose dims merged in this trial
  bool merged = false;                                  // two dims became one in this trial

  int fresh() {
    parent.push_back(static_cast<int>(parent.size()));
    named_by.emplace_back();
    return parent.back();
  }
  void set_parent(int d, int p) {
    parent_log.emplace_back(d, parent[d]);
    parent[d] = p;
  }
  int find(int d) {
    if (d < 0) return d;
    while (parent[d] != d) {
      if (parent[parent[d]] != parent[d]) set_parent(d, parent[parent[d]]);
      d = parent[d];
    }
    return d;
  }
  void append(int root, std::span<const Node* const> names) {
    named_log.emplace_back(root, named_by[root].size());
    named_by[root].insert(named_by[root].end(), names.begin(), names.end());
  }
  bool unite(int a, int b) {
    if ((a < 0) != (b < 0)) return false;
    if (a < 0) return true;
    a = find(a);
    b = find(b);
    if (a == b) return true;
    if (named_by[a].size() > named_by[b].size()) std::swap(a, b);
    set_parent(a, b);
    append(b, named_by[a]);
    touched.insert(touched.end(), named_by[a].begin(), named_by[a].end());
    merged = true;
    return true;
  }
  // Adds `n`, whose dims are set, to the kernel.
  void add(const Node* n) {
    nodes.push_back(n);
    if (is_reduce(*n)) reductions.push_back(n);
    auto name = [&](const std::vector<int>& dims) {
      for (int d : dims)
        if (d >= 0) append(find(d), {&n, 1});
    };
    name(out[n]);
    for (const auto& dims : in[n]) name(dims);
  }

  Mark mark() const {
    return {parent.size(),  parent_log.size(), named_log.size(), nodes.size(),
            reductions.size(), axis_log.size(), touched.size(),    reduced,
            merged};
  }
  void rollback(Mark m) {
    for (std::size_t i = parent_log.size(); i > m.parent_log; --i)
      parent[parent_log[i - 1].first] = parent_log[i - 1].second;
    parent_log.resize(m.parent_log);
    for (std::size_t i = named_log.size(); i > m.named_log; --i)
      named_by[named_log[i - 1].first].resize(named_log[i - 1].second);
    named_log.resize(m.named_log);
    parent.resize(m.dims);
    named_by.resize(m.dims);
    for (std::size_t i = m.nodes; i < nodes.size(); ++i) {
      out.erase(nodes[i]);
      in.erase(nodes[i]);
    }
    nodes.resize(m.nodes);
    reductions.resize(m.reductions);
    for (std::size_t i = m.axis_log; i < axis_log.size(); ++i) operand_axis.erase(axis_log[i]);
    axis_log.resize(m.axis_log);
    touched.resize(m.touched);
    reduced = std::move(m.reduced);
    merged = m.merged;
  }
  // Makes the trial's changes permanent.
  void commit() {
    parent_log.clear();
    named_log.clear();
    axis_log.clear();
    touched.clear();
    merged = false;
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

// Resolved dims, sorted, without the static size-1 axes (-1).
std::vector<int> resolved(Builder& b, const std::vector<int>& dims) {
  std::vector<int> r;
  for (int d : dims)
    if (d >= 0) r.push_back(b.find(d));
  std::sort(r.begin(), r.end());
  return r;
}

// Distinct axes of one value walk distinct dims: a value is computed once per point, so
// reading it transposed against itself (a + a.T) cannot be fused.
bool distinct(Builder& b, const std::vector<int>& dims) {
  std::vector<int> r = resolved(b, dims);
  return std::adjacent_find(r.begin(), r.end()) == r.end();
}

bool node_distinct(Builder& b, const Node* n) {
  if (!distinct(b, b.out[n])) return false;
  for (const auto& dims : b.in[n])
    if (!distinct(b, dims)) return false;
  return true;
}

// Every node whose dims merged since `from` in this trial still has distinct axes.
bool touched_distinct(Builder& b, std::size_t from) {
  for (std::size_t i = from; i < b.touched.size(); ++i)
    if (!node_distinct(b, b.touched[i])) return false;
  return true;
}

// A reduction `n` agrees with the kernel's: it reduces some dims, keeps none of them, and
// reduces what every other reduction of the kernel reduces. The first one sets `reduced`.
bool reduction_agrees(Builder& b, const Node* n) {
  std::vector<int> all = resolved(b, b.in[n][0]);
  std::vector<int> kept = resolved(b, b.out[n]);
  std::vector<int> r;
  std::set_difference(all.begin(), all.end(), kept.begin(), kept.end(), std::back_inserter(r));
  if (r.empty() || r.size() + kept.size() != all.size()) return false;
  if (b.reduced.empty()) {
    b.reduced = r;
    return true;
  }
  return resolved(b, b.reduced) == r;
}

// After merges any reduction may reduce other dims than before: check them all (a kernel has
// few). Without one only `n`'s is new.
bool reductions_agree(Builder& b, const Node* n) {
  if (!b.merged) return !is_reduce(*n) || reduction_agrees(b, n);
  b.reduced.clear();
  return std::all_of(b.reductions.begin(), b.reductions.end(),
                     [&](const Node* r) { return reduction_agrees(b, r); });
}

// Axes of one outside value read in several places have one size, so their dims may be
// one dim: two reductions over the rows of one operand then share their inner loop (softmax
// reads x for its max and again for its sum). Only where the kernel stays valid: x + x.T
// reads x both ways and must keep two dims. Run for each joining node's reads; a merge
// refused once stays refused (merges only add constraints).
void unify_operand_axes(Builder& b, const Node* n) {
  const auto& in_dims = b.in[n];
  for (std::size_t i = 0; i < n->inputs().size(); ++i) {
    const Var& input = n->input(static_cast<int>(i));
    for (std::size_t a = 0; a < in_dims[i].size(); ++a) {
      const int d = in_dims[i][a];
      if (d < 0) continue;
      Builder::OperandAxis key{input.node().get(), input.index(), static_cast<int>(a)};
      auto [it, inserted] = b.operand_axis.emplace(key, d);
      if (inserted) {
        b.axis_log.push_back(key);
        continue;
      }
      Builder::Mark before = b.mark();
      b.unite(d, it->second);
      if (!touched_distinct(b, before.touched)) b.rollback(std::move(before));
    }
  }
}

struct Use {
  const Node* node;
  int input;
};

// Adds `n` to `b`, reading its dims from its consumers there. Null, or, with `b` as it was,
// why not: its readers disagree or the kernel would become invalid.
const char* join(Builder& b, const Node* n, const std::vector<Use>& uses) {
  Builder::Mark m = b.mark();
  std::vector<int> dims = b.in[uses[0].node][uses[0].input];
  const char* why = nullptr;
  for (std::size_t k = 1; k < uses.size() && !why; ++k) {
    const std::vector<int>& d = b.in[uses[k].node][uses[k].input];
    for (std::size_t a = 0; a < d.size() && !why; ++a)
      if (!b.unite(dims[a], d[a]))
        why = "its readers in the kernel walk its axes differently (one reads a static "
              "size-1 axis the other loops over)";
  }
  if (!why) {
    b.out[n] = dims;
    b.in[n] = input_dims(*n, dims, b);
    b.add(n);
    unify_operand_axes(b, n);
    if (!node_distinct(b, n) || !touched_distinct(b, 0))
      why = "the kernel would read one value along two of its axes at once (as in x + x.T)";
    else if (!reductions_agree(b, n))
      why = "its reduction and the kernel's reduce different axes";
  }
  if (why) b.rollback(std::move(m));
  b.commit();
  return why;
}

Builder start(const Node* n) {
  Builder b;
  std::vector<int> dims;
  for (std::int64_t size : n->output_types()[0].shape) dims.push_back(size == 1 ? -1 : b.fresh());
  b.out[n] = dims;
  b.in[n] = input_dims(*n, dims, b);
  b.add(n);
  unify_operand_axes(b, n);
  if (is_reduce(*n)) reduction_agrees(b, n);
  b.commit();
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

  FusionPlan plan;
  std::vector<Builder> builders;
  std::unordered_map<const Node*, int> builder_of;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node* n = *it;
    if (!is_fusible(*n)) {
      plan.apart[n] = fmt::format("{} is not a loop op", n->op().name);
      continue;
    }
    const std::vector<Use>& u = uses[n];
    int target = -1;
    const Node* outside = nullptr;  // a reader not in any kernel
    bool split = false;             // readers in two kernels
    for (const Use& use : u) {
      auto found = builder_of.find(use.node);
      int k = found == builder_of.end() ? -1 : found->second;
      if (k < 0) outside = use.node;
      else if (target >= 0 && k != target) split = true;
      if (k >= 0) target = k;
    }
    const char* why = nullptr;
    if (u.empty()) why = "nothing in the graph reads it (a result of the function)";
    else if (outside)
      plan.apart[n] = fmt::format("it is read by {} at {}, which runs outside any kernel",
                                  outside->op().name, format_location(outside->location()));
    else if (split) why = "its readers are in different kernels (it would be computed twice)";
    else if (!(why = join(builders[target], n, u))) {
      builder_of[n] = target;
      continue;
    }
    if (why) plan.apart[n] = why;
    // A dimshuffle alone is a view of its input, not worth a copy.
    if (is_dimshuffle(*n)) continue;
    builder_of[n] = static_cast<int>(builders.size());
    builders.push_back(start(n));
  }

  for (Builder& b : builders) {
    plan.kernels.push_back(finish(b, topo_index));
    for (const Node* n : b.nodes) plan.kernel_of[n] = static_cast<int>(plan.kernels.size()) - 1;
  }
  return plan;
}

}  // namespace cgvm
