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
// replays a recorded step) is offered the steps after the first, with every step's rows;
// those of a while loop in chunks of growing size, its condition read once per chunk.
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

// Steps [first, last) of a loop, offered to a caller that can run many at once: `rows(t)`
// gives step t's rows, the first `per_step` inputs of which change with t. A while loop
// (`until`) stops after the step whose condition holds; it offers its steps in chunks,
// each read back before the next, of at most `most` steps.
struct ScanChunk {
  std::int64_t first = 0, last = 0;
  bool until = false;
  std::int64_t most = 0;
  int per_step = 0;
  std::function<ScanRows(std::int64_t t)> rows;
};

// What a caller did with a chunk: ran its first `steps` (-1: none, having run nothing;
// then `step` runs them and the loop's later steps), the last of them a while loop's final
// step when `stopped`.
struct ScanChunkRun {
  std::int64_t steps = -1;
  bool stopped = false;
};

// Runs a chunk's steps in place of one `step` call each. Offered once the first step has
// run (every place is known then).
using ScanSteps = std::function<ScanChunkRun(const ScanChunk&)>;

// Runs the scan `node` on its input values, calling `step` once per step (or, where
// `rest` takes them, `step` for the first and `rest` for the others); returns the node's
// outputs. Histories and stacks are allocated on `context`'s device (the host when it is
// nullptr), initial values elsewhere copied there. A while loop offers `rest` chunks as
// long as the steps run so far (4 to 64 of them), or first one up to step `expected` (the
// steps it is expected to run, e.g. as many as it ran last time; 0: unknown).
std::vector<Array> run_scan(const Node& node, std::span<const Array> inputs, const ScanStep& step,
                            const std::shared_ptr<DeviceContext>& context = nullptr,
                            const ScanSteps& rest = nullptr, std::int64_t expected = 0);

}  // namespace cgvm
