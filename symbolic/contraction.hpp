#pragma once
// Products. Float matrices go through BLAS (runtime/blas.hpp); integer ones use exact loops.
#include <source_location>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

// numpy.dot: vector.vector -> scalar; matrix.vector; vector.matrix; matrix.matrix; for N-d,
// a sum over the last axis of a and the second-to-last of b. Operands are promoted.
Var dot(const Var& a, const Var& b, std::source_location loc = std::source_location::current());
// numpy.matmul: batch dimensions broadcast (Theano's model: only static size 1 stretches).
Var matmul(const Var& a, const Var& b,
           std::source_location loc = std::source_location::current());
Var outer(const Var& a, const Var& b,
          std::source_location loc = std::source_location::current());
// numpy.tensordot: sums the last `axes` axes of a with the first `axes` of b, or the listed
// axis pairs.
Var tensordot(const Var& a, const Var& b, std::int64_t axes = 2,
              std::source_location loc = std::source_location::current());
Var tensordot(const Var& a, const Var& b, const std::vector<std::int64_t>& axes_a,
              const std::vector<std::int64_t>& axes_b,
              std::source_location loc = std::source_location::current());

}  // namespace cgvm
