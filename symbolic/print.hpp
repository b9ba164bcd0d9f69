#pragma once
// Text and Graphviz views of a graph.
#include <iosfwd>
#include <span>
#include <string>

#include "symbolic/node.hpp"

namespace cgvm {

// Theano-style indented tree, one node per line with its type and source line; a node seen
// before is printed once and then referred to by its id:
//   add [id A] float32[?, ?]   example.cpp:12
//    |mul [id B] float32[?, ?]   example.cpp:11
//    | |x [id C] float32[?, ?]
//    | |2.0 [id D] float32[]
//    |y [id E] float32[?, ?]
std::string debugprint(std::span<const Var> outputs);
std::string debugprint(const Var& output);

// A Graphviz "digraph" of the graph: ops as boxes, inputs as ellipses, edges labelled with
// types.
std::string to_dot(std::span<const Var> outputs);

// A short description of one Var: its name, "op(...)" or a constant's value.
std::string describe(const Var& v);
std::ostream& operator<<(std::ostream& os, const Var& v);

}  // namespace cgvm
