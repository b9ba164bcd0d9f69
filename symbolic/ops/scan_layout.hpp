#pragma once
// What scan's node says (its attributes, read once) and the helpers its forward pass
// (symbolic/ops/scan.cpp), its loop (scan_run.cpp) and its gradient (scan_grad.cpp) share.
// Beyond those files, only the optimizer's loop pass (optimizer/scan_loops.cpp) reads it.
#include <fmt/format.h>

#include <algorithm>
#include <source_location>
#include <string>
#include <vector>

#include "symbolic/op_def.hpp"

namespace cgvm::scan_detail {

// What the attrs say, read once.
struct Layout {
  std::vector<Ints> sequence_taps, state_taps;
  int maps = 0, constants = 0;
  bool n_steps_given = false, go_backwards = false, until = false;
  std::int64_t truncate_gradient = -1;
  std::string name;
  // States whose output is only their last value (the save-memory rewrite of
  // optimizer/scan_loops.hpp): the node's output is that value, not the stack of all steps,
  // and the loop keeps a ring of rows just deep enough for the taps.
  Ints last_only;

  explicit Layout(const Attrs& a)
      : sequence_taps(unflatten(a.get_ints("sequence_taps"), a.get_ints("sequence_tap_counts"))),
        state_taps(unflatten(a.get_ints("state_taps"), a.get_ints("state_tap_counts"))),
        maps(static_cast<int>(a.get_int("maps"))),
        constants(static_cast<int>(a.get_int("constants"))),
        n_steps_given(a.get_bool("n_steps_given")),
        go_backwards(a.get_bool("go_backwards")),
        until(a.get_bool("until")),
        truncate_gradient(a.get_int("truncate_gradient")),
        name(a.get_string("name")),
        last_only(a.has("last_only") ? a.get_ints("last_only") : Ints{}) {}

  int sequences() const { return static_cast<int>(sequence_taps.size()); }
  int states() const { return static_cast<int>(state_taps.size()); }
  bool keeps_last_only(int state) const {
    return std::find(last_only.begin(), last_only.end(), state) != last_only.end();
  }
  // As in Theano, the current element (tap 0) always counts: a sequence's taps span from
  // lo = min(taps, 0) to hi = max(taps, 0), and it gives length - (hi - lo) steps.
  static std::int64_t lo(const Ints& taps) { return std::min<std::int64_t>(taps.front(), 0); }
  static std::int64_t hi(const Ints& taps) { return std::max<std::int64_t>(taps.back(), 0); }
  static std::int64_t steps_of(std::int64_t length, const Ints& taps) {
    return length - (hi(taps) - lo(taps));
  }
  // The element step t reads for tap k: t + k - lo walking forward; walking backwards the
  // steps go from the end, and tap k is still k elements after the current one.
  static std::int64_t element(std::int64_t t, std::int64_t k, const Ints& taps,
                              std::int64_t length, bool backwards) {
    return backwards ? length - 1 - hi(taps) - t + k : t + k - lo(taps);
  }
  // How many past steps a state's initial value holds.
  static std::int64_t depth(const Ints& taps) { return -taps.front(); }
  // A state with the single tap -1 starts from one value; deeper taps from a stack of them.
  static bool stacked(const Ints& taps) { return !(taps.size() == 1 && taps[0] == -1); }

  static std::vector<Ints> unflatten(const Ints& flat, const Ints& counts) {
    std::vector<Ints> out;
    std::size_t at = 0;
    for (std::int64_t c : counts) {
      out.emplace_back(flat.begin() + at, flat.begin() + at + c);
      at += c;
    }
    return out;
  }
};

inline std::string scan_label(const std::string& name) {
  return name.empty() ? "scan" : fmt::format("scan '{}'", name);
}

inline Shape without_first(const Shape& s) { return Shape(s.begin() + 1, s.end()); }
inline Shape with_first(std::int64_t n, const Shape& s) {
  Shape out{n};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

// The last row of a scan's stacked state, or its initial value when no step ran: a
// scan_last node, so that the optimizer sees which states are read only there.
Var final_state(const Var& stacked, const Var& initial, const std::source_location& loc);
std::vector<Var> grad_scan_last(const GradArgs& a);

// Backpropagation through time (scan_grad.cpp).
std::vector<Var> grad_scan(const GradArgs& a);

}  // namespace cgvm::scan_detail
