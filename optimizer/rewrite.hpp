#pragma once
// The rewrite engine: rules written as patterns over the immutable graph, applied bottom-up
// by one worklist walk.
//
//   // x*1 -> x
//   {"x*1 -> x", op("mul", {x, c(1)}), [](const Match& m) { return m[x]; }},
//
// A rule's name is its one-line comment; the compile report counts how often each fired.
//
// The walk visits every node once, after its inputs. A node whose inputs changed is rebuilt
// (hash-consing returns the existing node when nothing changed); then the rules of its op are
// tried in order. When one fires, the nodes it built are visited the same way (so a rewrite
// can enable the next: (x*1)*1 -> x*1 -> x), and the old node's consumers see the
// replacement. Nothing is ever swept twice: no iteration of whole-graph passes to a fixed point.
//
// A replacement must have the node's dtype and rank and must not lose a broadcast (a [1, n]
// value cannot stand for a [m, n] node); the engine checks this and skips a rule whose result
// does not fit, so rules need not repeat those checks.
#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include "symbolic/node.hpp"
#include "symbolic/op_def.hpp"

namespace cgvm {

// A pattern variable: matches any value; the same slot twice in one pattern must match the
// same value (x - x). Rule files spell them x, y, z... (namespace rules, below).
struct Slot {
  int index;
};
inline constexpr int kMaxSlots = 8;

class Pattern {
 public:
  enum class Kind { Capture, Constant, AnyConstant, Op, AnyOp };
  Pattern(Slot slot) : kind_(Kind::Capture), slot_(slot.index) {}  // NOLINT: x reads as a pattern

  // A constant every element of which equals `value` (any shape, any dtype).
  static Pattern constant(double value);
  // Any constant, bound to `slot`.
  static Pattern any_constant(Slot slot);
  // Output 0 of a node of `op` whose inputs match `inputs` in order; binary ops that commute
  // (add, mul, minimum, maximum, eq, neq, logical and/or/xor) also try the swapped order.
  // `bind` (optional) binds the matched value itself, to read the node's attributes.
  static Pattern op(std::string_view op_name, std::vector<Pattern> inputs, int bind = -1);
  // Any node of `op`, whatever its inputs (ops of variable arity: reshape, make_vector).
  static Pattern node(std::string_view op_name);
  // Any node (for rules that look at every node, such as constant folding).
  static Pattern any_op();

  Kind kind() const { return kind_; }
  const OpDef* op_def() const { return op_; }

 private:
  friend class Match;
  Pattern() = default;
  Kind kind_ = Kind::AnyOp;
  int slot_ = -1;
  double value_ = 0;
  const OpDef* op_ = nullptr;
  bool commutes_ = false;
  bool any_inputs_ = false;
  std::vector<Pattern> inputs_;
};

// The spellings rule files use (`using namespace cgvm::rules;`): op("mul", {x, c(1)}),
// op("max", {x}, /*bind=*/y). Kept out of namespace cgvm so that x and y do not collide
// with users' variables.
namespace rules {
inline constexpr Slot x{0}, y{1}, z{2}, w{3}, u{4}, v{5};
inline Pattern op(std::string_view name, std::vector<Pattern> inputs, Slot bind = Slot{-1}) {
  return Pattern::op(name, std::move(inputs), bind.index);
}
inline Pattern c(double value) { return Pattern::constant(value); }
inline Pattern any_constant(Slot slot) { return Pattern::any_constant(slot); }
inline Pattern node(std::string_view name) { return Pattern::node(name); }
}  // namespace rules

// The result of matching a pattern against a node: the bound values, the node itself, and
// builders whose new nodes carry the node's source line.
class UseIndex;  // who consumes what in the graph a walk was given (rewrite.cpp)

class Match {
 public:
  explicit Match(const Node& root, const UseIndex* uses = nullptr) : root_(&root), uses_(uses) {}
  bool match(const Pattern& p, const Var& v);

  const Var& operator[](Slot s) const { return *slots_[s.index]; }
  bool bound(Slot s) const { return slots_[s.index] != nullptr; }
  const Node& node() const { return *root_; }
  const Var& input(int i) const { return root_->input(i); }
  DType dtype() const { return root_->output_types()[0].dtype; }

  Var make(const OpDef& op, std::vector<Var> inputs, Attrs attrs = {}) const;
  Var make(std::string_view op_name, std::vector<Var> inputs, Attrs attrs = {}) const;
  Var constant(double value, DType dtype) const;
  Var constant(const Array& value) const;

  // Whether `v`, as it was in the graph the walk was given, is an inner link of a tree of
  // `ops`: not an output, and read only by nodes of those ops. False for nodes the walk
  // built. Rules that rebuild a whole tree (canonical chains) leave inner links to its root.
  bool only_feeds(const Var& v, std::initializer_list<const OpDef*> ops) const;
  // Whether `v`, as it was in the graph the walk was given, is read once: by one input of one
  // node, and not an output. False for nodes the walk built. Rules that fold a value into its
  // consumer check this, so that a value other nodes still need is not computed twice.
  bool single_use(const Var& v) const;
  // The nodes of the graph the walk was given that read `v` there, once per input that reads
  // it; empty for nodes the walk built. Rules that merge siblings (products that share an
  // operand) find them here.
  std::vector<const Node*> readers(const Var& v) const;
  // The node of the graph the walk was given that `v`'s node stands for (itself unless the
  // walk rebuilt it with new inputs): what readers() lists as their input.
  const Node* original(const Var& v) const;

 private:
  const Node* root_;
  const UseIndex* uses_;
  std::array<const Var*, kMaxSlots> slots_{};
};

struct Rule {
  std::string name;  // the rule as its one-line comment: "x*1 -> x"
  Pattern pattern;
  // The replacement, or a null Var to decline (a condition the pattern cannot express).
  std::function<Var(const Match&)> build;
};

// Rules indexed by the op at the root of their pattern; rules rooted at any_op() are tried
// first on every node, then the node's own, each group in the order given.
class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules);
  RuleSet& add(std::vector<Rule> rules);
  std::size_t size() const { return rules_.size(); }

 private:
  friend std::vector<Var> rewrite(std::span<const Var>, const RuleSet&, struct RewriteStats*);
  std::vector<Rule> rules_;
  std::vector<int> any_;
  std::map<const OpDef*, std::vector<int>> by_op_;
};

struct RewriteStats {
  int nodes = 0;     // nodes visited (old and new)
  int rewrites = 0;  // rules that fired
  int rejected = 0;  // replacements skipped because their type did not fit
  std::map<std::string, int> fired;  // by rule name
};

// The outputs with every rule applied wherever it matches, bottom-up (see the top of this
// file). Outputs keep their order; an output no rule touches is returned as it is.
std::vector<Var> rewrite(std::span<const Var> outputs, const RuleSet& rules,
                         RewriteStats* stats = nullptr);

// Whether `replacement` may stand for `original`: same dtype and rank, and every static size
// of the original either kept or left unknown (never a size-1 dim that would broadcast).
bool fits(const TensorType& replacement, const TensorType& original);

// The value of a constant whose elements are all equal (scalars, ones(3)...), else nothing.
// NaN never counts as equal. Patterns c(v) and rules that read exponents use it.
std::optional<double> uniform_value(const Var& v);

// Whether `v` is all zeros: a zero constant, or one broadcast to a shape (zeros_like).
bool is_zeros(const Var& v);

// Whether `v` is the (first) output of a node of that op.
inline bool is_op(const Var& v, const OpDef& op) { return v.index() == 0 && &v.node()->op() == &op; }
inline bool is_op(const Var& v, std::string_view op_name) {
  return v.index() == 0 && v.node()->op().name == op_name;
}

// The op named `name` (InternalError when there is none).
const OpDef& op_named(std::string_view name);

}  // namespace cgvm
