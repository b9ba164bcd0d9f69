// The scan loop (symbolic/scan_run.hpp): everything about running a scan node except its
// body, for the interpreter and the executor alike.
#include "symbolic/scan_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "runtime/error.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/ops/scan_layout.hpp"

namespace cgvm {

using scan_detail::Layout;
using scan_detail::with_first;
using scan_detail::without_first;

namespace {

// Rows of a stack, grown by doubling when a while loop runs longer than expected.
void ensure_rows(Array& stack, std::int64_t rows, std::int64_t limit) {
  if (rows <= stack.shape(0)) return;
  const std::int64_t grown = std::min(limit, std::max(rows, 2 * stack.shape(0)));
  Array bigger = stack.new_empty(with_first(grown, without_first(stack.shape())), stack.dtype());
  bigger.slice(0, 0, stack.shape(0)).assign(stack);
  stack = std::move(bigger);
}

}  // namespace

std::vector<Array> run_scan(const Node& node, std::span<const Array> in, const ScanStep& step,
                            const std::shared_ptr<DeviceContext>& context,
                            const ScanSteps& rest, std::int64_t expected) {
  const Layout l(node.attrs());
  const Subgraph& body = *node.attrs().get_subgraph("body");
  const std::string label = scan_detail::scan_label(l.name);
  auto fail = [&](const std::string& message) { throw_error(label, message, node.location()); };
  const int S = l.states(), Q = l.sequences();

  // The number of steps: what the sequences give (all the same), at most n_steps.
  std::int64_t available = -1;
  for (int q = 0; q < Q; ++q) {
    const Array& seq = in[1 + q];
    const std::int64_t steps = Layout::steps_of(seq.shape(0), l.sequence_taps[q]);
    if (steps < 0)
      fail(fmt::format("sequence {} has {} elements, fewer than its taps [{}] span", q,
                       seq.shape(0), fmt::join(l.sequence_taps[q], ", ")));
    if (available >= 0 && steps != available)
      fail(fmt::format("sequences give different numbers of steps: {} and {} (sequence {} "
                       "has {} elements)",
                       available, steps, q, seq.shape(0)));
    available = steps;
  }
  std::int64_t n = available;
  if (l.n_steps_given) {
    n = in[0].item<std::int64_t>();
    if (n < 0) fail(fmt::format("n_steps is {}; it must be >= 0", n));
    if (available >= 0 && n > available)
      fail(fmt::format("n_steps is {}, but the sequences give only {} steps", n, available));
  }
  // A while loop's n is only a bound: its stacks start small and grow.
  const std::int64_t first_rows = l.until ? std::min<std::int64_t>(n, 64) : n;

  // Each state's history: its initial rows, then one row per step; a ring of depth + 1 rows
  // for a state whose last value only is kept.
  std::vector<Array> history(S);
  std::vector<std::int64_t> depth(S);
  std::vector<bool> ring(S);
  for (int s = 0; s < S; ++s) {
    const Array& init = in[1 + Q + s];
    const Ints& taps = l.state_taps[s];
    const bool stacked = Layout::stacked(taps);
    depth[s] = Layout::depth(taps);
    ring[s] = l.keeps_last_only(s);
    if (stacked && init.shape(0) != depth[s])
      fail(fmt::format("the initial value of output {} has {} steps along its first axis; its "
                       "taps [{}] need {}",
                       s, init.shape(0), fmt::join(taps, ", "), depth[s]));
    const Shape state = stacked ? without_first(init.shape()) : init.shape();
    const std::int64_t rows = depth[s] + (ring[s] ? 1 : first_rows);
    history[s] = Array::empty(with_first(rows, state), init.dtype(), context);
    history[s].slice(0, 0, depth[s]).assign(stacked ? init : init.expand_dims(0));
  }
  // Row `a` of state s's history, counted from its first initial row.
  auto row = [&](int s, std::int64_t a) {
    return history[s].index(0, ring[s] ? a % (depth[s] + 1) : a);
  };
  // Map outputs: allocated before the loop when the body's types give their shape, else once
  // the first step has shown it.
  std::vector<Array> stacks(l.maps);
  std::vector<bool> allocated(l.maps, false);
  for (int m = 0; m < l.maps; ++m) {
    const TensorType& t = body.outputs[S + m].type();
    if (std::find(t.shape.begin(), t.shape.end(), unknown_dim) != t.shape.end()) continue;
    stacks[m] = Array::empty(with_first(first_rows, t.shape), t.dtype, context);
    allocated[m] = true;
  }

  const int first_constant = 1 + Q + S;
  int per_step = 0;
  for (const Ints& taps : l.sequence_taps) per_step += static_cast<int>(taps.size());
  for (const Ints& taps : l.state_taps) per_step += static_cast<int>(taps.size());
  // Step t's rows; a map whose shape no step has shown yet has no place.
  auto rows_at = [&](std::int64_t t) {
    ScanRows r;
    for (int q = 0; q < Q; ++q) {
      const Array& seq = in[1 + q];
      const Ints& taps = l.sequence_taps[q];
      for (std::int64_t k : taps)
        r.inputs.push_back(seq.index(0, Layout::element(t, k, taps, seq.shape(0), l.go_backwards)));
    }
    for (int s = 0; s < S; ++s)
      for (std::int64_t k : l.state_taps[s]) r.inputs.push_back(row(s, depth[s] + t + k));
    for (int c = 0; c < l.constants; ++c) r.inputs.push_back(in[first_constant + c]);
    for (int s = 0; s < S; ++s) r.places.push_back(row(s, depth[s] + t));
    for (int m = 0; m < l.maps; ++m) r.places.push_back(allocated[m] ? stacks[m].index(0, t) : Array());
    return r;
  };
  // Room for steps [0, steps) in the histories and stacks (a while loop's grow).
  auto grow = [&](std::int64_t steps) {
    for (int s = 0; s < S; ++s)
      if (!ring[s]) ensure_rows(history[s], depth[s] + steps, depth[s] + n);
    for (int m = 0; m < l.maps; ++m)
      if (allocated[m]) ensure_rows(stacks[m], steps, n);
  };
  // A while loop offers its later steps in chunks as long as the steps run so far (from
  // min_chunk to max_chunk): one read of its condition per chunk, and no more than a
  // chunk's steps run past the stop by a caller that runs them blind. Where it is expected
  // to run `expected` steps, its first chunk ends there: a loop that runs as long as last
  // time is read once and runs nothing past its stop.
  constexpr std::int64_t min_chunk = 4, max_chunk = 64;
  const std::int64_t most_chunk = std::min(n - 1, std::max(max_chunk, expected - 1));
  bool offer = static_cast<bool>(rest);
  const std::size_t n_outputs = body.outputs.size();
  std::vector<Array> places(n_outputs);
  std::vector<const Array*> into(n_outputs, nullptr);
  std::int64_t done = 0;
  bool stopped = false;
  while (done < n && !stopped) {
    const std::int64_t t = done;
    if (t >= 1 && offer) {
      const std::int64_t size =
          t == 1 && expected > t ? expected - t : std::clamp(t, min_chunk, max_chunk);
      const std::int64_t last = l.until ? std::min(n, t + size) : n;
      grow(last);
      const ScanChunkRun ran = rest(ScanChunk{.first = t,
                                              .last = last,
                                              .until = l.until,
                                              .most = l.until ? most_chunk : n - 1,
                                              .per_step = per_step,
                                              .rows = rows_at});
      if (ran.steps > 0) {
        done += ran.steps;
        stopped = ran.stopped;
        continue;
      }
      offer = false;  // the rest step by step
    }
    grow(t + 1);
    ScanRows r = rows_at(t);
    const std::vector<Array>& inputs = r.inputs;
    for (int i = 0; i < S + l.maps; ++i) {
      places[i] = std::move(r.places[i]);
      into[i] = i < S || allocated[i - S] ? &places[i] : nullptr;
    }

    std::vector<Array> out = step(inputs, into);

    for (int s = 0; s < S; ++s) {
      if (out[s].same_view(places[s])) continue;
      if (out[s].shape() != places[s].shape())
        fail(fmt::format("step {} returned output {} of shape {}; its state has shape {}", t, s,
                         shape_str(out[s].shape()), shape_str(places[s].shape())));
      places[s].assign(out[s]);
    }
    for (int m = 0; m < l.maps; ++m) {
      const Array& o = out[S + m];
      if (!allocated[m]) {
        stacks[m] = Array::empty(with_first(first_rows, o.shape()), o.dtype(), context);
        allocated[m] = true;
        places[S + m] = stacks[m].index(0, t);
      } else if (o.same_view(places[S + m])) {
        continue;
      }
      if (o.shape() != places[S + m].shape())
        fail(fmt::format("step {} returned map output {} of shape {}; earlier steps returned {}",
                         t, m, shape_str(o.shape()), shape_str(places[S + m].shape())));
      places[S + m].assign(o);
    }
    done = t + 1;
    stopped = l.until && out.back().astype(DType::Bool).item<bool>();
  }

  std::vector<Array> results;
  for (int s = 0; s < S; ++s)
    results.push_back(ring[s] ? row(s, depth[s] + done - 1)
                              : history[s].slice(0, depth[s], depth[s] + done));
  for (int m = 0; m < l.maps; ++m) {
    if (allocated[m]) {
      results.push_back(stacks[m].slice(0, 0, done));
      continue;
    }
    const TensorType& t = body.outputs[S + m].type();  // no step ran: an empty stack
    Shape shape = t.shape;
    for (auto& d : shape) d = d == unknown_dim ? 0 : d;
    results.push_back(Array::empty(with_first(0, shape), t.dtype, context));
  }
  return results;
}

}  // namespace cgvm
