#include "codegen/memory_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "optimizer/pipeline.hpp"
#include "runtime/error.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/shared.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

std::int64_t bytes_of(const TensorType& t) {
  if (!t.fully_known()) return -1;
  std::int64_t n = static_cast<std::int64_t>(dtype_size(t.dtype));
  for (std::int64_t d : t.shape) n *= d;
  return n;
}

// The type of every program value for inputs of these shapes: the graph cloned with inputs
// (and shared variables, at their current shapes) of static shapes, then canonicalized, which
// folds shape_of of static sizes and the integer arithmetic on them, so that reshapes,
// broadcasts and ranges of those sizes infer static shapes too.
std::vector<TensorType> shaped_types(const Program& p, std::span<const Shape> shapes) {
  if (shapes.size() != p.inputs.size())
    throw Error(fmt::format("memory_report: {} input shapes given, the function takes {}",
                            shapes.size(), p.inputs.size()));
  Replacements static_inputs;
  for (std::size_t i = 0; i < p.inputs.size(); ++i) {
    const Var& in = p.values[p.inputs[i]];
    const TensorType& type = in.type();
    bool fits = shapes[i].size() == type.shape.size();
    for (std::size_t d = 0; fits && d < shapes[i].size(); ++d)
      fits = shapes[i][d] >= 0 && (type.shape[d] == unknown_dim || type.shape[d] == shapes[i][d]);
    if (!fits)
      throw Error(fmt::format("memory_report: input {} ('{}') is {}, a shape of {} was given", i,
                              in.name(), type.str(), shape_str(shapes[i])));
    static_inputs.emplace_back(in, tensor(in.name(), in.dtype(), shapes[i]));
  }
  for (const auto& [id, var] : p.sources)
    if (is_shared(var))
      static_inputs.emplace_back(
          var, tensor(var.name(), var.dtype(), SharedVar(var).get_value(true).shape()));
  std::vector<Var> cloned = clone_replace(p.values, static_inputs, /*strict=*/false);
  std::vector<Var> folded = run_pass("canonicalize", cloned);
  std::vector<TensorType> types;
  for (std::size_t v = 0; v < cloned.size(); ++v)  // a rewrite may know less than the clone
    types.push_back(folded[v].type().fully_known() ? folded[v].type() : cloned[v].type());
  return types;
}

std::string human(std::int64_t bytes) {
  if (bytes < 0) return "?";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

MemoryReport memory_report(const Program& p, std::span<const Shape> input_shapes) {
  const std::vector<TensorType> types = shaped_types(p, input_shapes);
  MemoryReport r;
  const int n_values = static_cast<int>(p.values.size());
  r.value_bytes.resize(n_values);
  for (int v = 0; v < n_values; ++v) {
    r.value_bytes[v] = bytes_of(types[v]);
    if (r.value_bytes[v] < 0) r.unknown.push_back(v);
  }
  auto known = [&](int v) { return std::max<std::int64_t>(r.value_bytes[v], 0); };
  for (int v : p.inputs) r.argument_bytes += known(v);
  for (const auto& [id, var] : p.sources) r.source_bytes += known(id);

  std::vector<std::int64_t> slot_size(p.num_slots, 0);
  for (int v = 0; v < n_values; ++v)
    if (p.slot[v] >= 0) slot_size[p.slot[v]] = std::max(slot_size[p.slot[v]], known(v));
  for (std::int64_t s : slot_size) r.slot_bytes += s;

  // Results outside slots own their memory from their step to their last reader. A view
  // owns nothing, except a returned view of a slot's buffer: the call returns a copy of it
  // (the next call overwrites the slot), made after the last step.
  std::vector<std::int64_t> delta(p.steps.size() + 1, 0);
  std::vector<int> base(n_values);  // the value whose memory each value is (itself, or a view's)
  for (int v = 0; v < n_values; ++v) base[v] = v;
  std::vector<bool> returned(n_values, false);
  for (int v : p.outputs) returned[v] = true;
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    const Step& step = p.steps[s];
    const bool view = step.kind == Step::Kind::Eval && step.node->op().view;
    for (int v : step.outputs) {
      if (view) base[v] = base[step.inputs[0]];
      const bool copied = view && returned[v] && p.slot[base[v]] >= 0;
      if ((view && !copied) || p.slot[v] >= 0) continue;
      const std::size_t from = copied ? p.steps.size() - 1 : s;
      delta[from] += known(v);
      delta[std::min<std::size_t>(p.last_use[v], p.steps.size() - 1) + 1] -= known(v);
    }
  }
  std::int64_t live = 0, most = -1;
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    live += delta[s];
    if (live > most) {
      most = live;
      r.peak_step = static_cast<int>(s);
    }
  }
  r.peak_bytes = r.slot_bytes + std::max<std::int64_t>(most, 0);
  if (r.peak_step >= 0) {
    const Step& step = p.steps[r.peak_step];
    r.peak_at = step.kind == Step::Kind::Kernel ? "kernel " + p.kernels[step.kernel].name
                : fmt::format("{} {}", step_kind_name(step.kind), step.node->op().name);
  }
  return r;
}

std::string MemoryReport::str() const {
  std::string text = fmt::format(
      "peak {} during a call, at step {} ({}): {} in slots kept between calls, the rest "
      "results alive then\narguments {}, constants and shared variables {} (not counted)\n",
      human(peak_bytes), peak_step, peak_at, human(slot_bytes), human(argument_bytes),
      human(source_bytes));
  if (!unknown.empty())
    text += fmt::format("{} values have sizes that depend on input values (counted as 0)\n",
                        unknown.size());
  return text;
}

}  // namespace cgvm
