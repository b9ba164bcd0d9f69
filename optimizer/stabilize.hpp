#pragma once
// Numerical stability: rewrites of forms that overflow, underflow or cancel into forms that
// do not, for the same mathematical value.
//
//   log(1+x) -> log1p(x)              exp(x)-1 -> expm1(x)
//   log(sigmoid x) -> -softplus(-x)   log(1-sigmoid x), log1p(-sigmoid x) -> -softplus(x)
//   log(exp(a)/b) -> a - log(b)       (log of a softmax -> log_softmax)
//   log(where(m, a, k)) -> where(m, log a, log k) for a constant k (cross-entropy's mask)
//   exp(x)/sum(exp(x)) -> the same with x - max(x)   (softmax without the shift)
//   log(sum(exp(x))) -> max(x) + log(sum(exp(x - max(x))))   (logsumexp without the shift)
//
// Sigmoid cross-entropy on probabilities, binary_crossentropy(sigmoid(z), t), becomes the
// softplus form on the logits through the sigmoid rules; categorical cross-entropy of a
// softmax through the log-of-softmax and mask rules.
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> stabilize_rules();

}  // namespace cgvm
