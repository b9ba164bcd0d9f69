#include "optimizer/rewrite.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

const OpDef& op_named(std::string_view name) {
  static const std::unordered_map<std::string_view, const OpDef*> table = [] {
    std::unordered_map<std::string_view, const OpDef*> t;
    for (const OpDef* op : ops::all_ops()) t.emplace(op->name, op);
    return t;
  }();
  auto it = table.find(name);
  CGVM_ASSERT(it != table.end(), fmt::format("no op named '{}'", name));
  return *it->second;
}

// --- patterns ---------------------------------------------------------------------------

Pattern Pattern::constant(double value) {
  Pattern p;
  p.kind_ = Kind::Constant;
  p.value_ = value;
  return p;
}

Pattern Pattern::any_constant(Slot slot) {
  Pattern p;
  p.kind_ = Kind::AnyConstant;
  p.slot_ = slot.index;
  return p;
}

Pattern Pattern::op(std::string_view op_name, std::vector<Pattern> inputs, int bind) {
  static const std::unordered_set<std::string_view> commutative{
      "add", "mul", "minimum", "maximum", "eq", "neq", "logical_and", "logical_or", "logical_xor"};
  Pattern p;
  p.kind_ = Kind::Op;
  p.op_ = &op_named(op_name);
  p.commutes_ = inputs.size() == 2 && commutative.count(op_name) > 0;
  p.inputs_ = std::move(inputs);
  p.slot_ = bind;
  return p;
}

Pattern Pattern::node(std::string_view op_name) {
  Pattern p = op(op_name, {});
  p.any_inputs_ = true;
  return p;
}

Pattern Pattern::any_op() { return Pattern(); }

bool is_zeros(const Var& v) {
  if (is_constant(v)) return uniform_value(v) == 0.0;
  return is_op(v, ops::broadcast_to_op()) && is_constant(v.node()->input(0)) &&
         uniform_value(v.node()->input(0)) == 0.0;
}

std::optional<double> uniform_value(const Var& v) {
  const Array* a = constant_value(v);
  if (!a || a->size() == 0 || a->size() > (1 << 16)) return std::nullopt;
  if (a->size() == 1) {  // the common case: no vector to build
    const double only = a->reshape({}).item<double>();
    return only == only ? std::optional(only) : std::nullopt;
  }
  const std::vector<double> values = a->to_double_vector();
  for (double e : values)
    if (!(e == values[0])) return std::nullopt;
  return values[0];
}

bool Match::match(const Pattern& p, const Var& v) {
  auto bind = [&](int slot) {
    if (slot < 0) return true;
    if (slots_[slot]) return slots_[slot]->same(v);
    slots_[slot] = &v;
    return true;
  };
  switch (p.kind_) {
    case Pattern::Kind::Capture:
      return bind(p.slot_);
    case Pattern::Kind::Constant:
      return uniform_value(v) == p.value_;
    case Pattern::Kind::AnyConstant:
      return is_constant(v) && bind(p.slot_);
    case Pattern::Kind::AnyOp:
      return true;
    case Pattern::Kind::Op: {
      const Node& n = *v.node();
      if (&n.op() != p.op_ || v.index() != 0) return false;
      if (p.any_inputs_) return bind(p.slot_);
      if (n.inputs().size() != p.inputs_.size()) return false;
      auto in_order = [&](bool swapped) {
        for (std::size_t i = 0; i < p.inputs_.size(); ++i) {
          std::size_t j = swapped ? 1 - i : i;
          if (!match(p.inputs_[i], n.input(static_cast<int>(j)))) return false;
        }
        return true;
      };
      const auto saved = slots_;
      if (in_order(false) && bind(p.slot_)) return true;
      slots_ = saved;
      if (p.commutes_ && in_order(true) && bind(p.slot_)) return true;
      slots_ = saved;
      return false;
    }
  }
  return false;
}

// The consumers of each node of the graph a walk was given, and of the nodes its rules built;
// the original of each node the walk rebuilt with new inputs.
class UseIndex {
 public:
  explicit UseIndex(std::span<const Var> outputs) {
    for (const Var& v : outputs) outputs_.insert(v.node().get());
    for (const Node* n : topo_sort(outputs)) {
      known_.insert(n);
      for (const Var& in : n->inputs()) consumers_[in.node().get()].push_back(n);
    }
  }
  // A rule replaced `original` by `replacement`: the nodes it built are read where the
  // replacement reads them, and the replacement where the original was. So the links of a
  // chain a rule builds are inner links too, and a rule rooted at them leaves them to the
  // chain's root (without this, rebuilding a chain of n links would cost n^2).
  void replaced(const Node* original, const Var& replacement) {
    std::vector<const Node*> stack{replacement.node().get()};
    if (known_.insert(stack[0]).second) {
      origin_[stack[0]] = original;
    } else {  // a node already there (x*1 -> x): it stands for two, read by anything
      outputs_.insert(stack[0]);
      stack.clear();
    }
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      for (const Var& in : n->inputs()) {
        const Node* i = in.node().get();
        consumers_[i].push_back(n);
        if (known_.insert(i).second) stack.push_back(i);
      }
    }
  }
  // `node` stands for `original` now. A node that was already in the graph (hash-consing
  // found it) stands for two and counts as read by anything.
  void rebuilt(const Node* node, const Node* original) {
    if (!known_.insert(node).second) {
      outputs_.insert(node);
      origin_.erase(node);
    } else {
      origin_[node] = original;
    }
  }
  const Node* original(const Node* node) const {
    for (auto it = origin_.find(node); it != origin_.end(); it = origin_.find(node))
      node = it->second;
    return node;
  }

  bool only_feeds(const Node* node, std::initializer_list<const OpDef*> ops) const {
    node = original(node);
    auto it = consumers_.find(node);
    if (it == consumers_.end() || outputs_.count(node)) return false;
    return std::all_of(it->second.begin(), it->second.end(),
                       [&](const Node* c) {
                         return std::find(ops.begin(), ops.end(), &c->op()) != ops.end();
                       });
  }

  bool single_use(const Node* node) const {
    node = original(node);
    auto it = consumers_.find(node);
    return it != consumers_.end() && it->second.size() == 1 && !outputs_.count(node);
  }

  std::vector<const Node*> readers(const Node* node) const {
    node = original(node);
    auto it = consumers_.find(node);
    return it == consumers_.end() ? std::vector<const Node*>{} : it->second;
  }

 private:
  std::unordered_set<const Node*> known_;  // in the index: given or built by a rule
  std::unordered_set<const Node*> outputs_;
  std::unordered_map<const Node*, std::vector<const Node*>> consumers_;
  std::unordered_map<const Node*, const Node*> origin_;
};

bool Match::only_feeds(const Var& v, std::initializer_list<const OpDef*> ops) const {
  return uses_ && uses_->only_feeds(v.node().get(), ops);
}

bool Match::single_use(const Var& v) const {
  return uses_ && uses_->single_use(v.node().get());
}

const Node* Match::original(const Var& v) const {
  return uses_ ? uses_->original(v.node().get()) : v.node().get();
}

std::vector<const Node*> Match::readers(const Var& v) const {
  return uses_ ? uses_->readers(v.node().get()) : std::vector<const Node*>{};
}

Var Match::make(const OpDef& op, std::vector<Var> inputs, Attrs attrs) const {
  return apply(op, std::move(inputs), std::move(attrs), root_->location());
}

Var Match::make(std::string_view op_name, std::vector<Var> inputs, Attrs attrs) const {
  return make(op_named(op_name), std::move(inputs), std::move(attrs));
}

Var Match::constant(double value, DType dtype) const {
  return cgvm::constant(value, dtype, root_->location());
}

Var Match::constant(const Array& value) const {
  return cgvm::constant(value, root_->location());
}

// --- rule sets ----------------------------------------------------------------------------

RuleSet::RuleSet(std::vector<Rule> rules) { add(std::move(rules)); }

RuleSet& RuleSet::add(std::vector<Rule> rules) {
  for (Rule& r : rules) {
    const int index = static_cast<int>(rules_.size());
    if (r.pattern.kind() == Pattern::Kind::AnyOp)
      any_.push_back(index);
    else {
      CGVM_ASSERT(r.pattern.kind() == Pattern::Kind::Op,
                  fmt::format("rule '{}': the root of a pattern must be an op", r.name));
      by_op_[r.pattern.op_def()].push_back(index);
    }
    rules_.push_back(std::move(r));
  }
  return *this;
}

bool fits(const TensorType& replacement, const TensorType& original) {
  if (replacement.dtype != original.dtype || replacement.rank() != original.rank()) return false;
  for (int i = 0; i < original.rank(); ++i) {
    const std::int64_t r = replacement.shape[i], o = original.shape[i];
    if (r == o) continue;
    if (r == unknown_dim && o != 1) continue;  // its run-time size is the node's
    if (o == unknown_dim && r != 1) continue;  // more is known now
    return false;
  }
  return true;
}

// --- the walk -------------------------------------------------------------------------------

namespace {

class Walk {
 public:
  Walk(const std::vector<Rule>& table, const std::vector<int>& any,
       const std::map<const OpDef*, std::vector<int>>& by_op, RewriteStats& stats,
       std::span<const Var> outputs)
      : table_(table), any_(any), by_op_(by_op), stats_(stats), uses_(outputs) {}

  Var result(const Var& v) {
    process(v.node().get());
    return done_.at(v.node().get())[v.index()];
  }

 private:
  struct Frame {
    const Node* node;
    Var replacement;  // set once a rule fired: the node becomes what this becomes
  };

  // Post-order over the nodes not yet done, without recursion (graphs can be deep).
  void process(const Node* root) {
    std::vector<Frame> stack{{root, {}}};
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (done_.count(f.node)) {
        stack.pop_back();
        continue;
      }
      if (f.replacement) {
        const Node* r = f.replacement.node().get();
        if (!done_.count(r)) {
          stack.push_back({r, {}});
          continue;
        }
        Var final = done_.at(r)[f.replacement.index()];
        finish(f.node, {final});
        stack.pop_back();
        continue;
      }
      bool ready = true;
      for (const Var& in : f.node->inputs())
        if (!done_.count(in.node().get())) {
          stack.push_back({in.node().get(), {}});
          ready = false;
        }
      if (!ready) continue;  // `f` may dangle now; the loop re-reads the top
      Frame& top = stack.back();
      ++stats_.nodes;
      NodePtr rebuilt = rebuild(*top.node);
      if (auto it = done_.find(rebuilt.get()); it != done_.end()) {  // reached another way
        std::vector<Var> outs = it->second;
        finish(top.node, std::move(outs));
        stack.pop_back();
        continue;
      }
      Var replacement;
      if (rebuilt->num_outputs() == 1) replacement = apply_rules(*rebuilt);
      if (!replacement) {
        std::vector<Var> outs;
        for (int i = 0; i < rebuilt->num_outputs(); ++i) outs.push_back(rebuilt->output(i));
        finish(top.node, outs);
        if (rebuilt.get() != top.node) finish(rebuilt.get(), outs);
        stack.pop_back();
        continue;
      }
      // The old node and its rebuilt form both become what the replacement becomes.
      uses_.replaced(stack.back().node, replacement);
      stack.back().replacement = replacement;
      if (rebuilt.get() != top.node) {
        keep_alive_.push_back(rebuilt);  // only the stack refers to it until it resolves
        stack.push_back({rebuilt.get(), replacement});
      }
    }
  }

  void finish(const Node* node, std::vector<Var> outs) {
    // Keys are addresses: a key's node must outlive the walk, or a new node could be
    // allocated at its address and inherit its result.
    keep_alive_.push_back(node->shared_from_this());
    done_.emplace(node, std::move(outs));
    in_progress_.erase(node);
  }

  NodePtr rebuild(const Node& node) {
    std::vector<Var> inputs;
    bool changed = false;
    for (const Var& in : node.inputs()) {
      const Var& now = done_.at(in.node().get())[in.index()];
      changed = changed || !now.same(in);
      inputs.push_back(now);
    }
    if (!changed) return node.shared_from_this();
    NodePtr rebuilt = make_node(node.op(), std::move(inputs), node.attrs(), node.location());
    uses_.rebuilt(rebuilt.get(), &node);
    return rebuilt;
  }

  // The first rule that fires on `node`, checked to fit; null when none does.
  Var apply_rules(const Node& node) {
    in_progress_.insert(&node);
    const Var self = node.output(0);
    auto try_rule = [&](int index) -> Var {
      const Rule& rule = table_[index];
      Match m(node, &uses_);
      if (!m.match(rule.pattern, self)) return {};
      Var r = rule.build(m);
      // A rule that gives back the node itself, or a node still being rewritten (a cycle of
      // rules), has not fired.
      if (!r || r.node().get() == &node || in_progress_.count(r.node().get())) return {};
      if (!fits(r.type(), self.type())) {
        ++stats_.rejected;
        return {};
      }
      ++stats_.rewrites;
      ++stats_.fired[rule.name];
      return r;
    };
    for (int i : any_)
      if (Var r = try_rule(i)) return r;
    auto it = by_op_.find(&node.op());
    if (it != by_op_.end())
      for (int i : it->second)
        if (Var r = try_rule(i)) return r;
    return {};
  }

  const std::vector<Rule>& table_;
  const std::vector<int>& any_;
  const std::map<const OpDef*, std::vector<int>>& by_op_;
  RewriteStats& stats_;
  UseIndex uses_;
  std::unordered_map<const Node*, std::vector<Var>> done_;
  std::unordered_set<const Node*> in_progress_;
  std::vector<NodePtr> keep_alive_;
};

}  // namespace

std::vector<Var> rewrite(std::span<const Var> outputs, const RuleSet& rules, RewriteStats* stats) {
  RewriteStats local;
  Walk walk(rules.rules_, rules.any_, rules.by_op_, stats ? *stats : local, outputs);
  std::vector<Var> result;
  result.reserve(outputs.size());
  for (const Var& v : outputs) result.push_back(walk.result(v));
  return result;
}

}  // namespace cgvm
