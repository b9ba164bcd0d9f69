#pragma once
// How much memory a compiled function needs for given input shapes, known before it runs.
//
// Shapes come from type inference over the program's graph with the inputs' shapes made
// static, canonicalized: integer scalars computed from shapes (sizes, products of sizes)
// fold, so reshapes and ranges of symbolic size get static shapes too. Sizes that depend on
// input values (arange(0, n) of an input n) stay unknown and are listed.
//
// What it counts follows the program's buffer plan (program.hpp): slots are kept between
// calls, each as large as the largest value it holds; other results (eval results, returned
// values) live from their step to their last reader; views (OpDef::view: reshape,
// dimshuffle, broadcast_to, slices, stop_gradient) take nothing, except a returned view of a
// slot, which the call copies. Arguments, constants and shared variables are the caller's,
// reported apart. Not counted: copies an eval makes inside itself (a product copies an
// operand BLAS cannot read in place; a reshape copies what it cannot view), and the
// allocator's rounding of sizes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codegen/program.hpp"

namespace cgvm {

struct MemoryReport {
  std::int64_t argument_bytes = 0;  // the inputs as given
  std::int64_t source_bytes = 0;    // constants and shared variables read
  std::int64_t slot_bytes = 0;      // buffers kept between calls
  std::int64_t peak_bytes = 0;      // slots + the most other results alive at one step
  int peak_step = -1;               // the step at which that is reached
  std::string peak_at;              // that step: "kernel cgk1" or "eval matmul"
  std::vector<std::int64_t> value_bytes;  // per program value; -1: size not known
  std::vector<int> unknown;         // values whose size depends on input values
  std::string str() const;
};

// The report for one call with inputs of these shapes (one per program input). A shape that
// cannot be an input's (wrong rank, a static size that differs) or that makes an op fail
// raises the cgvm::Error the call would raise.
MemoryReport memory_report(const Program& program, std::span<const Shape> input_shapes);

}  // namespace cgvm
