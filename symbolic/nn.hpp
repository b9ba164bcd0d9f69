#pragma once
// Neural-network building blocks, written as compositions of primitive ops (so they get
// gradients and code generation for free; the optimizer's stabilize pass recognises them).
#include <source_location>

#include "symbolic/node.hpp"

namespace cgvm {

Var relu(const Var& x, std::source_location loc = std::source_location::current());
Var elu(const Var& x, double alpha = 1.0,
        std::source_location loc = std::source_location::current());
// exp(x - max) / sum(exp(x - max)) along `axis`.
Var softmax(const Var& x, std::int64_t axis = -1,
            std::source_location loc = std::source_location::current());
// x - max - log(sum(exp(x - max))) along `axis`.
Var log_softmax(const Var& x, std::int64_t axis = -1,
                std::source_location loc = std::source_location::current());
// -sum(target * log(probs), last axis). `targets` is either integer class labels (shape of
// probs without its last axis) or a distribution of probs' shape (one-hot or soft labels).
Var categorical_crossentropy(const Var& probs, const Var& targets,
                             std::source_location loc = std::source_location::current());
// -(t*log(p) + (1-t)*log(1-p)) elementwise.
Var binary_crossentropy(const Var& probs, const Var& targets,
                        std::source_location loc = std::source_location::current());

}  // namespace cgvm
