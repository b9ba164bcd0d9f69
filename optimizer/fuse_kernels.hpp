#pragma once
// Fusion: which nodes of a graph run together as one loop kernel.
//
// A kernel is a loop nest over "loop dims". Every value inside it, and every operand it
// reads, names for each of its axes the loop dim that axis walks (or -1: a static size-1
// axis, read at index 0). Elementwise ops keep their output's dims; dimshuffle permutes
// them (a transpose is index arithmetic, not a copy); a reduction adds the dims it reduces.
// All reductions of one kernel reduce the same dims, the kernel's `reduced` dims: the kernel
// loops over the other dims outside and makes one pass over the reduced dims per reduction,
// then a last pass for the values that need the reductions (softmax over rows: max, sum of
// exp, then the quotient: one kernel, three passes over each row).
//
// The rule is greedy, consumers first: a fusible node joins the kernel of its consumers when
// all of them are in one kernel and the dims agree; otherwise it starts a kernel. Because a
// node only joins when every consumer is inside, fusing never creates a cycle between
// kernels. Fusion runs last in the pipeline: passes after it cannot see inside kernels.
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

struct FusedKernel {
  std::vector<const Node*> nodes;  // topological order
  int num_dims = 0;
  std::vector<int> reduced;  // the dims the reductions run over; empty: a map kernel
  // Loop dims of each axis: of every node's output, and of every input of every node.
  std::unordered_map<const Node*, std::vector<int>> output_dims;
  std::unordered_map<const Node*, std::vector<std::vector<int>>> input_dims;
};

struct FusionPlan {
  std::vector<FusedKernel> kernels;
  std::unordered_map<const Node*, int> kernel_of;  // the nodes that run inside a kernel
  // Why a node does not run in the kernel of its readers, in words: not a loop op, read by
  // a step outside kernels, readers in two kernels, or the join would break the kernel.
  std::unordered_map<const Node*, std::string> apart;
};

// Whether `node` can run inside a loop kernel at all.
bool is_fusible(const Node& node);

FusionPlan fuse_kernels(std::span<const Var> outputs);

}  // namespace cgvm
