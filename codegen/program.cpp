#include "codegen/program.hpp"

#include <fmt/format.h>

#include "symbolic/op_def.hpp"

namespace cgvm {
namespace {

std::string dims_str(const std::vector<int>& dims) {
  std::vector<std::string> parts;
  for (int d : dims) parts.push_back(d < 0 ? "-" : fmt::format("d{}", d));
  return fmt::format("[{}]", fmt::join(parts, ","));
}

}  // namespace

// One line per step, kernels with their loop structure and nodes:
//   kernel cgk0 reduce outer[d0] inner[d1]: v1[d0,d1] -> v3[d0,-] (slot 0)
//     max sub exp sum true_div
//   eval matmul: v3 v4 -> v5
std::string Program::str() const {
  std::string out;
  auto value = [&](int v) {
    return slot[v] >= 0 ? fmt::format("v{} (slot {})", v, slot[v]) : fmt::format("v{}", v);
  };
  for (const Step& s : steps) {
    if (s.kind == Step::Kind::Eval) {
      std::vector<std::string> ins, outs;
      for (int v : s.inputs) ins.push_back(value(v));
      for (int v : s.outputs) outs.push_back(value(v));
      out += fmt::format("eval {}: {} -> {}\n", s.node->op().name, fmt::join(ins, " "),
                         fmt::join(outs, " "));
      continue;
    }
    const LoopKernel& k = kernels[s.kernel];
    std::vector<std::string> ins, outs, outer, inner, names;
    for (const KernelArg& a : k.operands) ins.push_back(fmt::format("v{}{}", a.value, dims_str(a.dims)));
    for (const KernelArg& a : k.results) outs.push_back(fmt::format("{}{}", value(a.value), dims_str(a.dims)));
    for (int d : k.outer) outer.push_back(fmt::format("d{}", d));
    for (int d : k.inner) inner.push_back(fmt::format("d{}", d));
    for (const Node* n : k.nodes) names.emplace_back(n->op().name);
    out += fmt::format("kernel {} {} outer[{}] inner[{}]: {} -> {}\n  {}\n", k.name,
                       k.reduces ? "reduce" : "map", fmt::join(outer, ","), fmt::join(inner, ","),
                       fmt::join(ins, " "), fmt::join(outs, " "), fmt::join(names, " "));
  }
  return out;
}

}  // namespace cgvm
