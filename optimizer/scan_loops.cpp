#include "optimizer/scan_loops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "optimizer/rewrite.hpp"
#include "symbolic/contraction.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/index.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/index_detail.hpp"
#include "symbolic/ops/scan_layout.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

using scan_detail::Layout;

namespace {

// Who reads each value of the graph; a function output counts as a reader nobody knows.
class Readers {
 public:
  explicit Readers(const std::vector<Var>& outputs) {
    for (const Node* n : topo_sort(outputs))
      for (const Var& in : n->inputs()) of_[in].push_back(n);
    for (const Var& v : outputs) escapes_.insert(v);
  }
  bool unread(const Var& v) const { return !escapes_.count(v) && !of_.count(v); }
  // The nodes reading `v` when all of them are scan_last nodes taking it as their stack.
  std::vector<const Node*> only_scan_last(const Var& v) const {
    auto it = of_.find(v);
    if (escapes_.count(v) || it == of_.end()) return {};
    for (const Node* r : it->second)
      if (&r->op() != &ops::scan_last_op() || !r->input(0).same(v) || r->input(1).same(v)) return {};
    return it->second;
  }

 private:
  std::unordered_map<Var, std::vector<const Node*>, VarHash, VarEq> of_;
  std::unordered_set<Var, VarHash, VarEq> escapes_;
};

// A product hoisted out of a loop: the body's x_t @ W, and the sequence and tap x_t is.
struct Hoisted {
  const Node* product;
  int sequence;
  std::size_t tap;
};

// The body's products of a sequence element (rank 1 or 2) by a matrix the loop does not
// change: a constant, or a value bound once for all steps.
std::vector<Hoisted> hoistable(const Subgraph& body, const Layout& l) {
  std::unordered_map<const Node*, std::pair<int, std::size_t>> element;  // placeholder -> (q, tap)
  std::size_t at = 0;
  for (int q = 0; q < l.sequences(); ++q)
    for (std::size_t k = 0; k < l.sequence_taps[q].size(); ++k) element[body.inputs[at++].node().get()] = {q, k};
  std::unordered_set<const Node*> fixed;
  for (std::size_t c = body.inputs.size() - l.constants; c < body.inputs.size(); ++c)
    fixed.insert(body.inputs[c].node().get());
  std::vector<Hoisted> out;
  for (const Node* n : topo_sort(body.outputs)) {
    if (&n->op() != &ops::matmul_op()) continue;
    const Var &x = n->input(0), &w = n->input(1);
    auto e = element.find(x.node().get());
    if (e == element.end() || x.rank() > 2 || w.rank() != 2) continue;
    if (!fixed.count(w.node().get()) && !is_constant(w)) continue;
    out.push_back({n, e->second.first, e->second.second});
  }
  return out;
}

// The outer value a body input stands for (constants are read as they are).
Var outer_value(const Node& scan, const Subgraph& body, const Layout& l, const Var& inner) {
  if (is_constant(inner)) return inner;
  const std::size_t first_constant = body.inputs.size() - l.constants;
  for (std::size_t c = first_constant; c < body.inputs.size(); ++c)
    if (body.inputs[c].same(inner))
      return scan.input(1 + l.sequences() + l.states() + static_cast<int>(c - first_constant));
  throw InternalError("scan_loops: a hoisted product reads a value bound per step");
}

// A state that sums over the steps what the loop can stack instead (a map output, written
// in place), the sum then one operation after the loop, with e_t a sequence's element:
//  - Product: acc + alpha * e_t^T @ D_t (BPTT's gradient of a weight read as x_t @ W): one
//    product of e's rows by D's stack;
//  - Scatter: acc + inc_take(zeros, e_t, D_t) along axis 0 (BPTT's gradient of a table
//    looked up as take(E, ids_t)): one inc_take of D's stack at e's rows, instead of a
//    zero table and its sum at every step.
struct SunkSum {
  enum class Kind { Product, Scatter };
  Kind kind;
  int state;
  int sequence;  // e_t's
  Var d;
  double alpha;
};

// `is_zeros_in_body` says whether a body value is all zeros (a loop constant's outer value
// may be).
std::optional<SunkSum> sunk_sum(const std::vector<Var>& outputs, int state, const Var& acc,
                                const std::unordered_map<const Node*, int>& element_of,
                                const std::function<bool(const Var&)>& is_zeros_in_body) {
  const Var& o = outputs[state];
  const Node& g = *o.node();  // the node that reads the accumulator
  std::optional<SunkSum> sum;
  if (&g.op() == &ops::gemm_op() && g.attrs().get_double("beta") == 1 && g.input(2).same(acc)) {
    const Node& t = *g.input(0).node();
    if (&t.op() != &ops::dimshuffle_op() || t.attrs().get_ints("pattern") != Ints{1, 0})
      return std::nullopt;
    auto e = element_of.find(t.input(0).node().get());
    if (e == element_of.end() || g.input(1).rank() != 2) return std::nullopt;
    sum = SunkSum{SunkSum::Kind::Product, state, e->second, g.input(1), g.attrs().get_double("alpha")};
  } else if (&g.op() == &ops::add_op() && g.inputs().size() == 2 &&
             (g.input(0).same(acc) || g.input(1).same(acc))) {
    const Var& added = g.input(0).same(acc) ? g.input(1) : g.input(0);
    if (!is_op(added, ops::inc_take_op())) return std::nullopt;
    const Node& it = *added.node();
    if (it.attrs().get_int("axis") != 0 || it.attrs().get_string("mode") != "inc" ||
        !is_zeros_in_body(it.input(0)) || added.type() != acc.type() || o.type() != acc.type())
      return std::nullopt;
    auto e = element_of.find(it.input(1).node().get());
    if (e == element_of.end()) return std::nullopt;
    sum = SunkSum{SunkSum::Kind::Scatter, state, e->second, it.input(2), 1.0};
  } else {
    return std::nullopt;
  }
  // The accumulator is read by this node only (so D cannot depend on it), and the new sum
  // only as the state's next value.
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (static_cast<int>(i) != state && (outputs[i].same(acc) || outputs[i].same(o))) return std::nullopt;
  auto reads = [](const Node* n, const Var& v) {
    return std::any_of(n->inputs().begin(), n->inputs().end(), [&](const Var& in) { return in.same(v); });
  };
  for (const Node* n : topo_sort(outputs))
    if ((n != &g && reads(n, acc)) || reads(n, o)) return std::nullopt;
  return sum;
}

// A selection of elements (one slice of the leading axis) of a value: a lookup of the
// elements commutes with it, and, for rank >= 2 (rows), a product by a matrix.
bool selects_elements(const Var& v) {
  const Node& n = *v.node();
  return &n.op() == &ops::subtensor_op() &&
         n.attrs().get_ints("kinds") == Ints{index_detail::entry_slice};
}
bool selects_rows(const Var& v) { return selects_elements(v) && v.rank() >= 2; }

Var rows_base(const Var& v) { return selects_rows(v) ? rows_base(v.node()->input(0)) : v; }

// f(seq) for a hoisted computation, where f commutes with the selections `selects` tells:
// f runs on the value selected from, and the selections after it (so that BPTT's
// recomputation over the forward loop's elements is the forward loop's, the same node).
Var through_selections(const Var& seq, bool (*selects)(const Var&),
                       const std::function<Var(const Var&)>& f, const std::source_location& loc) {
  if (!selects(seq)) return f(seq);
  const Node& n = *seq.node();
  std::vector<Var> inputs = n.inputs();
  inputs[0] = through_selections(n.input(0), selects, f, loc);
  return apply(n.op(), std::move(inputs), n.attrs(), loc);
}

// take(table, seq, 0) for a hoisted lookup, the elements looked up whole and selected after.
Var lookup_of_elements(const Var& seq, const Var& table, const std::source_location& loc) {
  return through_selections(
      seq, selects_elements, [&](const Var& all) { return take(table, all, 0, loc); }, loc);
}

// The innermost lookup of lookup_of_elements: over the value the elements are selected from.
Var whole_lookup(const Var& v) {
  return selects_elements(v) ? whole_lookup(v.node()->input(0)) : v;
}

// The state whose history `v` is, as BPTT spells it: concatenate([expand_dims(initial),
// stack]) of a scan's single-tap state.
std::optional<std::pair<const Node*, int>> history_of(const Var& v) {
  const Node& n = *v.node();
  if (&n.op() != &ops::concatenate_op() || n.inputs().size() != 2 || n.attrs().get_int("axis") != 0)
    return std::nullopt;
  const Node& loop = *n.input(1).node();
  if (&loop.op() != &ops::scan_op()) return std::nullopt;
  const Layout l(loop.attrs());
  const int s = n.input(1).index();
  if (s >= l.states() || l.state_taps[s] != Ints{-1} || l.keeps_last_only(s)) return std::nullopt;
  const Node& e = *n.input(0).node();
  Ints pattern{-1};
  for (int i = 0; i < e.inputs()[0].rank(); ++i) pattern.push_back(i);
  if (&e.op() != &ops::dimshuffle_op() || !e.input(0).same(loop.input(1 + l.sequences() + s)) ||
      e.attrs().get_ints("pattern") != pattern)
    return std::nullopt;
  return std::pair{&loop, s};
}

// A forward loop's product of a state by one of its constants, stacked as a map output for
// BPTT (attr "exports": state, constant, output; see exports_for).
struct Export {
  std::int64_t state, constant, output;
};
std::vector<Export> exports_of(const Node& loop) {
  std::vector<Export> out;
  if (!loop.attrs().has("exports")) return out;
  const Ints& flat = loop.attrs().get_ints("exports");
  for (std::size_t i = 0; i + 2 < flat.size(); i += 3) out.push_back({flat[i], flat[i + 1], flat[i + 2]});
  return out;
}

// dot(seq, W) for a hoisted product, rows of a value multiplied whole and selected after;
// the history of a state whose loop stacks its own product by W is that stack and the
// product of the last row.
Var product_of_rows(const Var& seq, const Var& w, const std::source_location& loc) {
  return through_selections(seq, selects_rows, [&](const Var& all) {
    if (auto history = history_of(all)) {
      const Node& loop = *history->first;
      const Layout l(loop.attrs());
      const int first_constant = 1 + l.sequences() + l.states();
      for (const Export& e : exports_of(loop)) {
        if (e.state != history->second || !loop.input(first_constant + static_cast<int>(e.constant)).same(w))
          continue;
        const Var initial = loop.input(1 + l.sequences() + history->second);
        const Var last = apply(ops::scan_last_op(), {loop.output(history->second), initial}, {}, loc);
        return concatenate({loop.output(static_cast<int>(e.output)), expand_dims(dot(last, w, loc), 0, loc)}, 0, loc);
      }
    }
    return dot(all, w, loc);
  }, loc);
}

// The products of a state by a constant (h_{t-1} @ W) in `scan`'s body that another loop of
// the graph multiplies the state's history by again (BPTT recomputing the forward step):
// per product, the state, the constant and the body's product.
std::vector<std::pair<Export, Var>> exports_for(const Node& scan, const std::vector<const Node*>& loops) {
  const Layout l(scan.attrs());
  const Subgraph& body = *scan.attrs().get_subgraph("body");
  const int first_constant = 1 + l.sequences() + l.states();
  std::vector<std::pair<Export, Var>> out;
  for (const Node* other : loops) {
    if (other == &scan) continue;
    const Layout lo(other->attrs());
    const Subgraph& other_body = *other->attrs().get_subgraph("body");
    for (const Hoisted& h : hoistable(other_body, lo)) {
      auto history = history_of(rows_base(other->input(1 + h.sequence)));
      if (!history || history->first != &scan) continue;
      const Var w = outer_value(*other, other_body, lo, h.product->input(1));
      std::size_t state_at = body.inputs.size() - l.constants;
      for (const Ints& taps : l.state_taps) state_at -= taps.size();
      for (int s = 0; s < history->second; ++s) state_at += l.state_taps[s].size();
      const Var& state = body.inputs[state_at];  // the state's one tap, -1
      for (int c = 0; c < l.constants; ++c) {
        if (!scan.input(first_constant + c).same(w)) continue;
        const Var& weight = body.inputs[body.inputs.size() - l.constants + c];
        for (const Node* n : topo_sort(body.outputs)) {
          if (&n->op() != &ops::matmul_op() || !n->input(0).same(state) || !n->input(1).same(weight)) continue;
          const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& e) { return e.second.same(n->output(0)); });
          if (!seen) out.push_back({Export{history->second, c, -1}, n->output(0)});
        }
      }
    }
  }
  return out;
}

// An embedding lookup in a loop's body, take(E, ids_t) along axis 0 with E fixed and ids_t a
// sequence's element, becomes one lookup over the whole sequence before the loop (one gather
// instead of one per step; on a device, no indices read on the host at each step, so the
// step can be recorded), read by the body as a new sequence with the taps of the one it looks
// up. Its products by a matrix are then hoisted as products of an element are. Only where no
// index is looked up that the loop would not look up: the loop reads every element (no
// n_steps, no stop condition), or the graph (`graph`) already looks the whole sequence up
// (BPTT's lookups over the forward loop's elements). Returns the new scan node, or nullptr
// where there is none to hoist.
NodePtr hoist_lookups(const Node& scan, const std::unordered_set<const Node*>& graph,
                      RewriteStats* stats) {
  const Layout l(scan.attrs());
  const Subgraph& body = *scan.attrs().get_subgraph("body");
  const int Q = l.sequences();
  std::unordered_map<const Node*, std::pair<int, std::size_t>> element;  // placeholder -> (q, tap)
  std::size_t n_sequence_taps = 0;
  for (int q = 0; q < Q; ++q)
    for (std::size_t k = 0; k < l.sequence_taps[q].size(); ++k)
      element[body.inputs[n_sequence_taps++].node().get()] = {q, k};
  std::unordered_set<const Node*> fixed;
  for (std::size_t c = body.inputs.size() - l.constants; c < body.inputs.size(); ++c)
    fixed.insert(body.inputs[c].node().get());
  const bool reads_every_element = !l.until && !l.n_steps_given;

  std::vector<Var> inputs(scan.inputs().begin(), scan.inputs().begin() + 1 + Q);
  std::vector<Var> body_inputs(body.inputs.begin(), body.inputs.begin() + n_sequence_taps);
  Ints sequence_taps = scan.attrs().get_ints("sequence_taps");
  Ints sequence_counts = scan.attrs().get_ints("sequence_tap_counts");
  Replacements in_body;
  for (const Node* n : topo_sort(body.outputs)) {
    if (&n->op() != &ops::take_op() || n->attrs().get_int("axis") != 0) continue;
    const Var &table = n->input(0), &ids = n->input(1);
    auto e = element.find(ids.node().get());
    if (e == element.end() || (!fixed.count(table.node().get()) && !is_constant(table))) continue;
    const auto [q, tap] = e->second;
    const Var looked_up = lookup_of_elements(scan.input(1 + q), outer_value(scan, body, l, table),
                                             n->location());
    if (!reads_every_element && !graph.count(whole_lookup(looked_up).node().get())) continue;
    inputs.push_back(looked_up);
    const Ints& taps = l.sequence_taps[q];
    const Var result = n->output(0);
    for (std::size_t k = 0; k < taps.size(); ++k) {
      Var p = tensor(fmt::format("looked_up{}[t{:+}]", in_body.size(), taps[k]), result.dtype(),
                     result.static_shape());
      body_inputs.push_back(p);
      if (k == tap) in_body.emplace_back(result, p);
      sequence_taps.push_back(taps[k]);
    }
    sequence_counts.push_back(static_cast<std::int64_t>(taps.size()));
  }
  if (in_body.empty()) return nullptr;
  inputs.insert(inputs.end(), scan.inputs().begin() + 1 + Q, scan.inputs().end());
  body_inputs.insert(body_inputs.end(), body.inputs.begin() + static_cast<long>(n_sequence_taps),
                     body.inputs.end());
  Attrs attrs = scan.attrs();
  attrs.set("body", std::shared_ptr<const Subgraph>(std::make_shared<Subgraph>(
                        Subgraph{std::move(body_inputs), clone_replace(body.outputs, in_body)})));
  attrs.set("sequence_taps", std::move(sequence_taps));
  attrs.set("sequence_tap_counts", std::move(sequence_counts));
  if (stats) {
    stats->rewrites += static_cast<int>(in_body.size());
    stats->fired["hoist lookup out of scan"] += static_cast<int>(in_body.size());
  }
  return make_node(ops::scan_op(), std::move(inputs), std::move(attrs), scan.location());
}

// The scan node rebuilt: hoisted products as new sequences, states kept last only, the body
// optimized. Returns the replacements for the old node's outputs and scan_last readers.
Replacements rebuild(const Node& scan, const Readers& readers, const std::vector<const Node*>& loops,
                     const BodyOptimizer& optimize_body, RewriteStats* stats, NodePtr& rebuilt) {
  const Layout l(scan.attrs());
  const Subgraph& body = *scan.attrs().get_subgraph("body");
  const int Q = l.sequences(), S = l.states();
  std::size_t n_sequence_taps = 0;
  for (const Ints& taps : l.sequence_taps) n_sequence_taps += taps.size();

  // New sequences: one per hoisted product, with the taps of the sequence it reads (so the
  // number of steps stays), of which the body reads the product's.
  std::vector<Var> inputs(scan.inputs().begin(), scan.inputs().begin() + 1 + Q);
  std::vector<Var> body_inputs(body.inputs.begin(), body.inputs.begin() + n_sequence_taps);
  Ints sequence_taps = scan.attrs().get_ints("sequence_taps");
  Ints sequence_counts = scan.attrs().get_ints("sequence_tap_counts");
  Replacements in_body;
  for (const Hoisted& h : hoistable(body, l)) {
    const Var product = h.product->output(0);
    inputs.push_back(product_of_rows(scan.input(1 + h.sequence),
                                     outer_value(scan, body, l, h.product->input(1)),
                                     h.product->location()));
    const Ints& taps = l.sequence_taps[h.sequence];
    for (std::size_t k = 0; k < taps.size(); ++k) {
      Var p = tensor(fmt::format("hoisted{}[t{:+}]", in_body.size(), taps[k]), product.dtype(),
                     product.static_shape());
      body_inputs.push_back(p);
      if (k == h.tap) in_body.emplace_back(product, p);
      sequence_taps.push_back(taps[k]);
    }
    sequence_counts.push_back(static_cast<std::int64_t>(taps.size()));
  }
  inputs.insert(inputs.end(), scan.inputs().begin() + 1 + Q, scan.inputs().end());
  body_inputs.insert(body_inputs.end(), body.inputs.begin() + n_sequence_taps, body.inputs.end());

  // States read only through scan_last keep their last value only.
  Ints last_only = l.last_only;
  std::vector<std::vector<const Node*>> last_readers(S);
  for (int s = 0; s < S; ++s) {
    if (l.keeps_last_only(s)) continue;
    last_readers[s] = readers.only_scan_last(scan.output(s));
    if (!last_readers[s].empty()) last_only.push_back(s);
  }

  // Map outputs nobody reads are not computed (BPTT's gradients of sequences not asked for).
  std::vector<Var> outputs(body.outputs.begin(), body.outputs.begin() + S);
  std::vector<int> new_index(scan.num_outputs(), -1);
  for (int i = 0; i < S; ++i) new_index[i] = i;
  for (int m = 0; m < l.maps; ++m) {
    if (readers.unread(scan.output(S + m))) continue;
    new_index[S + m] = static_cast<int>(outputs.size());
    outputs.push_back(body.outputs[S + m]);
  }
  const int kept_maps = static_cast<int>(outputs.size()) - S, dropped = l.maps - kept_maps;
  // Products BPTT would compute again over a state's history are stacked as map outputs.
  const std::vector<std::pair<Export, Var>> exports = exports_for(scan, loops);
  for (const auto& e : exports) outputs.push_back(e.second);
  const int maps = kept_maps + static_cast<int>(exports.size());
  if (l.until) outputs.push_back(body.outputs.back());
  if (!in_body.empty()) outputs = clone_replace(outputs, in_body);
  outputs = optimize_body(outputs);
  const int hoisted = static_cast<int>(sequence_counts.size()) - Q;
  const int kept = static_cast<int>(last_only.size() - l.last_only.size());

  // Sums of products over the steps leave the loop (SunkSum): the state goes, its product's
  // right operand becomes a map output.
  std::unordered_map<const Node*, int> element_of;  // tap-0 elements of forward sequences
  if (!l.go_backwards)
    for (int q = 0, at = 0; q < Q; at += static_cast<int>(l.sequence_taps[q].size()), ++q)
      if (l.sequence_taps[q] == Ints{0}) element_of[body.inputs[at].node().get()] = q;
  const std::size_t first_state_input = sequence_taps.size();
  auto zeros_in_body = [&](const Var& v) {
    for (int c = 0; c < l.constants; ++c)
      if (body_inputs[body_inputs.size() - l.constants + c].same(v))
        return is_zeros(inputs[inputs.size() - l.constants + c]);
    return is_zeros(v);
  };
  std::vector<SunkSum> sunk;
  std::vector<bool> state_sunk(S, false);
  for (int s = 0, at = static_cast<int>(first_state_input); s < S;
       at += static_cast<int>(l.state_taps[s].size()), ++s) {
    const bool last = std::find(last_only.begin(), last_only.end(), s) != last_only.end();
    if (!last || l.state_taps[s] != Ints{-1}) continue;
    if (auto sum = sunk_sum(outputs, s, body_inputs[at], element_of, zeros_in_body)) {
      sunk.push_back(*sum);
      state_sunk[s] = true;
    }
  }
  Ints state_taps, state_counts, kept_last;
  std::vector<Var> kept_outputs, kept_body_inputs(body_inputs.begin(), body_inputs.begin() + first_state_input);
  std::vector<Var> kept_inputs(inputs.begin(), inputs.begin() + (inputs.size() - S - l.constants));
  std::vector<int> state_index(S, -1);
  for (int s = 0, at = static_cast<int>(first_state_input); s < S;
       at += static_cast<int>(l.state_taps[s].size()), ++s) {
    if (state_sunk[s]) continue;
    state_index[s] = static_cast<int>(kept_outputs.size());
    if (std::find(last_only.begin(), last_only.end(), s) != last_only.end()) kept_last.push_back(state_index[s]);
    kept_outputs.push_back(outputs[s]);
    kept_inputs.push_back(inputs[inputs.size() - S - l.constants + s]);
    kept_body_inputs.insert(kept_body_inputs.end(), body_inputs.begin() + at,
                            body_inputs.begin() + at + static_cast<long>(l.state_taps[s].size()));
    state_taps.insert(state_taps.end(), l.state_taps[s].begin(), l.state_taps[s].end());
    state_counts.push_back(static_cast<std::int64_t>(l.state_taps[s].size()));
  }
  const int kept_states = static_cast<int>(kept_outputs.size());
  kept_outputs.insert(kept_outputs.end(), outputs.begin() + S, outputs.begin() + S + maps);
  std::vector<int> sunk_map(sunk.size());
  for (std::size_t i = 0; i < sunk.size(); ++i) {
    auto same = std::find_if(kept_outputs.begin() + kept_states, kept_outputs.end(),
                             [&](const Var& v) { return v.same(sunk[i].d); });
    sunk_map[i] = static_cast<int>(same - kept_outputs.begin());
    if (same == kept_outputs.end()) kept_outputs.push_back(sunk[i].d);
  }
  const int total_maps = static_cast<int>(kept_outputs.size()) - kept_states;
  if (l.until) kept_outputs.push_back(outputs.back());
  kept_inputs.insert(kept_inputs.end(), inputs.end() - l.constants, inputs.end());
  kept_body_inputs.insert(kept_body_inputs.end(), body_inputs.end() - l.constants, body_inputs.end());
  for (int i = 0; i < S; ++i) new_index[i] = state_index[i];
  for (int m = 0; m < l.maps; ++m)
    if (new_index[S + m] >= 0) new_index[S + m] += kept_states - S;
  inputs = std::move(kept_inputs);
  body_inputs = std::move(kept_body_inputs);
  outputs = std::move(kept_outputs);
  last_only = std::move(kept_last);

  Ints exported;
  for (const Export& e : exports_of(scan))  // from an earlier rebuild of this loop
    if (new_index[e.output] >= 0 && state_index[e.state] >= 0)
      exported.insert(exported.end(), {state_index[e.state], e.constant, new_index[e.output]});
  for (std::size_t i = 0; i < exports.size(); ++i)
    exported.insert(exported.end(), {state_index[exports[i].first.state], exports[i].first.constant,
                                     kept_states + kept_maps + static_cast<std::int64_t>(i)});

  Attrs attrs = scan.attrs();
  attrs.set("body", std::shared_ptr<const Subgraph>(std::make_shared<Subgraph>(
                        Subgraph{std::move(body_inputs), std::move(outputs)})));
  attrs.set("sequence_taps", std::move(sequence_taps));
  attrs.set("sequence_tap_counts", std::move(sequence_counts));
  attrs.set("state_taps", std::move(state_taps));
  attrs.set("state_tap_counts", std::move(state_counts));
  attrs.set("last_only", last_only);
  attrs.set("maps", std::int64_t{total_maps});
  attrs.set("exports", std::move(exported));
  if (scan.attrs().has("shared_states")) {  // the states of shared variables, renumbered
    Ints shared;
    for (std::int64_t st : scan.attrs().get_ints("shared_states"))
      if (state_index[st] >= 0) shared.push_back(state_index[st]);
    attrs.set("shared_states", std::move(shared));
  }
  NodePtr node = make_node(ops::scan_op(), std::move(inputs), std::move(attrs), scan.location());
  rebuilt = node;
  if (stats) {
    const int moved = static_cast<int>(sunk.size());
    const auto scatters = static_cast<int>(std::count_if(sunk.begin(), sunk.end(), [](const SunkSum& k) {
      return k.kind == SunkSum::Kind::Scatter;
    }));
    stats->rewrites += hoisted + kept + dropped + moved + static_cast<int>(exports.size());
    if (moved > scatters) stats->fired["sum of products moved after scan"] += moved - scatters;
    if (scatters) stats->fired["sum of scatters moved after scan"] += scatters;
    if (hoisted) stats->fired["hoist product out of scan"] += hoisted;
    if (kept) stats->fired["scan state kept last only"] += kept;
    if (dropped) stats->fired["unread scan output dropped"] += dropped;
    if (!exports.empty()) stats->fired["scan product kept for its gradient"] += static_cast<int>(exports.size());
  }

  // A sunk sum: the initial value plus the product of e's rows and D's stack over the steps
  // run and the batch, or with D's stack added at e's rows.
  std::vector<Var> sums(S);
  for (std::size_t i = 0; i < sunk.size(); ++i) {
    const SunkSum& k = sunk[i];
    const Var stack = node->output(sunk_map[i]);
    const auto& loc = scan.location();
    const Var rows = subtensor(scan.input(1 + k.sequence), {slice(0, stack.shape(0, loc))}, loc);
    const Var initial = scan.input(1 + Q + k.state);
    if (k.kind == SunkSum::Kind::Scatter) {
      sums[k.state] = apply(ops::inc_take_op(), {initial, rows, stack},
                            Attrs{{"axis", std::int64_t{0}}, {"mode", std::string("inc")}}, loc);
      continue;
    }
    Var total = tensordot(rows, stack, {0, 1}, {0, 1}, loc);
    if (k.alpha != 1) total = total * k.alpha;
    sums[k.state] = initial + total;
  }
  Replacements replaced;
  for (int i = 0; i < scan.num_outputs(); ++i) {
    if (i < S && !last_readers[i].empty()) {
      for (const Node* r : last_readers[i])
        replaced.emplace_back(r->output(0), sums[i] ? sums[i] : node->output(new_index[i]));
    } else if (new_index[i] >= 0) {
      replaced.emplace_back(scan.output(i), node->output(new_index[i]));
    }
  }
  return replaced;
}

}  // namespace

std::vector<Var> optimize_scan_loops(const std::vector<Var>& outputs,
                                     const BodyOptimizer& optimize_body, RewriteStats* stats) {
  // One loop at a time, outermost graph first: rebuilding one changes the graph the next
  // one's readers are read from.
  std::vector<Var> current = outputs;
  std::vector<NodePtr> done;  // rebuilt loops (held, so that their addresses stay theirs)
  auto is_done = [&](const Node* n) {
    return std::any_of(done.begin(), done.end(), [&](const NodePtr& d) { return d.get() == n; });
  };
  for (;;) {
    const Node* next = nullptr;
    for (const Node* n : topo_sort(current))
      if (&n->op() == &ops::scan_op() && !is_done(n)) {
        next = n;
        break;
      }
    if (!next) return current;
    const std::vector<const Node*> graph = topo_sort(current);
    // Lookups first: the rebuilt node, not done yet, comes next, its products of the looked-up
    // elements hoisted as those of any sequence's.
    if (NodePtr lifted = hoist_lookups(*next, {graph.begin(), graph.end()}, stats)) {
      Replacements replaced;
      for (int i = 0; i < next->num_outputs(); ++i)
        replaced.emplace_back(next->output(i), lifted->output(i));
      current = clone_replace(current, replaced);
      continue;
    }
    std::vector<const Node*> loops;
    for (const Node* n : graph)
      if (&n->op() == &ops::scan_op()) loops.push_back(n);
    NodePtr rebuilt;
    Replacements replaced = rebuild(*next, Readers(current), loops, optimize_body, stats, rebuilt);
    // A sunk sum may know more of its shape than the scan_last it replaces.
    current = clone_replace(current, replaced, /*strict=*/false);
    done.push_back(std::move(rebuilt));
  }
}

}  // namespace cgvm
