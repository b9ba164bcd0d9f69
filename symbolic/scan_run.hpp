#pragma once
// Running a scan node: the loop itself, shared by the interpreter (which evaluates the body
// graph at each step) and the executor (which runs the body's compiled Program).
//
// The driver owns everything but the body: the number of steps and its checks, each
// state's history (its initial rows, then one row per step; with `last_only`, a ring just
// deep enough for the taps), the stacks of map outputs, the stop condition, and the
// results. Each step it hands the body its inputs (views: sequence rows, history rows, the
// constants) and, per body output, the row that output must end up in. A body that writes
// its results straight into those rows costs no copy; a body that returns other arrays is
// copied from (with the shape checked first). Nothing is allocated per step except by the
// body itself. A caller that can run many steps at once (the executor on a device, which
// replays a recorded step) is offered the steps after the first, with every step's rows.
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "runtime/array.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

// One step: `inputs` are the values of the body's inputs (Subgraph::inputs order); `into[i]`
// is where body output i goes (nullptr: no place yet, e.g. a map output before the first
// step has shown its shape, or the stop condition). Returns the body's outputs.
using ScanStep = std::function<std::vector<Array>(const std::vector<Array>& inputs,
                                                  const std::vector<const Array*>& into)>;

// What step t reads and writes, as run_scan hands it to `step`: `inputs` are the body's
// inputs (the first `per_step` of them rows of the sequences and histories, which change
// with t; the constants after them do not), `places` the rows the state outputs, then the
// map outputs, go to.
struct ScanRows {
  std::vector<Array> inputs;
  std::vector<Array> places;
};

// Runs steps [first, n) in place of one `step` call each, or returns false having run
// nothing. `rows(t)` gives step t's rows; `per_step` counts the inputs that change with t.
// Offered after the first step (every place is known then) of a loop of known length.
using ScanSteps = std::function<bool(std::int64_t first, std::int64_t n, int per_step,
                                     const std::function<ScanRows(std::int64_t t)>& rows)>;

// Runs the scan `node` on its input values, calling `step` once per step (or, where
// `rest` takes them, `step` for the first and `rest` for the others); returns the node's
// outputs. Histories and stacks are allocated on `context`'s device (the host when it is
// nullptr), initial values elsewhere copied there, except the histories of the states
// whose node input `on_host` marks (by node input index; such a state is read and made
// only on the host each step, as a random draw's generator state is).
std::vector<Array> run_scan(const Node& node, std::span<const Array> inputs, const ScanStep& step,
                            const std::shared_ptr<DeviceContext>& context = nullptr,
                            const ScanSteps& rest = nullptr,
                            const std::vector<char>& on_host = {});

// Where the body of the scan `node` gets its values: for each body input (Subgraph
// order), the index of the node input it is (a constant) or a row of (a sequence tap, a
// state tap); for each body output, the node input of the state it carries (-1: a map
// output or the stop condition).
struct ScanSources {
  std::vector<int> inputs, outputs;
};
ScanSources scan_sources(const Node& node);

}  // namespace cgvm
