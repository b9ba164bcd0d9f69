#pragma once
// The optimizer pipeline: the one place that orders the passes (DESIGN.md §1, §8).
//
//   graph rewrites (Graph -> Graph; the optimizer issue adds canonicalize, stabilize,
//   specialize here, in this order)  ->  fuse_kernels (last: later passes could not see
//   inside kernels)
//
// With a dump directory (options().dump_dir, CGVM_DUMP), the graph after each stage is
// written there as `<function>.<NN>-<stage>.txt`.
#include <string>
#include <vector>

#include "optimizer/fuse_kernels.hpp"

namespace cgvm {

struct OptimizedGraph {
  std::vector<Var> outputs;  // the rewritten outputs, in the same order
  FusionPlan fusion;
};

struct PipelineOptions {
  std::string dump_dir;  // empty: no dumps
  std::string name;      // the function's name, for dump file names
};

OptimizedGraph optimize(const std::vector<Var>& outputs, const PipelineOptions& options = {});

// Writes `text` to `<dir>/<name>.<file>` (the dump format of the whole library); a failure to
// write is reported once, as a warning, never as an error.
void write_dump(const std::string& dir, const std::string& name, const std::string& file,
                const std::string& text);

}  // namespace cgvm
