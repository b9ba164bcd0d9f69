// The scan op and scan() (symbolic/scan.hpp).
//
// The node: inputs [n_steps, sequences..., initial states..., constants...]; outputs one
// stack per recurrent output, then one per map output. Its body (attr "body") binds one
// placeholder per sequence tap, per state tap and per constant, in that order, and computes
// the next states, the map outputs and, for a while loop, the stop condition.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "runtime/error.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/print.hpp"
#include "symbolic/ops/scan_layout.hpp"
#include "symbolic/scan.hpp"
#include "symbolic/scan_run.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"
#include "symbolic/elementwise.hpp"

namespace cgvm {

using scan_detail::Layout;
using scan_detail::scan_label;
using scan_detail::with_first;
using scan_detail::without_first;

namespace {

std::vector<TensorType> infer_scan(const InferArgs& a) {
  const Layout l(a.attrs);
  const Subgraph& body = *a.attrs.get_subgraph("body");
  // The number of steps, where it is known before running.
  std::int64_t n = unknown_dim;
  if (!l.until) {
    if (l.n_steps_given) {
      if (auto k = constant_int(a.inputs[0])) n = *k;
    } else if (l.sequences() > 0) {
      const std::int64_t len = a.input(1).shape[0];
      if (len != unknown_dim) n = Layout::steps_of(len, l.sequence_taps[0]);
    }
  }
  std::vector<TensorType> out;
  for (int s = 0; s < l.states(); ++s) {
    const TensorType& init = a.input(1 + l.sequences() + s);
    Shape state = Layout::stacked(l.state_taps[s]) ? without_first(init.shape) : init.shape;
    out.push_back({init.dtype, l.keeps_last_only(s) ? state : with_first(n, state)});
  }
  for (int m = 0; m < l.maps; ++m) {
    const TensorType& t = body.outputs[l.states() + m].type();
    out.push_back({t.dtype, with_first(n, t.shape)});
  }
  return out;
}

// The interpreter's loop: the body graph evaluated at each step.
std::vector<Array> eval_scan(const EvalArgs& e) {
  const Subgraph& body = *e.attrs().get_subgraph("body");
  return run_scan(e.node, e.inputs, [&](const std::vector<Array>& inputs, const std::vector<const Array*>&) {
    Bindings bind;
    for (std::size_t i = 0; i < inputs.size(); ++i) bind.emplace_back(body.inputs[i], inputs[i]);
    return evaluate(body.outputs, bind);
  });
}

// --- scan(): building the node ----------------------------------------------------------

// A value of one step: the element type of a sequence, or a state.
Var placeholder(const std::string& name, const TensorType& type) {
  return tensor(name, type.dtype, type.shape);
}

// Whether `n` depends on a placeholder. Nodes older than the placeholders cannot, which keeps
// the walk inside what the step built.
bool depends_on(const Node* n, const std::unordered_set<const Node*>& placeholders,
                std::uint64_t first_placeholder, std::unordered_map<const Node*, bool>& memo) {
  if (n->id() < first_placeholder) return false;
  if (auto it = memo.find(n); it != memo.end()) return it->second;
  bool d = placeholders.count(n) > 0;
  for (const Var& in : n->inputs())
    d = depends_on(in.node().get(), placeholders, first_placeholder, memo) || d;
  return memo[n] = d;
}

void check_taps(const std::vector<int>& taps, bool state, int index, const std::string& label,
                const std::source_location& loc) {
  const char* what = state ? "outputs_info" : "sequences";
  if (taps.empty()) throw_error(label, fmt::format("{}[{}] has no taps", what, index), loc);
  if (!std::is_sorted(taps.begin(), taps.end()) ||
      std::adjacent_find(taps.begin(), taps.end()) != taps.end())
    throw_error(label, fmt::format("{}[{}]: taps [{}] must be increasing and distinct", what,
                                   index, fmt::join(taps, ", ")), loc);
  if (state && taps.back() >= 0)
    throw_error(label, fmt::format("outputs_info[{}]: taps [{}] must be negative (past steps)",
                                   index, fmt::join(taps, ", ")), loc);
}

// The shared generator states `n` reads and advances (symbolic/random.hpp): a random draw's,
// and those of an inner loop whose steps draw. Per state: its input and the advanced value.
std::vector<std::pair<int, Var>> streams_advanced(const Node& n) {
  const OpDef& op = n.op();
  if (op.state_input >= 0) return {{op.state_input, n.output(op.state_output)}};
  std::vector<std::pair<int, Var>> out;
  if (&op != &ops::scan_op()) return out;
  for (const auto& [state, next] : scan_shared_updates(n))
    for (int i = 0; i < static_cast<int>(n.inputs().size()); ++i)
      if (n.input(i).same(state)) out.emplace_back(i, next);
  return out;
}

// The node's first input: n_steps as an int64 scalar (0 when not given: the attrs say so).
Var steps_input(const ScanOptions& o, const std::string& label, const std::source_location& loc) {
  if (!o.n_steps) return constant(Array::scalar<std::int64_t>(0));
  Var n = std::holds_alternative<Var>(o.n_steps->value)
              ? std::get<Var>(o.n_steps->value)
              : constant(Array::scalar<std::int64_t>(std::get<std::int64_t>(o.n_steps->value)));
  if (n.is_null()) throw_error(label, "n_steps is a null Var", loc);
  if (!is_integer(n.dtype()) || n.rank() != 0)
    throw_error(label, fmt::format("n_steps must be an integer scalar, got {}", n.type().str()), loc);
  if (auto k = constant_int(n); k && *k < 0)
    throw_error(label, fmt::format("n_steps is {}; it must be >= 0", *k), loc);
  return n.dtype() == DType::Int64 ? n : cast(n, DType::Int64, loc);
}

}  // namespace

const Var& StepArgs::operator[](std::size_t i) const {
  if (i < args_.size()) return args_[i];
  throw Error(fmt::format("{}: the step reads argument {}, but it gets {}: {}", scan_, i,
                          args_.size(), fmt::join(what_, ", ")));
}

namespace ops {

// scan(n_steps, sequences..., initial states..., constants...; body, taps, ...): a loop
// whose body is a graph (symbolic/scan.hpp). Its eval runs the loop of scan_run.hpp with the
// interpreter; compiled functions run the same loop over the body's compiled program.
const OpDef& scan_op() {
  static const OpDef def{
      .name = "scan",
      .family = OpFamily::Control,
      .min_inputs = 1,
      .max_inputs = -1,
      .infer = infer_scan,
      .eval = eval_scan,
      .grad = scan_detail::grad_scan,
  };
  return def;
}

// scan_last(stacked, initial): the last row of a scan's stacked state, or the initial state
// when no step ran (what folds and the gradients of constants read). The optimizer keeps
// only the last value of a state read only this way (optimizer/scan_loops.hpp).
const OpDef& scan_last_op() {
  static const OpDef def{
      .name = "scan_last",
      .family = OpFamily::Control,
      .min_inputs = 2,
      .max_inputs = 2,
      .infer = [](const InferArgs& a) -> std::vector<TensorType> {
        const TensorType &stacked = a.input(0), &initial = a.input(1);
        if (stacked.dtype != initial.dtype || stacked.rank() != initial.rank() + 1)
          a.fail(fmt::format("{} is not a stack of {}", stacked.str(), initial.str()));
        return {initial};
      },
      .eval = [](const EvalArgs& e) -> std::vector<Array> {
        const Array& stacked = e.inputs[0];
        return {stacked.shape(0) > 0 ? stacked.index(0, -1) : e.inputs[1]};
      },
      .grad = scan_detail::grad_scan_last,
      .view = true,
      .on_device = any_device,
  };
  return def;
}

}  // namespace ops

std::vector<Var> scan(const StepFunction& step, const ScanOptions& o, std::source_location loc) {
  const std::string label = scan_label(o.name);
  auto fail = [&](const std::string& message) { throw_error(label, message, loc); };
  if (o.sequences.empty() && !o.n_steps)
    fail("without sequences, n_steps must be given");
  // Placeholders: one per sequence tap, per state tap, per non-sequence.
  std::vector<Var> args, outer_inputs;
  std::vector<std::string> what;  // each argument, in words
  Ints sequence_taps, sequence_counts, state_taps, state_counts;
  for (std::size_t s = 0; s < o.sequences.size(); ++s) {
    const Sequence& seq = o.sequences[s];
    if (seq.value.is_null()) fail(fmt::format("sequences[{}] is a null Var", s));
    if (seq.value.rank() == 0)
      fail(fmt::format("sequences[{}] is a scalar ({}); a sequence is walked along its first "
                       "axis", s, seq.value.type().str()));
    check_taps(seq.taps, false, static_cast<int>(s), label, loc);
    for (int k : seq.taps) {
      args.push_back(placeholder(fmt::format("seq{}[t{:+}]", s, k),
                                 {seq.value.dtype(), without_first(seq.value.static_shape())}));
      what.push_back(fmt::format("sequences[{}] at t{:+}", s, k));
      sequence_taps.push_back(k);
    }
    sequence_counts.push_back(static_cast<std::int64_t>(seq.taps.size()));
    outer_inputs.push_back(seq.value);
  }
  std::vector<int> state_of_output;  // per outputs_info entry: its state index, or -1 (map)
  std::vector<TensorType> state_types;
  for (std::size_t i = 0; i < o.outputs_info.size(); ++i) {
    const Recurrence& r = o.outputs_info[i];
    if (r.initial.is_null()) {
      state_of_output.push_back(-1);
      continue;
    }
    check_taps(r.taps, true, static_cast<int>(i), label, loc);
    std::vector<std::int64_t> taps(r.taps.begin(), r.taps.end());
    TensorType state = r.initial.type();
    if (Layout::stacked(taps)) {
      if (state.rank() == 0)
        fail(fmt::format("outputs_info[{}]: taps [{}] need an initial value holding {} steps "
                         "along its first axis, got a scalar",
                         i, fmt::join(r.taps, ", "), Layout::depth(taps)));
      const std::int64_t held = state.shape[0];
      if (held != unknown_dim && held != Layout::depth(taps))
        fail(fmt::format("outputs_info[{}]: taps [{}] reach {} steps back, but the initial "
                         "value {} holds {}",
                         i, fmt::join(r.taps, ", "), Layout::depth(taps), state.str(), held));
      state.shape = without_first(state.shape);
    }
    state_of_output.push_back(static_cast<int>(state_types.size()));
    state_types.push_back(state);
    for (int k : r.taps) {
      args.push_back(placeholder(fmt::format("out{}[t{:+}]", i, k), state));
      what.push_back(fmt::format("outputs_info[{}] at t{:+}", i, k));
      state_taps.push_back(k);
    }
    state_counts.push_back(static_cast<std::int64_t>(r.taps.size()));
  }
  for (std::size_t c = 0; c < o.non_sequences.size(); ++c) {
    if (o.non_sequences[c].is_null()) fail(fmt::format("non_sequences[{}] is a null Var", c));
    args.push_back(o.non_sequences[c]);  // the outer value; bound to a placeholder below
    what.push_back(fmt::format("non_sequences[{}]", c));
  }
  const Var n_steps = steps_input(o, label, loc);

  // Nodes made after this one were made by the step function.
  const std::uint64_t watermark = tensor("scan step", DType::Bool, {}).node()->id();
  StepResult result = step(StepArgs(args, what, label));
  const std::size_t expected = o.outputs_info.empty() ? result.outputs.size() : o.outputs_info.size();
  if (result.outputs.size() != expected)
    fail(fmt::format("the step returned {} outputs; outputs_info has {} entries",
                     result.outputs.size(), expected));
  if (result.outputs.empty()) fail("the step returned no outputs");
  for (std::size_t i = 0; i < result.outputs.size(); ++i)
    if (result.outputs[i].is_null()) fail(fmt::format("the step returned a null Var as output {}", i));
  std::vector<int> states = state_of_output;
  if (o.outputs_info.empty()) states.assign(result.outputs.size(), -1);
  // Body outputs: next states in state order, then map outputs, then the condition.
  std::vector<Var> body_outputs(state_types.size());
  std::vector<Var> maps;
  for (std::size_t i = 0; i < result.outputs.size(); ++i) {
    const Var& v = result.outputs[i];
    if (states[i] < 0) {
      maps.push_back(v);
      continue;
    }
    const TensorType& want = state_types[states[i]];
    const TensorType& got = v.type();
    bool fits = got.dtype == want.dtype && got.rank() == want.rank();
    for (int d = 0; fits && d < got.rank(); ++d)
      fits = got.shape[d] == want.shape[d] || got.shape[d] == unknown_dim ||
             want.shape[d] == unknown_dim;
    if (!fits)
      fail(fmt::format("the step returns {} for output {}, whose state (from outputs_info) is "
                       "{}; they must match",
                       got.str(), i, want.str()));
    body_outputs[states[i]] = v;
  }
  body_outputs.insert(body_outputs.end(), maps.begin(), maps.end());
  if (result.until) {
    if (result.until.rank() != 0)
      fail(fmt::format("the stop condition must be a scalar, got {}", result.until.type().str()));
    body_outputs.push_back(result.until);
  }

  // Shared variables the steps advance: generator states of the step's draws (and of inner
  // loops' draws), and those the step updates (StepResult::updates). Each becomes a hidden
  // recurrent state, so that every step sees the last one's value (fresh random numbers);
  // function() writes its value after the last step back (scan_shared_updates), as it does
  // for draws outside loops.
  std::vector<Var> carried, carried_next;
  auto carry = [&](const Var& state, const Var& next, const std::source_location& where) {
    if (std::any_of(carried.begin(), carried.end(), [&](const Var& v) { return v.same(state); }))
      throw_error(label, fmt::format("{} is advanced twice in one step", describe(state)), where);
    carried.push_back(state);
    carried_next.push_back(next);
  };
  for (const Node* n : topo_sort(body_outputs)) {
    if (n->id() <= watermark) continue;
    for (const auto& [input, next] : streams_advanced(*n))
      if (is_shared(n->input(input))) carry(n->input(input), next, n->location());
  }
  for (const auto& [target, value] : result.updates) {
    if (target.is_null() || value.is_null()) fail("an update of the step holds a null Var");
    if (!is_shared(target))
      fail(fmt::format("the step updates {}, which is not a shared variable", describe(target)));
    if (value.dtype() != target.dtype() || value.rank() != target.rank())
      fail(fmt::format("the step's new value of {} is {}, but the variable is {}", describe(target),
                       value.type().str(), target.type().str()));
    carry(target, value, loc);
  }
  const int user_states = static_cast<int>(state_types.size());
  if (!carried.empty()) {
    const long k = static_cast<long>(carried.size());
    Replacements to_placeholders;
    for (std::size_t i = 0; i < carried.size(); ++i) {
      Var p = placeholder(fmt::format("shared{}", i), carried[i].type());
      to_placeholders.emplace_back(carried[i], p);
      args.insert(args.end() - static_cast<long>(o.non_sequences.size()), p);
      state_taps.push_back(-1);
      state_counts.push_back(1);
      state_types.push_back(carried[i].type());
    }
    std::vector<Var> all = body_outputs;
    all.insert(all.end(), carried_next.begin(), carried_next.end());
    all = clone_replace(all, to_placeholders, /*strict=*/false);
    body_outputs.assign(all.begin(), all.end() - k);
    body_outputs.insert(body_outputs.begin() + user_states, all.end() - k, all.end());
  }

  // The body's inputs: the placeholders, then every value of the outer graph it reads
  // (declared non-sequences, and captured ones: the largest parts that do not depend on a
  // placeholder), each bound to a new placeholder.
  const std::size_t n_placeholders = args.size() - o.non_sequences.size();
  std::unordered_set<const Node*> inner;
  std::uint64_t first_placeholder = watermark;
  for (std::size_t i = 0; i < n_placeholders; ++i) {
    inner.insert(args[i].node().get());
    first_placeholder = std::min(first_placeholder, args[i].node()->id());
  }
  std::unordered_map<const Node*, bool> memo;
  auto inside = [&](const Node* n) { return depends_on(n, inner, first_placeholder, memo); };
  std::vector<Var> captured;
  std::unordered_set<const Node*> declared;
  for (const Var& c : o.non_sequences) declared.insert(c.node().get());
  auto capture = [&](const Var& v) {
    if (is_constant(v)) return;
    for (const Var& c : captured)
      if (c.same(v)) return;
    if (o.strict) {  // values computed from declared non-sequences are fine (u.T)
      std::vector<const Node*> stack{v.node().get()};
      std::unordered_set<const Node*> seen;
      while (!stack.empty()) {
        const Node* n = stack.back();
        stack.pop_back();
        if (declared.count(n) || !seen.insert(n).second || is_constant(n->output(0))) continue;
        if (n->inputs().empty())
          fail(fmt::format("the step uses {} of the outer graph without declaring it in "
                           "non_sequences (strict)",
                           n->output(0).name().empty() ? describe(n->output(0))
                                                       : fmt::format("'{}'", n->output(0).name())));
        for (const Var& in : n->inputs()) stack.push_back(in.node().get());
      }
    }
    captured.push_back(v);
  };
  for (const Var& out : body_outputs)
    if (!inside(out.node().get())) capture(out);
  for (const Node* n : topo_sort(body_outputs)) {
    if (!inside(n)) continue;
    for (const Var& in : n->inputs())
      if (!inside(in.node().get())) capture(in);
  }
  for (const Var& c : o.non_sequences)
    if (!is_constant(c)) capture(c);  // declared but unused: still an input, harmless
  Replacements bound;
  std::vector<Var> body_inputs(args.begin(), args.begin() + n_placeholders);
  for (std::size_t c = 0; c < captured.size(); ++c) {
    Var p = placeholder(fmt::format("const{}", c), captured[c].type());
    bound.emplace_back(captured[c], p);
    body_inputs.push_back(p);
  }
  auto body = std::make_shared<Subgraph>(
      Subgraph{std::move(body_inputs), clone_replace(body_outputs, bound)});

  std::vector<Var> inputs{n_steps};
  inputs.insert(inputs.end(), outer_inputs.begin(), outer_inputs.end());
  for (const Recurrence& r : o.outputs_info)
    if (r.initial) inputs.push_back(r.initial);
  inputs.insert(inputs.end(), carried.begin(), carried.end());
  inputs.insert(inputs.end(), captured.begin(), captured.end());
  Ints shared_states;
  for (std::size_t i = 0; i < carried.size(); ++i) shared_states.push_back(user_states + static_cast<std::int64_t>(i));
  Attrs attrs{{"body", std::shared_ptr<const Subgraph>(body)},
              {"sequence_taps", sequence_taps},
              {"sequence_tap_counts", sequence_counts},
              {"state_taps", state_taps},
              {"state_tap_counts", state_counts},
              {"maps", static_cast<std::int64_t>(maps.size())},
              {"constants", static_cast<std::int64_t>(captured.size())},
              {"n_steps_given", o.n_steps.has_value()},
              {"go_backwards", o.go_backwards},
              {"until", static_cast<bool>(result.until)},
              {"truncate_gradient", std::int64_t{o.truncate_gradient}},
              {"shared_states", shared_states},
              {"name", o.name}};
  NodePtr node = make_node(ops::scan_op(), std::move(inputs), std::move(attrs), loc);
  // Outputs in outputs_info order.
  std::vector<Var> outputs;
  int next_map = 0;
  for (int s : states)
    outputs.push_back(node->output(s >= 0 ? s : static_cast<int>(state_types.size()) + next_map++));
  return outputs;
}

std::vector<std::pair<Var, Var>> scan_shared_updates(const Node& node) {
  std::vector<std::pair<Var, Var>> out;
  if (&node.op() != &ops::scan_op() || !node.attrs().has("shared_states")) return out;
  const Layout l(node.attrs());
  for (std::int64_t s : node.attrs().get_ints("shared_states")) {
    const int i = static_cast<int>(s);
    const Var& state = node.input(1 + l.sequences() + i);
    out.emplace_back(state, scan_detail::final_state(node.output(i), state, node.location()));
  }
  return out;
}

std::vector<Var> map(const StepFunction& fn, const std::vector<Var>& sequences,
                     const std::vector<Var>& non_sequences, std::source_location loc) {
  return scan(fn, {.sequences = {sequences.begin(), sequences.end()}, .non_sequences = non_sequences}, loc);
}

namespace {
Var fold(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
         const std::vector<Var>& non_sequences, bool backwards, std::source_location loc) {
  Var all = scan(fn,
                 {.sequences = {sequences.begin(), sequences.end()},
                  .outputs_info = {initial},
                  .non_sequences = non_sequences,
                  .go_backwards = backwards},
                 loc)[0];
  return scan_detail::final_state(all, initial, loc);
}
}  // namespace

Var foldl(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
          const std::vector<Var>& non_sequences, std::source_location loc) {
  return fold(fn, sequences, initial, non_sequences, false, loc);
}
Var foldr(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
          const std::vector<Var>& non_sequences, std::source_location loc) {
  return fold(fn, sequences, initial, non_sequences, true, loc);
}
Var reduce(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
           const std::vector<Var>& non_sequences, std::source_location loc) {
  return fold(fn, sequences, initial, non_sequences, false, loc);
}

}  // namespace cgvm
