#pragma once
// The optimizer pipeline: the one place that orders the passes (DESIGN.md §1, §8).
//
//   scan_loops    first, while the graph is as grad() built it: loops keep last values only
//                 where nothing else is read, hoist input projections, and their bodies go
//                 through the passes below (optimizer/scan_loops.hpp)
//   ifelse_branches  each ifelse branch through the same passes, loops and branches
//                 inside it too (optimizer/ifelse_branches.hpp): a compiled function runs
//                 the picked branch as kernels
//   canonicalize  constant folding, algebraic identities, canonical +/* chains, cancelling
//                 fractions, shape-op simplification, sums of slice updates of zeros ->
//                 concatenate (join_slice_updates.hpp) (one rewrite walk: each rule can enable
//                 the others)
//   stabilize     numerically safe forms (log1p, softplus, log_softmax, max shifts); after
//                 canonicalize, so that its patterns meet one spelling of each expression
//   canonicalize  again, for what stabilizing exposed (constants to fold, x+0...)
//   specialize    products with their scale and addend -> gemm; once, on the final canonical
//                 form (its patterns read canonical chains), and before fusion, which would
//                 otherwise take the adds into kernels
//   fuse_kernels  last: passes after it could not see inside kernels
//
// Dead code needs no pass: every pass rebuilds only what the requested outputs and updates
// reach, so anything else is simply not in the result.
//
// With a dump directory (options().dump_dir, CGVM_DUMP), the graph after each pass is
// written there as `<function>.<NN>-<pass>.txt`. In debug builds (or with
// PipelineOptions::check), the outputs are checked after every pass: same count, same dtype
// and rank, no lost broadcast. (Types and acyclicity of the nodes inside need no check:
// make_node infers every type, and immutable nodes can only refer to older ones.)
#include <string>
#include <vector>

#include "optimizer/fuse_kernels.hpp"
#include "optimizer/rewrite.hpp"

namespace cgvm {

struct PassReport {
  std::string name;
  double ms = 0;
  bool changed = false;  // some output is a different node afterwards
  RewriteStats stats;
};

struct OptimizedGraph {
  std::vector<Var> outputs;  // the rewritten outputs, in the same order
  FusionPlan fusion;
  std::vector<PassReport> passes;
};

struct PipelineOptions {
  std::string dump_dir;  // empty: no dumps
  std::string name;      // the function's name, for dump file names
  bool check = false;     // check outputs between passes (always on in debug builds)
  bool rewrite = true;   // false: fusion only (the graph as written)
};

OptimizedGraph optimize(const std::vector<Var>& outputs, const PipelineOptions& options = {});

// The passes by name, each alone (for tests and tools): "canonicalize", "stabilize",
// "specialize".
std::vector<Var> run_pass(std::string_view name, const std::vector<Var>& outputs,
                          RewriteStats* stats = nullptr);

// Writes `text` to `<dir>/<name>.<file>` (the dump format of the whole library); a failure to
// write is reported once, as a warning, never as an error.
void write_dump(const std::string& dir, const std::string& name, const std::string& file,
                const std::string& text);

}  // namespace cgvm
