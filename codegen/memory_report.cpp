#include "codegen/memory_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "runtime/error.hpp"
#include "symbolic/graph.hpp"
#include "symbolic/interpreter.hpp"
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

// Integer values of at most this many elements that are computed from constants are folded,
// so that shapes built from them become static.
constexpr std::int64_t kFoldLimit = 64;

// The program's graph again, with the inputs' shapes static: each node rebuilt on rebuilt
// inputs (make_node infers its type), shape arithmetic folded to constants.
class ShapedGraph {
 public:
  ShapedGraph(const Program& p, std::span<const Shape> shapes) {
    if (shapes.size() != p.inputs.size())
      throw Error(fmt::format("memory_report: {} input shapes given, the function takes {}",
                              shapes.size(), p.inputs.size()));
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      const Var& in = p.values[p.inputs[i]];
      TensorType given{in.dtype(), shapes[i]};
      if (!fits_type(given, in.type()))
        throw Error(fmt::format("memory_report: input {} ('{}') is {}, a shape of {} was given",
                                i, in.name(), in.type().str(), shape_str(shapes[i])));
      shaped_.emplace(in.node().get(), tensor(in.name(), in.dtype(), shapes[i]));
    }
    for (const auto& [id, var] : p.sources)
      if (is_shared(var)) {
        Array value = SharedVar(var).get_value(true);
        shaped_.emplace(var.node().get(), tensor(var.name(), var.dtype(), value.shape()));
      }
    for (const Node* n : topo_sort(p.values)) shape(*n);
  }

  TensorType type_of(const Var& v) const {
    return shaped_.at(v.node().get()).node()->output_types()[v.index()];
  }

 private:
  // A static size is one the input may have: equal where the type knows it, and the rank.
  static bool fits_type(const TensorType& given, const TensorType& type) {
    if (given.shape.size() != type.shape.size()) return false;
    for (std::size_t i = 0; i < given.shape.size(); ++i)
      if (given.shape[i] < 0 || (type.shape[i] != unknown_dim && type.shape[i] != given.shape[i]))
        return false;
    return true;
  }

  void shape(const Node& n) {
    if (shaped_.count(&n)) return;
    std::vector<Var> inputs;
    bool changed = false, all_constant = true;
    for (const Var& in : n.inputs()) {
      const Var& s = shaped_.at(in.node().get());
      Var now = s.node()->output(in.index());
      changed = changed || !now.same(in);
      all_constant = all_constant && is_constant(now);
      inputs.push_back(now);
    }
    Var result = changed ? make_node(n.op(), inputs, n.attrs(), n.location())->output(0)
                         : n.output(0);
    const TensorType& t = result.node()->output_types()[0];
    // shape_of a static size, and small integer results of constants: constants, so that the
    // ops reading them (reshape, broadcast_to, arange) infer static shapes.
    if (n.num_outputs() == 1 && is_integer(t.dtype) && n.op().family != OpFamily::Random &&
        n.op().state_input < 0 && bytes_of(t) >= 0 &&
        bytes_of(t) <= kFoldLimit * static_cast<std::int64_t>(dtype_size(t.dtype))) {
      if (n.op().name == "shape_of") {
        const std::int64_t size =
            inputs[0].static_shape()[n.attrs().get_int("axis")];
        if (size != unknown_dim) result = constant(Array::full({}, static_cast<double>(size), DType::Int64));
      } else if (all_constant && !n.inputs().empty()) {
        result = constant(evaluate(result));
      }
    }
    shaped_.emplace(&n, result);
  }

  std::unordered_map<const Node*, Var> shaped_;
};

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
  ShapedGraph shaped(p, input_shapes);
  MemoryReport r;
  const int n_values = static_cast<int>(p.values.size());
  r.value_bytes.resize(n_values);
  for (int v = 0; v < n_values; ++v) {
    r.value_bytes[v] = bytes_of(shaped.type_of(p.values[v]));
    if (r.value_bytes[v] < 0) r.unknown.push_back(v);
  }
  auto known = [&](int v) { return std::max<std::int64_t>(r.value_bytes[v], 0); };
  for (int v : p.inputs) r.argument_bytes += known(v);
  for (const auto& [id, var] : p.sources) r.source_bytes += known(id);

  std::vector<std::int64_t> slot_size(p.num_slots, 0);
  for (int v = 0; v < n_values; ++v)
    if (p.slot[v] >= 0) slot_size[p.slot[v]] = std::max(slot_size[p.slot[v]], known(v));
  for (std::int64_t s : slot_size) r.slot_bytes += s;

  // Results outside slots own their memory from their step to their last reader.
  std::vector<std::int64_t> delta(p.steps.size() + 1, 0);
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    const Step& step = p.steps[s];
    if (step.kind == Step::Kind::Eval && step.node->op().view) continue;
    for (int v : step.outputs) {
      if (p.slot[v] >= 0) continue;
      delta[s] += known(v);
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
                                                : fmt::format("eval {}", step.node->op().name);
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
