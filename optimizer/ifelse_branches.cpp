#include "optimizer/ifelse_branches.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include "symbolic/graph.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm {

std::vector<Var> optimize_ifelse_branches(const std::vector<Var>& outputs,
                                          const BodyOptimizer& optimize_branch,
                                          RewriteStats* stats) {
  std::vector<Var> current = outputs;
  // One ifelse at a time, the first in topological order that is not done: rebuilding it
  // rebuilds what reads it (clone_replace), later ifelse nodes included, which are then
  // still to do; the ones before it stay as they are.
  std::set<const Node*> done;
  for (;;) {
    const std::vector<const Node*> order = topo_sort(current);
    const auto next = std::find_if(order.begin(), order.end(), [&](const Node* n) {
      return &n->op() == &ops::ifelse_op() && !done.count(n);
    });
    if (next == order.end()) return current;
    const Node& n = **next;
    Attrs attrs = n.attrs();
    for (const char* which : {"then", "else"}) {
      const Subgraph& branch = *n.attrs().get_subgraph(which);
      attrs.set(which, std::make_shared<const Subgraph>(
                           Subgraph{branch.inputs, optimize_branch(branch.outputs)}));
    }
    const NodePtr rebuilt = make_node(ops::ifelse_op(), n.inputs(), std::move(attrs), n.location());
    done.insert(rebuilt.get());
    Replacements replaced;
    for (int i = 0; i < n.num_outputs(); ++i) replaced.emplace_back(n.output(i), rebuilt->output(i));
    current = clone_replace(current, replaced, /*strict=*/false);
    if (stats) {
      ++stats->rewrites;
      ++stats->fired["ifelse branches"];
    }
  }
}

}  // namespace cgvm
