#pragma once
// Shape-op simplification: reshape of a reshape, dimshuffle of a dimshuffle (composed into
// one, dropped when it is the identity), reshape/broadcast_to to the shape x already has,
// and sizes known from static types (shape_of(x; i) of a known dim is a constant).
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> simplify_shapes_rules();

}  // namespace cgvm
