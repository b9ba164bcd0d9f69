#pragma once
// ifelse_branches: the pipeline's rewrites inside the branches of ifelse nodes
// (symbolic/ifelse.hpp). A compiled function runs the branch the condition picks as kernels
// (codegen/program.hpp: a branch step), so its graph deserves what the outer graph gets:
// each branch goes through `optimize_branch` (the pipeline's rewrites, this pass and
// scan_loops included, so ifelse inside branches and loops too). A branch's placeholders
// stay its inputs; the node is rebuilt with the optimized branches and the graph after it
// with it. Runs after scan_loops, before the outer graph's rewrites.
#include <vector>

#include "optimizer/rewrite.hpp"
#include "optimizer/scan_loops.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

// `stats` counts the ifelse nodes rebuilt (fired["ifelse branches"]).
std::vector<Var> optimize_ifelse_branches(const std::vector<Var>& outputs,
                                          const BodyOptimizer& optimize_branch,
                                          RewriteStats* stats = nullptr);

}  // namespace cgvm
