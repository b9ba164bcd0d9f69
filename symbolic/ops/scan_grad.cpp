// scan's gradient: backpropagation through time as a second scan (symbolic/scan.hpp).
#include <fmt/format.h>

#include "runtime/error.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/index.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/scan_layout.hpp"
#include "symbolic/scan.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm::scan_detail {
namespace {

Var reversed(const Var& v, const std::source_location& loc) {
  return subtensor(v, {slice(none, none, -1)}, loc);
}

// Rows start .. start+n-1 of `stacked`, last first: one step's value per backward step.
Var backward_rows(const Var& stacked, const Var& start, const Var& n, const std::source_location& loc) {
  return reversed(subtensor(stacked, {slice(start, start + n)}, loc), loc);
}

// Rows start .. start+n-1 of `stacked`, in order.
Var rows_from(const Var& stacked, const Var& start, const Var& n, const std::source_location& loc) {
  return subtensor(stacked, {slice(start, start + n)}, loc);
}

}  // namespace

Var final_state(const Var& stacked, const Var& initial, const std::source_location& loc) {
  return apply(ops::scan_last_op(), {stacked, initial}, {}, loc);
}

// The gradient of scan_last: that of the same value spelled with concatenate and indexing,
// taken over placeholders (the stack depends on the initial value: a gradient over the
// values themselves would count that path twice), then bound to the node's inputs.
std::vector<Var> grad_scan_last(const GradArgs& a) {
  const Var &stacked = a.node.input(0), &initial = a.node.input(1);
  if (!is_float(initial.dtype()) || !a.grad(0)) return {Var(), Var()};
  const auto& loc = a.loc();
  Var s = tensor("stack", stacked.dtype(), stacked.static_shape());
  Var i = tensor("initial", initial.dtype(), initial.static_shape());
  Var spelled = concatenate({expand_dims(i, 0, loc), s}, 0, loc)[Index(-1, loc)];
  std::vector<Var> g = grad(Var(), {s, i},
                            {.known_grads = {{spelled, a.grad(0)}}, .disconnected = Disconnected::Zero}, loc);
  return clone_replace(g, {{s, stacked}, {i, initial}}, /*strict=*/false);
}

// Backpropagation through time: a scan running the body's gradient from the last step to
// the first. Its sequences are what each forward step read (sequence rows, state history
// rows, in backward order) and the gradients of the outputs; its states are, per forward
// state, the gradients of the history rows later steps read (a window as deep as the taps)
// and, per constant, the gradient summed so far; its map outputs the gradients of each
// sequence tap's rows.
std::vector<Var> grad_scan(const GradArgs& a) {
  const Node& node = a.node;
  const Layout l(node.attrs());
  const Subgraph& body = *node.attrs().get_subgraph("body");
  const auto& loc = a.loc();
  // Only the optimizer keeps last values only, after every gradient has been taken.
  CGVM_ASSERT(l.last_only.empty(), "the gradient of a scan that keeps last values only");
  const int S = l.states(), Q = l.sequences(), C = l.constants;
  const int n_outputs = node.num_outputs();
  std::vector<Var> outputs, cotangents;
  for (int i = 0; i < n_outputs; ++i) {
    outputs.push_back(node.output(i));
    cotangents.push_back(a.grad(i) ? a.grad(i) : zeros_like(node.output(i), loc));
  }
  const Var n = outputs[0].shape(0, loc);  // the steps executed (fewer under until)
  // The backward pass covers the last `back_n` steps: all, or truncate_gradient of them.
  const Var back_n = l.truncate_gradient < 0 ? n : minimum(n, l.truncate_gradient, loc);
  const Var skipped = n - back_n;  // forward steps before those
  auto input = [&](int i) { return node.input(i); };
  auto constant_at = [&](int c) { return input(1 + Q + S + c); };

  // What each forward step read, as tap-0 sequences in backward order.
  ScanOptions back{.name = l.name.empty() ? "grad of scan" : "grad of " + l.name};
  // The first element the backward pass reads for sequence q's tap k: the one of the latest
  // step walking forward (rows then taken last first), of the earliest walking backwards.
  auto first_read = [&](int q, std::int64_t k) -> Var {
    const Ints& taps = l.sequence_taps[q];
    if (!l.go_backwards) return skipped + (k - Layout::lo(taps));
    return input(1 + q).shape(0, loc) - Layout::hi(taps) + k - n;
  };
  for (int q = 0; q < Q; ++q)
    for (std::int64_t k : l.sequence_taps[q]) {
      Var start = first_read(q, k);
      back.sequences.emplace_back(l.go_backwards ? rows_from(input(1 + q), start, back_n, loc)
                                                 : backward_rows(input(1 + q), start, back_n, loc));
    }
  for (int s = 0; s < S; ++s) {
    const Var& init = input(1 + Q + s);
    const std::int64_t d = Layout::depth(l.state_taps[s]);
    Var history = concatenate({Layout::stacked(l.state_taps[s]) ? init : expand_dims(init, 0, loc), outputs[s]}, 0, loc);
    for (std::int64_t k : l.state_taps[s])
      back.sequences.emplace_back(backward_rows(history, skipped + (d + k), back_n, loc));
  }
  for (int o = 0; o < S + l.maps; ++o)
    back.sequences.emplace_back(backward_rows(cotangents[o], skipped, back_n, loc));
  for (int s = 0; s < S; ++s) back.outputs_info.emplace_back(zeros_like(input(1 + Q + s), loc));
  for (int c = 0; c < C; ++c) back.outputs_info.emplace_back(zeros_like(constant_at(c), loc));
  int sequence_taps = 0;
  for (int q = 0; q < Q; ++q) sequence_taps += static_cast<int>(l.sequence_taps[q].size());
  for (int i = 0; i < sequence_taps; ++i) back.outputs_info.emplace_back(Var());
  for (int c = 0; c < C; ++c) back.non_sequences.push_back(constant_at(c));

  auto step = [&](const StepArgs& v) -> StepResult {
    // v: forward taps (sequences, states) | output gradients | windows | sums | constants
    const std::size_t taps = body.inputs.size() - C;
    const std::size_t grads_at = taps, windows_at = taps + S + l.maps;
    const std::size_t sums_at = windows_at + S, constants_at = sums_at + C;
    std::vector<Var> forward_args;  // what the body's placeholders stand for at this step
    for (std::size_t i = 0; i < taps; ++i) forward_args.push_back(v[i]);
    for (int c = 0; c < C; ++c) forward_args.push_back(v[constants_at + c]);
    // The body is differentiated over its own placeholders, which are independent of each
    // other (outer values captured together, W and W.T, are not), then bound to this step's
    // values. Integer values carry no gradient: zeros keep the loop's layout.
    Replacements known;
    for (int s = 0; s < S; ++s) {
      if (!is_float(body.outputs[s].dtype())) continue;
      const Var& window = v[windows_at + s];
      Var later = Layout::stacked(l.state_taps[s]) ? window[Index(-1, loc)] : window;
      known.emplace_back(body.outputs[s], v[grads_at + s] + later);
    }
    for (int m = 0; m < l.maps; ++m)
      if (is_float(body.outputs[S + m].dtype()))
        known.emplace_back(body.outputs[S + m], v[grads_at + S + m]);
    std::vector<Var> wrt;
    for (const Var& p : body.inputs)
      if (is_float(p.dtype())) wrt.push_back(p);
    std::vector<Var> g(body.inputs.size());
    if (!known.empty() && !wrt.empty()) {
      std::vector<Var> over_placeholders =
          grad(Var(), wrt, {.known_grads = known, .disconnected = Disconnected::Zero}, loc);
      Replacements bind;
      for (std::size_t i = 0; i < body.inputs.size(); ++i) bind.emplace_back(body.inputs[i], forward_args[i]);
      std::vector<Var> bound = clone_replace(over_placeholders, bind, /*strict=*/false);
      for (std::size_t i = 0, w = 0; i < body.inputs.size(); ++i)
        if (is_float(body.inputs[i].dtype())) g[i] = bound[w++];
    }
    for (std::size_t i = 0; i < g.size(); ++i)
      if (!g[i]) g[i] = zeros_like(forward_args[i], loc);
    std::vector<Var> next;
    // windows: the rows one step earlier, plus what this step read of them
    std::size_t at = 0;
    for (int q = 0; q < Q; ++q) at += l.sequence_taps[q].size();
    const std::size_t state_grads_at = at;
    for (int s = 0; s < S; ++s) {
      const Ints& taps_s = l.state_taps[s];
      const std::int64_t d = Layout::depth(taps_s);
      if (!Layout::stacked(taps_s)) {
        next.push_back(g[at++]);
        continue;
      }
      const Var& window = v[windows_at + s];
      std::vector<Var> rows;
      for (std::int64_t j = 0; j < d; ++j) {
        Var row = j == 0 ? zeros_like(window[Index(0, loc)], loc) : window[Index(j - 1, loc)];
        for (std::size_t t = 0; t < taps_s.size(); ++t)
          if (d + taps_s[t] == j) row = row + g[at + t];
        rows.push_back(expand_dims(row, 0, loc));
      }
      at += taps_s.size();
      next.push_back(concatenate(rows, 0, loc));
    }
    for (int c = 0; c < C; ++c) next.push_back(v[sums_at + c] + g[taps + c]);
    for (std::size_t i = 0; i < state_grads_at; ++i) next.push_back(g[i]);
    return next;
  };
  back.n_steps = back_n;
  std::vector<Var> result = scan(step, back, loc);

  // Gradients of the node's inputs; none for n_steps and for integer values.
  std::vector<Var> grads(node.inputs().size());
  std::size_t out = 0;
  for (int s = 0; s < S; ++s) {
    const Var& init = input(1 + Q + s);
    Var g = final_state(result[out++], zeros_like(init, loc), loc);
    if (!is_float(init.dtype())) continue;
    // A truncated pass does not reach the initial states.
    grads[1 + Q + s] = l.truncate_gradient < 0 ? g : where(eq(skipped, 0, loc), g, 0, loc);
  }
  for (int c = 0; c < C; ++c) {
    Var g = final_state(result[out++], zeros_like(constant_at(c), loc), loc);
    if (is_float(constant_at(c).dtype())) grads[1 + Q + S + c] = g;
  }
  for (int q = 0; q < Q; ++q) {
    const Var& x = input(1 + q);
    Var g = zeros_like(x, loc);
    for (std::int64_t k : l.sequence_taps[q]) {
      Var start = first_read(q, k);
      Var rows = l.go_backwards ? result[out++] : reversed(result[out++], loc);
      g = inc_subtensor(subtensor(g, {slice(start, start + back_n)}, loc), rows, loc);
    }
    if (is_float(x.dtype())) grads[1 + q] = g;
  }
  return grads;
}

}  // namespace cgvm::scan_detail
