#pragma once
// ifelse(cond, then, else): a lazy branch, as Theano's. Only the branch taken is computed,
// unlike where(), which computes both sides elementwise and picks per element.
//
// At build time, each branch's graph is taken into the node, down to the values the branch
// reads from outside: inputs, shared variables, random draws, and anything the condition
// needs (computed anyway). What lies between runs only when its branch is taken. Works inside
// scan steps. Values between are the branch's own: grad with respect to one of them, givens
// and consider_constant naming one do not reach inside (name an input instead); a value
// also used outside the branch is computed there again.
//
// Both branches give the same number of values, pairwise of one dtype and rank; a static size
// the two disagree on is unknown in the result. The condition is a scalar (nonzero: then).
// The gradient is itself lazy: ifelse(cond, gradient of then, gradient of else). A compiled
// function compiles both branches (codegen/program.hpp: a branch step) and runs the one the
// condition picks; a device function reads the condition back from the device.
#include <source_location>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

Var ifelse(const Var& cond, const Var& then_value, const Var& else_value,
           std::source_location loc = std::source_location::current());
std::vector<Var> ifelse(const Var& cond, const std::vector<Var>& then_values,
                        const std::vector<Var>& else_values,
                        std::source_location loc = std::source_location::current());

}  // namespace cgvm
