#pragma once
// Program: what a compiled function does, step by step, lowered from the optimized graph.
//
// Values are numbered; a step reads values and defines values. Three kinds of step:
//  - a loop kernel (generated C++, one function per kernel in the function's translation
//    unit): fused elementwise ops, reductions and dimshuffles over strided operands;
//  - an eval: the op's reference implementation, called on Arrays. matmul's is the BLAS
//    call; shape ops return views; the rest (indexing, concatenate, random...) run exactly
//    as in the interpreter;
//  - a scan loop: the scan node's body lowered to a Program of its own (its kernels in the
//    same translation unit), run once per step by the loop of symbolic/scan_run.hpp, its
//    results written straight into the rows of the stacked outputs;
//  - a branch: an ifelse node's two branches, each lowered to a Program of its own the
//    same way; the executor reads the condition and runs the one it picks.
// The buffer plan gives each kernel result that is not a function output a slot: a buffer
// kept between calls and shared by values whose lifetimes do not overlap, or taken over from
// an operand that dies at that step (in place).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

// One operand or result of a loop kernel: a value and the loop dim of each of its axes
// (-1: a static size-1 axis, read at index 0).
struct KernelArg {
  int value = -1;
  std::vector<int> dims;
  const Node* reader = nullptr;  // the node that reads it (for errors); results: the producer
};

struct LoopKernel {
  std::string name;  // the generated function's name
  int num_dims = 0;
  // Loop order: `outer` dims outside (the first one split across threads), `inner` dims in
  // each pass. A map kernel's inner dim is its last loop dim.
  std::vector<int> outer, inner;
  bool reduces = false;  // inner dims are reduced (one pass per reduction)
  std::vector<std::int64_t> static_size;  // per dim; -1 when known only at run time
  std::vector<KernelArg> operands, results;
  std::vector<const Node*> nodes;        // topological order
  std::vector<std::vector<int>> dims;    // per node: the loop dims of its output's axes
  // Per node, per input: the index of the node that computes it (>= 0), or -1 - the
  // operand that holds it.
  std::vector<std::vector<int>> sources;
  // Reductions without an identity (max, min): an empty inner extent is an error.
  std::vector<const Node*> need_elements;
};

struct Step {
  enum class Kind { Kernel, Eval, Loop, Branch } kind = Kind::Eval;
  int kernel = -1;             // Kernel: index into Program::kernels
  int loop = -1;               // Loop: index into Program::loops; Branch: its then
                               // branch there, the else branch next
  const Node* node = nullptr;  // Eval, Loop (the scan node)
  std::vector<int> inputs, outputs;
};

// "kernel", "eval", "loop" or "branch", as listings name them.
std::string_view step_kind_name(Step::Kind kind);

struct ScanLoop;

struct Program {
  std::vector<Var> values;                 // value id -> the Var it holds
  std::vector<int> inputs;                 // value ids of the function's inputs, in order
  std::vector<int> outputs;                // value ids of the function's results, in order
  std::vector<std::pair<int, Var>> sources;  // constants and shared variables to bind
  std::vector<LoopKernel> kernels;
  std::vector<Step> steps;
  std::vector<ScanLoop> loops;
  // Kernels of all programs of a function (nested loop bodies included) share one table,
  // numbered depth first: this program's kernel i is entry kernel_base + i.
  int kernel_base = 0;

  // The buffer plan: slot of each value (-1: not a slot value), and after which step each
  // value is dead (its last reader; values[...] may then be released).
  std::vector<int> slot;
  int num_slots = 0;
  std::vector<int> last_use;  // step index; steps.size() for values that outlive the call
  // Steps after which each value can be released (the inverse of last_use).
  std::vector<std::vector<int>> release_after;

  // A readable listing: steps, kernels with their nodes, slots (tests compare it).
  std::string str() const;
};

// A scan's body as a program: its inputs are the body's placeholders, its outputs the body's
// outputs (next states, map outputs, the stop condition), which the executor binds to rows
// of the stacked results so that kernels write them in place. An ifelse branch is one too:
// its inputs are the branch's placeholders for the operands (the node's inputs after the
// condition), its outputs the branch's values.
struct ScanLoop {
  Program body;
};

// One loop kernel of a program with its operands and results bound to memory, ready to
// run: what an executor hands to whatever runs kernels (api/executor.hpp).
struct KernelCall {
  const Program& program;             // the kernel's program (its values' dtypes)
  const LoopKernel& kernel;
  int index;                          // in the unit's kernel table (kernel_base + i)
  std::span<const long long> size;    // the extent of each loop dim
  std::span<char* const> data;        // operands, then results
  std::span<const long long> stride;  // [arg * num_dims + dim], in elements
};

// Runs kernels other than through the compiled C++ unit: the CUDA backend launches them on
// a device, tests run the emitted CUDA kernels on a CPU emulation of one.
using KernelLauncher = std::function<void(const KernelCall&)>;

// Every kernel of `program` and of its loop bodies, in table order.
std::vector<const LoopKernel*> all_kernels(const Program& program);
// Calls visit(owner, step) for each step of `program` (owner: the program that holds it)
// and, right after a loop's or a branch's step, for the steps of its bodies, nested ones
// too: in program order.
void for_each_step(const Program& program,
                   const std::function<void(const Program& owner, const Step& step)>& visit);

}  // namespace cgvm
