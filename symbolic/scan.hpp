#pragma once
// scan(): a loop of run-time length as one node of the graph, with Theano's semantics.
//
//   // h_t = tanh(x_t @ W + h_{t-1} @ U): the stacked states of all steps
//   Var hs = scan([&](const std::vector<Var>& v) { return tanh(dot(v[0], W) + dot(v[1], U)); },
//                 {.sequences = {xs}, .outputs_info = {h0}})[0];
//
// The step function is called once, at build time, on placeholders; what it returns is the
// loop's body, a graph kept inside the Scan node. Its arguments, in order: for each
// sequence, one slice per tap; for each recurrent output, one value per tap; then the
// non-sequences (and nothing for outputs without state).
//
// - Sequences are walked along their first axis. A tap k reads the element k steps after the
//   current one (taps {-1, 0, 1}: the previous, current and next element), also walking
//   backwards; as in Theano the current element always counts, so a sequence gives
//   len - (max(taps, 0) - min(taps, 0)) steps. Several sequences must give the same number.
// - Recurrent outputs (outputs_info) carry state: with taps {-1} (the default) the initial
//   value is the state before step 0; with deeper taps ({-3, -1}) it holds that many steps
//   (its first axis is 3, oldest first). A null initial value makes an output without state
//   (a map output). Each output is the stack of its values at every step executed.
// - Non-sequences are passed to every step. A value of the outer graph that the body uses
//   without declaring it (a weight, a shared variable) is captured the same way, once: work
//   that does not depend on the loop runs before it, not at every step. With `strict`, such a
//   value is an error naming it instead.
// - n_steps: a static or symbolic number of steps (required without sequences); with
//   sequences, at most what they give. go_backwards walks the sequences from their end.
// - until: a step function that also returns a stop condition (StepResult{outputs, cond})
//   makes a while loop: the loop stops after the first step whose condition is true; the
//   outputs then hold the steps executed, and n_steps (or the sequences) is the bound.
//
// Mistakes (sequences of different lengths, an initial state whose shape or dtype differs
// from what the step returns, taps deeper than the initial value, a negative n_steps) raise a
// cgvm::Error naming the scan and the user's line.
//
// Gradients (grad, Lop) flow through scan by backpropagation through time: a second scan
// that runs the body's gradient from the last executed step to the first (so a while loop's
// gradient covers the steps it ran), carrying the gradients of the state rows later steps
// read; truncate_gradient limits how far back it goes. Grad of grad works the same way.
//
// Compiled functions run the loop natively (optimizer/scan_loops.hpp, codegen/program.hpp):
// the body is optimized and fused like any graph, its kernels write each step's results
// straight into the rows of the stacked outputs, products of a sequence element by a fixed
// matrix run once for all steps before the loop, states only read as their last value keep
// no history, and BPTT's weight gradients become one product after the loop.
//
// Shared state inside the step: random draws (RandomStreams) draw fresh numbers at every
// step, and a step may update shared variables (StepResult::updates: each step sees the
// value the previous one set). Each such variable (a draw's generator state, an updated
// variable) is a hidden state of the loop, and function() writes its value after the last
// step back (scan_shared_updates), as it does for draws outside loops; an explicit update
// of the same variable in function() wins. BPTT recomputes a step's draws from the same
// generator state, so a dropout mask is the same forward and backward.
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "symbolic/args.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

struct Sequence {
  Var value;
  std::vector<int> taps{0};
  Sequence(Var v) : value(std::move(v)) {}  // NOLINT: a Var is a sequence with tap 0
  Sequence(Var v, std::vector<int> t) : value(std::move(v)), taps(std::move(t)) {}
};

struct Recurrence {
  Var initial;  // null: an output without state
  std::vector<int> taps{-1};
  Recurrence(Var init) : initial(std::move(init)) {}  // NOLINT: a Var is its initial state
  Recurrence(Var init, std::vector<int> t) : initial(std::move(init)), taps(std::move(t)) {}
};

struct ScanOptions {
  std::vector<Sequence> sequences;
  std::vector<Recurrence> outputs_info;
  std::vector<Var> non_sequences;
  std::optional<Dim> n_steps;
  bool go_backwards = false;
  // Backpropagation through the last this many steps only (-1: all); gradients do not reach
  // earlier steps nor, when it cuts, the initial states.
  int truncate_gradient = -1;
  bool strict = false;  // outer values used in the body must be non-sequences
  std::string name;     // for errors and printing
};

// What a step returns: one value per recurrent output (in outputs_info order; a step of a
// scan without outputs_info returns its map outputs), and optionally a stop condition.
struct StepResult {
  std::vector<Var> outputs;
  Var until;
  // Shared variables the step updates, with their new values (Theano's updates from a scan
  // step): the next step reads the new value; the last one's is written back after the call.
  Replacements updates;
  StepResult(Var v) : outputs{std::move(v)} {}  // NOLINT
  StepResult(std::vector<Var> v) : outputs(std::move(v)) {}  // NOLINT
  StepResult(std::vector<Var> v, Var stop) : outputs(std::move(v)), until(std::move(stop)) {}
};

// The step's arguments (see the top of this file). Reading past the last one is an Error
// listing what the step gets, not undefined behaviour.
class StepArgs {
 public:
  StepArgs(std::vector<Var> args, std::vector<std::string> what, std::string scan)
      : args_(std::move(args)), what_(std::move(what)), scan_(std::move(scan)) {}
  const Var& operator[](std::size_t i) const;
  std::size_t size() const { return args_.size(); }
  auto begin() const { return args_.begin(); }
  auto end() const { return args_.end(); }
  operator const std::vector<Var>&() const { return args_; }  // NOLINT: for vector steps

 private:
  std::vector<Var> args_;
  std::vector<std::string> what_;  // "sequence 0, tap 0" ... per argument
  std::string scan_;
};

using StepFunction = std::function<StepResult(const StepArgs&)>;

// The stacked outputs, one per entry of outputs_info (or per value the step returns when
// outputs_info is empty).
std::vector<Var> scan(const StepFunction& step, const ScanOptions& options,
                      std::source_location loc = std::source_location::current());

// The shared variables `node` (a scan) advances (draws' generator states, the step's
// updates): per variable, its value after the last step. function() adds these updates
// unless the user updates the variable.
std::vector<std::pair<Var, Var>> scan_shared_updates(const Node& node);

// Built on scan: fn over the elements of the sequences (stacked results); a fold of the
// sequences into `initial` from the first element (foldl, also reduce) or the last (foldr),
// returning the final accumulator.
std::vector<Var> map(const StepFunction& fn, const std::vector<Var>& sequences,
                     const std::vector<Var>& non_sequences = {},
                     std::source_location loc = std::source_location::current());
Var foldl(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
          const std::vector<Var>& non_sequences = {},
          std::source_location loc = std::source_location::current());
Var foldr(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
          const std::vector<Var>& non_sequences = {},
          std::source_location loc = std::source_location::current());
Var reduce(const StepFunction& fn, const std::vector<Var>& sequences, const Var& initial,
           const std::vector<Var>& non_sequences = {},
           std::source_location loc = std::source_location::current());

}  // namespace cgvm
