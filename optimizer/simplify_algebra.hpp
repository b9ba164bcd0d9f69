#pragma once
// Algebraic identities and the canonical form of sums and products.
//
// Identities: x*1, x+0, x-0, x/1, 0-x, x*-1, x-x, x/x (where x cannot be 0), --x, pow with
// a small constant exponent (-> multiplies, sqrt, rsqrt, reciprocal), exp(log x), log(exp x),
// cast to the same dtype. As in Theano, x-x -> 0 and exp(log x) -> x hold for the values a
// graph means (finite x; x > 0), not for NaN or inf inputs.
//
// Canonical chains: a tree of + (or of *) is flattened into its terms and rebuilt as one
// left-deep chain, constants first (so they fold into one) and the other terms in a fixed
// order, so that a+b and b+a, or (a+b)+c and a+(c+b), become the same node (hash-consing
// then shares them).
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> simplify_algebra_rules();

}  // namespace cgvm
