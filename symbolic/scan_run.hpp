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
// body itself.
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

// Runs the scan `node` on its input values, calling `step` once per step; returns the
// node's outputs. Histories and stacks are allocated on `context`'s device (the host when
// it is nullptr); initial values elsewhere are copied there.
std::vector<Array> run_scan(const Node& node, std::span<const Array> inputs, const ScanStep& step,
                            const std::shared_ptr<DeviceContext>& context = nullptr);

}  // namespace cgvm
