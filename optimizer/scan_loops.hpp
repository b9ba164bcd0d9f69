#pragma once
// scan_loops: the optimizer's work on scan loops (symbolic/scan.hpp). It runs first in the
// pipeline: after every gradient has been taken (the rewritten loops have no gradient), and
// before the outer graph's rewrites change the forms it looks for.
//
//  - Save memory: a state whose stack is read only through scan_last (what folds return,
//    and BPTT's running sums of the weights' gradients) keeps its last value only. The loop
//    then writes a ring of depth + 1 rows instead of one row per step, and the node's output
//    is that value.
//  - Hoist: a product of a sequence's element by a matrix the loop does not change
//    (x_t @ W, the input projection of a recurrent net; h_{t-1} @ W in BPTT, where the
//    states are a sequence) becomes one product over the whole sequence before the loop,
//    one GEMM instead of one per step, read by the body as a new sequence. So does a lookup
//    of a sequence's element in a table the loop does not change (take(E, ids_t), an
//    embedding inside the step), where the loop reads every element or the graph already
//    looks them all up (BPTT's): one gather, no indices read per step (a device loop can
//    then replay its step), and its products by a matrix hoisted in turn.
//  - A product of a state by a weight (h_{t-1} @ W) that another loop multiplies the state's
//    history by again (BPTT recomputing the forward step) is stacked by the forward loop as
//    a map output, and the other loop reads that stack instead of multiplying.
//  - Sums over the steps of e_t^T @ D_t with e_t a sequence's element (BPTT's weight
//    gradients) leave the loop: D_t is stacked, the sum is one product after the loop. So do
//    sums of inc_take(zeros, e_t, D_t) (BPTT's gradient of an embedding table): one inc_take
//    of the stack after the loop instead of a whole zero table and its sum at every step.
//  - Map outputs nothing reads are dropped (BPTT's gradients of the sequences, when only
//    the weights' are asked for).
//  - The body goes through `optimize_body` (the pipeline's rewrites, this pass included, so
//    nested loops too). Fusion and lowering of the body happen with the outer graph's
//    (codegen/lower.hpp).
#include <functional>
#include <vector>

#include "optimizer/rewrite.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

using BodyOptimizer = std::function<std::vector<Var>(const std::vector<Var>&)>;

// `stats` counts each of those rewrites (by name in `fired`).
std::vector<Var> optimize_scan_loops(const std::vector<Var>& outputs,
                                     const BodyOptimizer& optimize_body,
                                     RewriteStats* stats = nullptr);

}  // namespace cgvm
