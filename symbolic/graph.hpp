#pragma once
// Whole-graph utilities: traversal order, substitution, free inputs.
#include <span>
#include <utility>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

using Replacements = std::vector<std::pair<Var, Var>>;

// A graph held by a node as an attribute (a scan's body): the placeholders the node binds,
// in order, and what it computes from them. Only the holding node's op reads it.
struct Subgraph {
  std::vector<Var> inputs;
  std::vector<Var> outputs;
};

// Every node the outputs depend on, each after its inputs; deterministic for a given graph.
std::vector<const Node*> topo_sort(std::span<const Var> outputs);

// The outputs rebuilt with each `first` replaced by its `second` (Theano's clone with
// replace / givens). Nodes that do not depend on a replaced var are reused as they are.
// The replacement must have the same type as what it replaces, except where `strict` is
// false, where it only needs the same dtype and rank.
std::vector<Var> clone_replace(std::span<const Var> outputs, const Replacements& replacements,
                               bool strict = true);

// The symbolic inputs (input-op nodes) the outputs depend on, in creation order.
std::vector<Var> graph_inputs(std::span<const Var> outputs);

}  // namespace cgvm
