#pragma once
// The reference interpreter: evaluates any graph with each op's reference implementation.
// Simple and exact; it is the oracle for every test and the `interpret` mode of function().
#include <span>
#include <utility>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

// Values for symbolic inputs (or for any other Var, which then is not computed).
using Bindings = std::vector<std::pair<Var, Array>>;

// Evaluates `outputs`. Shared variables read their current value. A needed input without a
// binding, or a bound value of the wrong dtype/rank/static shape, is a cgvm::Error naming
// the input. Intermediate values are freed as soon as their last user has run. Results may
// be views that share memory with bound values or constants (reshape, dimshuffle and
// broadcast_to return views); function() copies where that would let a caller reach
// library state.
std::vector<Array> evaluate(std::span<const Var> outputs, const Bindings& bindings = {});
Array evaluate(const Var& output, const Bindings& bindings = {});

}  // namespace cgvm
