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
  auto indent = [](const std::string& text) {
    std::string o;
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = text.find('\n', at);
      o += "  " + text.substr(at, end - at + 1);
      at = end + 1;
    }
    return o;
  };
  auto value = [&](int v) {
    return slot[v] >= 0 ? fmt::format("v{} (slot {})", v, slot[v]) : fmt::format("v{}", v);
  };
  for (const Step& s : steps) {
    if (s.kind != Step::Kind::Kernel) {
      std::vector<std::string> ins, outs;
      for (int v : s.inputs) ins.push_back(value(v));
      for (int v : s.outputs) outs.push_back(value(v));
      out += fmt::format("{} {}: {} -> {}\n", step_kind_name(s.kind), s.node->op().name,
                         fmt::join(ins, " "), fmt::join(outs, " "));
      if (s.kind == Step::Kind::Loop) out += indent(loops[s.loop].body.str());
      if (s.kind == Step::Kind::Branch) {
        out += "then:\n" + indent(loops[s.loop].body.str());
        out += "else:\n" + indent(loops[s.loop + 1].body.str());
      }
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

std::string_view step_kind_name(Step::Kind kind) {
  switch (kind) {
    case Step::Kind::Kernel: return "kernel";
    case Step::Kind::Eval: return "eval";
    case Step::Kind::Loop: return "loop";
    case Step::Kind::Branch: return "branch";
  }
  return "?";
}

std::vector<const LoopKernel*> all_kernels(const Program& program) {
  std::vector<const LoopKernel*> out;
  for (const LoopKernel& k : program.kernels) out.push_back(&k);
  for (const ScanLoop& l : program.loops) {
    std::vector<const LoopKernel*> inner = all_kernels(l.body);
    out.insert(out.end(), inner.begin(), inner.end());
  }
  return out;
}

void for_each_step(const Program& program,
                   const std::function<void(const Program& owner, const Step& step)>& visit) {
  for (const Step& step : program.steps) {
    visit(program, step);
    if (step.kind == Step::Kind::Loop) for_each_step(program.loops[step.loop].body, visit);
    if (step.kind == Step::Kind::Branch)
      for (int b : {step.loop, step.loop + 1}) for_each_step(program.loops[b].body, visit);
  }
}

}  // namespace cgvm
