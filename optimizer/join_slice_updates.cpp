#include "optimizer/join_slice_updates.hpp"

#include <algorithm>
#include <optional>

#include "symbolic/op_list.hpp"
#include "symbolic/ops/index_detail.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace rules;
using index_detail::Entry;

bool is_whole(const Entry& e) {
  return e.kind == index_detail::entry_slice &&
         (e.start == index_detail::slot_none || e.start == 0) &&
         e.stop == index_detail::slot_none && e.step == 1;
}

// An update of zeros Z in one slice [start, stop) of one axis: inc_subtensor(Z, value, entries).
struct SliceUpdate {
  Var base, value;
  std::vector<Entry> entries;  // all whole but the axis's
  int axis = -1;
  std::int64_t start = 0, stop = 0;
};

// `v` as a SliceUpdate, or nothing (see the header for the conditions).
std::optional<SliceUpdate> slice_update(const Var& v) {
  if (!is_op(v, ops::inc_subtensor_op()) || v.node()->inputs().size() != 2) return std::nullopt;
  const Node& n = *v.node();
  const Var &base = n.input(0), &y = n.input(1);
  if (!is_zeros(base) || y.rank() != base.rank() || y.dtype() != base.dtype()) return std::nullopt;
  SliceUpdate u{base, y, index_detail::decode(n.attrs())};
  for (int j = 0; j < static_cast<int>(u.entries.size()); ++j) {
    const Entry& e = u.entries[j];
    if (e.kind != index_detail::entry_slice) return std::nullopt;
    if (is_whole(e)) continue;
    const std::int64_t start = e.start == index_detail::slot_none ? 0 : e.start;
    if (u.axis >= 0 || e.step != 1 || !index_detail::is_static(start) ||
        !index_detail::is_static(e.stop) || start < 0 || e.stop <= start)
      return std::nullopt;
    u.axis = j;
    u.start = start;
    u.stop = e.stop;
  }
  if (u.axis < 0) return std::nullopt;
  // y fills the region exactly: its length along the axis is the slice's (or known only at
  // run time, when the update checks it against the region's), and it stretches along no
  // other axis. A static length 1 could stretch over an empty region: only where the axis is
  // known to be long enough.
  const Shape &ys = y.static_shape(), &bs = base.static_shape();
  if (ys[u.axis] != unknown_dim && ys[u.axis] != u.stop - u.start) return std::nullopt;
  if (ys[u.axis] == 1 && (bs[u.axis] == unknown_dim || bs[u.axis] < u.stop)) return std::nullopt;
  for (int j = 0; j < y.rank(); ++j)
    if (j != u.axis && ys[j] == 1 && bs[j] != 1) return std::nullopt;
  return u;
}

// Two updates of the same zeros, sliced along the same axis.
bool same_frame(const SliceUpdate& a, const SliceUpdate& b) {
  return a.base.same(b.base) && a.axis == b.axis;
}

// The terms of a tree of adds, left to right.
void collect_terms(const Var& v, std::vector<Var>& terms) {
  if (is_op(v, ops::add_op())) {
    collect_terms(v.node()->input(0), terms);
    collect_terms(v.node()->input(1), terms);
  } else {
    terms.push_back(v);
  }
}

// The parts of `v` as a concatenate along `axis` (itself when it is not one).
void append_parts(const Var& v, int axis, std::vector<Var>& parts) {
  if (is_op(v, ops::concatenate_op()) && v.node()->attrs().get_int("axis") == axis) {
    for (const Var& p : v.node()->inputs()) parts.push_back(p);
  } else {
    parts.push_back(v);
  }
}

// Z's slice [from, to) along the update's axis (to: slot_none for the end), a view of zeros.
Var zeros_slice(const SliceUpdate& u, std::int64_t from, std::int64_t to,
                const std::source_location& loc) {
  std::vector<Entry> entries = u.entries;
  entries[u.axis] = Entry{index_detail::entry_slice, from, to, 1};
  Ints kinds, values;
  index_detail::encode(entries, kinds, values);
  return apply(ops::subtensor_op(), {u.base}, Attrs{{"kinds", kinds}, {"values", values}}, loc);
}

// The values of updates whose slices meet, first to last, padded with Z's own zeros before
// and after: concatenate(Z[:start], values..., Z[stop:]). Where the axis is known to end at
// the last slice's stop, nothing follows.
Var padded(const std::vector<const SliceUpdate*>& run, const std::source_location& loc) {
  const SliceUpdate& first = *run.front();
  const std::int64_t stop = run.back()->stop, size = first.base.static_shape()[first.axis];
  std::vector<Var> parts;
  if (first.start > 0) parts.push_back(zeros_slice(first, 0, first.start, loc));
  for (const SliceUpdate* u : run) append_parts(u->value, first.axis, parts);
  if (size == unknown_dim || size > stop)
    parts.push_back(zeros_slice(first, stop, index_detail::slot_none, loc));
  return concatenate(parts, first.axis, loc);
}

// inc_subtensor(Z, a, [i:j]) + inc_subtensor(Z, b, [j:k]) -> concatenate(Z[:i], a, b, Z[k:]),
// over a whole + chain: updates whose slices meet are joined; the other terms keep their
// order and the joined values follow them.
Var join_updates(const Match& m) {
  if (m.only_feeds(m.node().output(0), {&ops::add_op()})) return {};  // the chain's root does it
  std::vector<Var> terms;
  collect_terms(m.node().output(0), terms);
  std::vector<SliceUpdate> updates;
  std::vector<Var> sum;
  for (const Var& t : terms) {
    if (auto u = slice_update(t)) updates.push_back(std::move(*u));
    else sum.push_back(t);
  }
  if (updates.empty()) return {};
  std::stable_sort(updates.begin(), updates.end(),
                   [](const SliceUpdate& a, const SliceUpdate& b) { return a.start < b.start; });
  std::vector<bool> used(updates.size(), false);
  const auto& loc = m.node().location();
  for (std::size_t i = 0; i < updates.size(); ++i) {
    if (used[i]) continue;
    std::vector<const SliceUpdate*> run{&updates[i]};
    for (std::size_t k = i + 1; k < updates.size(); ++k)
      if (!used[k] && updates[k].start == run.back()->stop && same_frame(updates[i], updates[k])) {
        used[k] = true;
        run.push_back(&updates[k]);
      }
    sum.push_back(padded(run, loc));
  }
  Var total = sum[0];
  for (std::size_t i = 1; i < sum.size(); ++i) total = m.make(ops::add_op(), {total, sum[i]});
  return total;
}

// inc_subtensor(Z, y, [i:k]) -> concatenate(Z[:i], y, Z[k:]): each element written once,
// where the update copies Z and then adds y. An update in a sum is left to the sum's root.
Var pad_update(const Match& m) {
  const Var self = m.node().output(0);
  if (m.only_feeds(self, {&ops::add_op()})) return {};
  auto u = slice_update(self);
  if (!u) return {};
  return padded({&*u}, m.node().location());
}

}  // namespace

std::vector<Rule> join_slice_updates_rules() {
  return {
      // inc_subtensor(Z, a, [i:j]) + inc_subtensor(Z, b, [j:k]) -> concatenate(Z[:i], a, b, Z[k:])
      {"slice updates of zeros + -> concatenate", op("add", {x, y}), join_updates},
      // inc_subtensor(Z, y, [i:k]) -> concatenate(Z[:i], y, Z[k:])
      {"slice update of zeros -> concatenate", node("inc_subtensor"), pad_update},
  };
}

}  // namespace cgvm
