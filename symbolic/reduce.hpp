#pragma once
// Reductions over any set of axes, with keepdims. Reducing an empty axis gives the identity
// (0 for sum, 1 for prod, true for all, false for any) and is an Error for max/min/argmax/
// argmin, as in numpy.
#include <source_location>

#include "symbolic/args.hpp"

namespace cgvm {

#define CGVM_REDUCE_FN(name)                                                     \
  Var name(const Var& x, const Axes& axes = {}, bool keepdims = false,           \
           std::source_location loc = std::source_location::current());
CGVM_REDUCE_FN(sum)   // integer and bool inputs sum in int64, like numpy
CGVM_REDUCE_FN(prod)  // idem
CGVM_REDUCE_FN(max)
CGVM_REDUCE_FN(min)
CGVM_REDUCE_FN(all)   // gives bool
CGVM_REDUCE_FN(any)
CGVM_REDUCE_FN(mean)  // floats keep their dtype; integers give the default float
CGVM_REDUCE_FN(logsumexp)  // log(sum(exp(x))), computed with the max shift
#undef CGVM_REDUCE_FN

// Variance and standard deviation with numpy's ddof.
Var var(const Var& x, const Axes& axes = {}, bool keepdims = false, std::int64_t ddof = 0,
        std::source_location loc = std::source_location::current());
Var std(const Var& x, const Axes& axes = {}, bool keepdims = false, std::int64_t ddof = 0,
        std::source_location loc = std::source_location::current());

// Index of the max/min (first one on ties) along one axis, or over the flattened tensor
// when `axes` is all. Gives int64.
Var argmax(const Var& x, const Axes& axes = {}, bool keepdims = false,
           std::source_location loc = std::source_location::current());
Var argmin(const Var& x, const Axes& axes = {}, bool keepdims = false,
           std::source_location loc = std::source_location::current());

}  // namespace cgvm
