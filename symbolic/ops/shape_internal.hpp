#pragma once
// Helpers shared by the shape family's op blocks (shape.cpp) and its user functions
// (shape_api.cpp), defined in shape_api.cpp.
// Not part of the public API.
#include <source_location>
#include <span>
#include <string>

#include "symbolic/args.hpp"
#include "symbolic/node.hpp"

namespace cgvm::shape_detail {

// Why `parts` cannot be joined (empty when they can): different ranks, or two static sizes
// that differ in a dimension other than `skip_axis` (-1: compare every dimension).
std::string parts_mismatch(std::span<const TensorType> parts, int skip_axis);

// The axis j when `dim` is shape_of(x, j) of this very `x`, else -1. Lets reshape and
// broadcast_to see that a symbolic size is one of x's own.
int own_axis(const Var& dim, const Var& x);

}  // namespace cgvm::shape_detail
