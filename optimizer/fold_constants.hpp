#pragma once
// Constant folding: a node whose inputs are all constants becomes a constant, computed by
// the op's reference implementation (the same code the interpreter runs, so folding never
// changes a value).
//
// Not folded: random draws and other ops with state, ops that would raise (the error is
// left to run time, where it names the user's line with real shapes), and results much
// larger than their inputs (broadcast_to of a scalar to a big shape stays a cheap node
// instead of becoming a big constant in the program and the cache).
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> fold_constants_rules();

}  // namespace cgvm
