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
// alpha * matmul(a, b) + beta * c as one BLAS call, for float matrices a and b of one dtype
// (no promotion). c stretches to the product's [m, n] (a bias row [n] or [1, n], a column
// [m, 1], a matrix, a scalar) but never makes it larger, and is not read when beta is 0.
// The optimizer builds it from such sums (optimizer/specialize.hpp): graphs need not spell it.
Var gemm(const Var& a, const Var& b, const Var& c, double alpha = 1, double beta = 1,
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
