#include "function.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_set>

#include "codegen/emit_cpp.hpp"
#include "codegen/emit_cuda.hpp"
#include "codegen/lower.hpp"
#include "codegen/memory_report.hpp"
#include "executor.hpp"
#include "optimizer/pipeline.hpp"
#include "pipeline_fingerprint.hpp"
#include "runtime/log.hpp"
#include "runtime/options.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/scan.hpp"
#include "symbolic/serialize.hpp"
#include "symbolic/shared.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

struct Function::Impl {
  std::string name;
  Mode mode = Mode::Interpret;
  Device device;
  std::vector<Var> inputs;
  std::vector<Var> outputs;             // as the user gave them
  std::vector<Var> graph;               // outputs then update values, after givens
  std::vector<SharedVar> update_targets;  // graph[outputs.size() + i] is the new value of i
  std::vector<SharedVar> shared_read;     // every shared variable the graph reads
  std::vector<Array> constants;           // the values of the graph's constants
  std::shared_ptr<const Executor> executor;  // compiled and debug modes
  std::vector<Var> optimized;                // compiled and debug modes: what runs
  FusionPlan fusion;                         // and how it was fused
  FunctionReport report;
  std::string source;
};

namespace {

std::string label(const Var& v) {
  std::string n = v.name();
  return n.empty() ? fmt::format("<{} {}>", v.node()->op().name, v.type().str())
                   : fmt::format("'{}'", n);
}

std::string function_label(const std::string& name) {
  return name.empty() ? "function" : fmt::format("function '{}'", name);
}

void check_inputs(const std::vector<Var>& inputs, const std::source_location& loc) {
  std::unordered_set<Var, VarHash, VarEq> seen;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Var& v = inputs[i];
    if (v.is_null()) throw_error("function", fmt::format("input {} is a null Var", i), loc);
    if (!is_input(v))
      throw_error("function",
                  fmt::format("input {} is {}, which is not a symbolic input (made by tensor, "
                              "scalar, vector, matrix, ...); shared variables and computed "
                              "values cannot be inputs",
                              i, label(v)),
                  loc);
    if (!seen.insert(v).second)
      throw_error("function", fmt::format("input {} ({}) is listed twice", i, label(v)), loc);
  }
}

std::vector<SharedVar> check_updates(const Replacements& updates,
                                     const std::source_location& loc) {
  std::vector<SharedVar> targets;
  std::unordered_set<Var, VarHash, VarEq> seen;
  for (const auto& [target, value] : updates) {
    if (target.is_null() || value.is_null())
      throw_error("function", "an update pair contains a null Var", loc);
    if (!is_shared(target))
      throw_error("function",
                  fmt::format("updates: {} is not a shared variable; only shared variables "
                              "can be updated",
                              label(target)),
                  loc);
    if (!seen.insert(target).second)
      throw_error("function", fmt::format("updates: {} is updated twice", label(target)), loc);
    const TensorType &want = target.type(), &got = value.type();
    if (want.dtype != got.dtype || want.rank() != got.rank())
      throw_error("function",
                  fmt::format("updates: the new value of {} has type {}, but the variable has "
                              "type {} (cast it with astype)",
                              label(target), got.str(), want.str()),
                  loc);
    targets.emplace_back(target);
  }
  return targets;
}

// Random draws and other stateful ops advance their state on every call (Theano's
// default_update), unless the user updates that variable explicitly.
void add_automatic_updates(std::vector<Var>& graph, std::vector<SharedVar>& targets) {
  std::unordered_set<Var, VarHash, VarEq> updated(targets.begin(), targets.end());
  auto advance = [&](const Var& state, const Var& next) {
    if (!is_shared(state) || !updated.insert(state).second) return;
    targets.emplace_back(state);
    graph.push_back(next);
  };
  for (const Node* node : topo_sort(graph)) {
    const OpDef& op = node->op();
    if (op.state_input >= 0) advance(node->input(op.state_input), node->output(op.state_output));
    for (const auto& [state, next] : scan_shared_updates(*node)) advance(state, next);  // in loops
  }
}

void check_unused_and_missing(const std::vector<Var>& inputs, const std::vector<Var>& graph,
                              OnUnusedInput policy, const std::source_location& loc) {
  std::vector<Var> used = graph_inputs(graph);
  std::unordered_set<Var, VarHash, VarEq> used_set(used.begin(), used.end());
  std::unordered_set<Var, VarHash, VarEq> given(inputs.begin(), inputs.end());
  for (const Var& u : used)
    if (!given.count(u))
      throw_error("function",
                  fmt::format("the outputs depend on input {} of type {} (created at {}), which "
                              "is not in the inputs list",
                              label(u), u.type().str(), format_location(u.node()->location())),
                  loc);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (used_set.count(inputs[i]) || policy == OnUnusedInput::Ignore) continue;
    std::string msg = fmt::format(
        "input {} ({}) is not used by any output or update; pass on_unused_input = Warn or "
        "Ignore to allow it",
        i, label(inputs[i]));
    if (policy == OnUnusedInput::Raise) throw_error("function", msg, loc);
    warn(fmt::format("function: {} at {}", msg, format_location(loc)));
  }
}

Array to_array(const Value& value, const Var& input, std::size_t index,
               const std::string& fname) {
  if (!value.is_number) return value.array;
  const TensorType& t = input.type();
  if (t.rank() != 0)
    throw Error(fmt::format("{}: input {} ({}) has type {}; a number can only be passed for a "
                            "rank-0 input",
                            fname, index, label(input), t.str()));
  Array a = Array::full({}, value.number, t.dtype);
  if (a.item<double>() != value.number && !std::isnan(value.number))
    throw Error(fmt::format("{}: input {} ({}) is {}, which {} cannot represent exactly",
                            fname, index, label(input), value.number, dtype_name(t.dtype)));
  return a;
}

bool aliases_any(const Array& a, const std::vector<Array>& others) {
  for (const Array& o : others)
    if (a.shares_storage(o)) return true;
  return false;
}

// Copies every result (output or new state) that shares memory with a caller's input,
// library state (shared variables, constants) or an earlier result, so that a caller
// writing into an output changes nothing else, and vice versa.
void make_independent(std::vector<Array>& results, const std::vector<Array>& given) {
  for (std::size_t i = 0; i < results.size(); ++i) {
    bool alias = aliases_any(results[i], given);
    for (std::size_t j = 0; j < i && !alias; ++j) alias = results[i].shares_storage(results[j]);
    if (alias) results[i] = results[i].copy();
  }
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The graph cache (DESIGN.md §5): what the optimizer and the emitter made of a graph, keyed
// by the graph's text without source lines and by the target (the C++ unit, or the CUDA one
// for a device function), so a warm start (the same graph in a new process) skips both.
// Leaves (inputs, then shared variables in graph order) are referred to by position;
// read-back nodes take this process's source lines.
class GraphCache {
 public:
  explicit GraphCache(const Function::Impl& f) : leaves_(f.inputs) {
    leaves_.insert(leaves_.end(), f.shared_read.begin(), f.shared_read.end());
    locations_ = graph_locations(f.graph);
    try {
      key_ = serialize_graph(f.graph, leaves_, locations_, {.with_locations = false});
      if (!f.device.is_cpu()) key_ += "\n# emitted for cuda\n";
    } catch (const Error&) {
      key_.clear();  // no text form: compile without the cache
    }
  }
  bool usable() const { return !key_.empty(); }

  // The optimized outputs and the source, or nothing (a miss, or an entry that does not read
  // back, which is reported and then rebuilt).
  std::optional<std::pair<std::vector<Var>, std::string>> load(std::string& status) const {
    bool from_disk = false;
    std::optional<std::string> payload = load_artifact("graph", key_, jit_options(), &from_disk);
    status = "miss";
    if (!payload) return std::nullopt;
    try {
      const std::size_t newline = payload->find('\n');
      const std::size_t length = std::stoull(payload->substr(0, newline));
      if (newline == std::string::npos || newline + 1 + length > payload->size())
        throw Error("the source is cut short");
      std::string source = payload->substr(newline + 1, length);
      ReadGraph g = deserialize_graph(std::string_view(*payload).substr(newline + 1 + length),
                                      leaves_, locations_);
      status = from_disk ? "disk hit" : "memory hit";
      return std::pair{std::move(g.outputs), std::move(source)};
    } catch (const std::exception& e) {
      warn(fmt::format("graph cache: an entry does not read back ({}); rebuilding it", e.what()));
      return std::nullopt;
    }
  }

  void store(const std::vector<Var>& optimized, const std::string& source) const {
    std::string text;
    try {
      text = serialize_graph(optimized, leaves_, locations_);
    } catch (const Error&) {
      return;  // a rewrite made something with no text form: not cached
    }
    store_artifact("graph", key_, fmt::format("{}\n{}{}", source.size(), source, text),
                   jit_options());
  }

 private:
  static JitOptions jit_options() { return {.codegen_version = CGVM_PIPELINE_FINGERPRINT}; }
  std::vector<Var> leaves_;
  std::vector<std::source_location> locations_;
  std::string key_;
};

// The compiled path of the recipe: optimize -> lower -> emit -> compile -> bind, with the
// first and third skipped on a graph-cache hit.
void compile(Function::Impl& f, const std::source_location& loc) {
  using clock = std::chrono::steady_clock;
  const std::string dump_dir = options().dump_dir;
  FunctionReport& r = f.report;
  auto start = clock::now();
  // Dumps show every pass, so they bypass the cache.
  std::optional<GraphCache> cache;
  if (dump_dir.empty()) cache.emplace(f);
  if (cache && !cache->usable()) cache.reset();
  std::optional<std::pair<std::vector<Var>, std::string>> hit;
  if (cache) hit = cache->load(r.graph_cache);
  OptimizedGraph g;
  if (hit) {
    g.outputs = std::move(hit->first);
    auto fusion_start = clock::now();
    g.fusion = fuse_kernels(g.outputs);
    g.passes.push_back({.name = "fuse_kernels", .ms = ms_since(fusion_start), .changed = true});
  } else {
    g = optimize(f.graph, {.dump_dir = dump_dir, .name = f.name});
  }
  r.optimize_ms = ms_since(start);
  r.passes = g.passes;
  auto t = clock::now();
  Program program = lower(f.inputs, g.outputs, g.fusion);
  r.lower_ms = ms_since(t);
  if (!dump_dir.empty()) write_dump(dump_dir, f.name, "program.txt", program.str());
  t = clock::now();
  const bool on_host = f.device.is_cpu();
  if (hit) {
    f.source = std::move(hit->second);
  } else {
    f.source = on_host ? emit_cpp(program) : emit_cuda(program);
    if (cache) cache->store(g.outputs, f.source);
  }
  r.emit_ms = ms_since(t);
  if (!dump_dir.empty()) write_dump(dump_dir, f.name, on_host ? "source.cpp" : "source.cu", f.source);
  r.kernels = static_cast<int>(all_kernels(program).size());
  r.steps = static_cast<int>(program.steps.size());
  r.device = f.device;
  if (on_host) {
    std::shared_ptr<const CompiledModule> module;
    if (r.kernels > 0)
      module = compile_cpp(f.source, {.codegen_version = "cgvm-kernels-1"}, &r.jit);
    f.executor = std::make_shared<Executor>(std::move(program), std::move(module));
  } else {
    const DeviceProvider provider = detail::provider(f.device.kind);
    DeviceBackend backend{.context = provider.context(f.device.ordinal, loc)};
    if (r.kernels > 0) backend.launch = provider.kernels(program, backend.context, &r.device_compile_ms);
    std::shared_ptr<DeviceContext> context = backend.context;
    f.executor = std::make_shared<Executor>(std::move(program), std::move(backend));
    t = clock::now();
    context->prepare(f.executor->device_work());
    r.device_prepare_ms = ms_since(t);
    r.host_steps = f.executor->host_steps();
    r.loops_step_by_step = f.executor->loops_step_by_step();
  }
  f.optimized = std::move(g.outputs);
  f.fusion = std::move(g.fusion);
  r.total_ms = ms_since(start);
}

}  // namespace

std::string FunctionReport::to_string() const {
  std::vector<std::string> pass_text;
  for (const PassReport& p : passes)
    pass_text.push_back(fmt::format("{} {:.2f}{}", p.name, p.ms,
                                    p.stats.rewrites ? fmt::format(" ({} rewrites)", p.stats.rewrites)
                                    : p.changed      ? ""
                                                     : " (unchanged)"));
  const std::string compiled =
      device.is_cpu()
          ? fmt::format("jit {:.2f} ({})", jit.total_ms,
                        jit.memory_hit ? "memory hit" : jit.disk_hit ? "disk hit" : jit.path)
          : fmt::format("{} kernels compiled and loaded {:.2f} (and the device's own {:.2f})",
                        device.str(), device_compile_ms, device_prepare_ms);
  std::string text = fmt::format(
      "{:.2f} ms: graph cache {}, optimize {:.2f} [{}], lower {:.2f}, emit {:.2f}, {}; {} "
      "kernels, {} steps",
      total_ms, graph_cache, optimize_ms, fmt::join(pass_text, ", "), lower_ms, emit_ms, compiled,
      kernels, steps);
  if (!host_steps.empty())
    text += fmt::format("; on the host: {}", fmt::join(host_steps, ", "));
  if (!loops_step_by_step.empty())
    text += fmt::format("; loops run step by step: {}", fmt::join(loops_step_by_step, ", "));
  return text;
}

Outputs::operator Array() const {
  if (values_.size() != 1)
    throw Error(fmt::format("this function returns {} outputs; index them instead of "
                            "converting to one Array",
                            values_.size()));
  return values_[0];
}

Function function(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                  const FunctionOptions& options, std::source_location loc) {
  auto impl = std::make_shared<Function::Impl>();
  impl->name = options.name;
  impl->mode = options.mode;
  impl->device = options.device;
  if (!options.device.is_cpu() && options.mode == Mode::Interpret)
    throw_error("function",
                fmt::format("the interpret mode runs on the host; device {} needs Mode::Compiled "
                            "or Mode::Debug",
                            options.device.str()),
                loc);
  impl->inputs = inputs;
  impl->outputs = outputs;

  check_inputs(inputs, loc);
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].is_null()) throw_error("function", fmt::format("output {} is a null Var", i), loc);
  impl->update_targets = check_updates(options.updates, loc);

  // Givens first: everything after works on the substituted graph.
  std::vector<Var> graph = outputs;
  for (const auto& [target, value] : options.updates) graph.push_back(value);
  graph = clone_replace(graph, options.givens);
  add_automatic_updates(graph, impl->update_targets);
  check_unused_and_missing(inputs, graph, options.on_unused_input, loc);
  for (const Node* node : topo_sort(graph)) {
    if (is_shared(node->output(0))) impl->shared_read.emplace_back(node->output(0));
    if (is_constant(node->output(0))) impl->constants.push_back(*constant_value(node->output(0)));
  }
  impl->graph = std::move(graph);
  if (impl->mode != Mode::Interpret) compile(*impl, loc);
  return Function(std::move(impl));
}

Outputs Function::operator()(const std::vector<Value>& values) const {
  const Impl& f = *impl_;
  std::string fname = function_label(f.name);
  if (values.size() != f.inputs.size())
    throw Error(fmt::format("{}: expected {} inputs, got {}", fname, f.inputs.size(),
                            values.size()));
  Bindings bindings;
  std::vector<Array> given;
  for (std::size_t i = 0; i < values.size(); ++i) {
    Array a = to_array(values[i], f.inputs[i], i, fname);
    std::string why = f.inputs[i].type().mismatch(a);
    if (!why.empty())
      throw Error(fmt::format("{}: input {} ({}): {}", fname, i, label(f.inputs[i]), why));
    if (!a.on_host() && f.device.is_cpu())
      throw Error(fmt::format("{}: input {} ({}) is on {}, but the function runs on the host; "
                              "pass to_host() of it, or make the function with .device = "
                              "Device::cuda({})",
                              fname, i, label(f.inputs[i]), a.device().str(), a.device().ordinal));
    bindings.emplace_back(f.inputs[i], a);
    given.push_back(a);
  }
  for (const SharedVar& s : f.shared_read) given.push_back(s.get_value(/*borrow=*/true));
  given.insert(given.end(), f.constants.begin(), f.constants.end());

  std::vector<Array> results;
  if (f.executor) {
    std::vector<Array> arrays;
    for (const auto& [var, array] : bindings) arrays.push_back(array);
    results = f.executor->run(arrays, /*check=*/f.mode == Mode::Debug);
  } else {
    results = evaluate(f.graph, bindings);
  }

  make_independent(results, given);
  std::size_t n_out = f.outputs.size();
  for (std::size_t i = 0; i < f.update_targets.size(); ++i)
    f.update_targets[i].set_value(results[n_out + i], /*borrow=*/true);
  results.resize(n_out);
  return Outputs(std::move(results));
}

const std::vector<Var>& Function::inputs() const { return impl_->inputs; }
const std::vector<Var>& Function::outputs() const { return impl_->outputs; }
const std::vector<Var>& Function::graph_outputs() const { return impl_->graph; }
const std::string& Function::name() const { return impl_->name; }
Mode Function::mode() const { return impl_->mode; }
Device Function::device() const { return impl_->device; }
const FunctionReport& Function::compile_report() const { return impl_->report; }
std::string Function::program() const {
  return impl_->executor ? impl_->executor->program().str() : "";
}
const std::string& Function::source() const { return impl_->source; }

namespace {

const Executor& compiled(const Function::Impl& f, std::string_view what) {
  if (!f.executor)
    throw Error(fmt::format("{}: {} runs in interpret mode; {} needs a compiled function "
                            "(Mode::Compiled or Mode::Debug)",
                            what, function_label(f.name), what));
  return *f.executor;
}

// The node of the optimized graph that computes `v`: v's own node where the optimizer kept
// it, else the one node of v's op built at v's line (a graph read back from the cache has
// equal nodes, not the same ones).
const Node& optimized_node(const Function::Impl& f, const Var& v) {
  if (v.is_null()) throw Error("why_not_fused: a null Var");
  std::vector<const Node*> nodes = topo_sort(f.optimized), same_line;
  for (const Node* n : nodes) {
    if (n == v.node().get()) return *n;
    const auto &a = n->location(), &b = v.node()->location();
    if (&n->op() == &v.node()->op() && a.line() == b.line() && a.column() == b.column() &&
        std::string_view(a.file_name()) == b.file_name())
      same_line.push_back(n);
  }
  if (same_line.size() == 1) return *same_line[0];
  const std::vector<const Node*> given = topo_sort(f.graph);
  if (std::find(given.begin(), given.end(), v.node().get()) == given.end())
    throw Error(fmt::format("why_not_fused: {} at {} is not part of {}: its outputs and updates "
                            "do not depend on it",
                            v.node()->op().name, format_location(v.node()->location()),
                            function_label(f.name)));
  throw Error(fmt::format(
      "why_not_fused: {} at {} is not in the optimized graph of {}{}", v.node()->op().name,
      format_location(v.node()->location()), function_label(f.name),
      same_line.empty() ? ": a rewrite replaced it (compile_report().passes lists the rules "
                          "that fired)"
                        : fmt::format(": {} nodes of that line match", same_line.size())));
}

}  // namespace

MemoryReport Function::memory_report(const std::vector<Shape>& input_shapes) const {
  return cgvm::memory_report(compiled(*impl_, "memory_report").program(), input_shapes);
}

std::string Function::why_not_fused(const Var& a, const Var& b) const {
  const Program& p = compiled(*impl_, "why_not_fused").program();
  const Node &na = optimized_node(*impl_, a), &nb = optimized_node(*impl_, b);
  auto kernel_of = [&](const Node& n) -> const LoopKernel* {
    for (const LoopKernel& k : p.kernels)
      if (std::find(k.nodes.begin(), k.nodes.end(), &n) != k.nodes.end()) return &k;
    return nullptr;
  };
  auto name = [](const Node& n) {
    return fmt::format("{} at {}", n.op().name, format_location(n.location()));
  };
  const LoopKernel *ka = kernel_of(na), *kb = kernel_of(nb);
  if (ka && ka == kb) return fmt::format("fused: {} and {} both run in kernel {}", name(na), name(nb), ka->name);
  // Each node's own story: where it runs and, where it did not join its readers, why.
  auto story = [&](const Node& n, const LoopKernel* k) {
    std::string where = k ? fmt::format("runs in kernel {}", k->name) : "runs as its own step";
    auto it = impl_->fusion.apart.find(&n);
    return it == impl_->fusion.apart.end()
               ? fmt::format("{} {}, with its readers", name(n), where)
               : fmt::format("{} {}: {}", name(n), where, it->second);
  };
  return fmt::format("not fused:\n  {}\n  {}", story(na, ka), story(nb, kb));
}

std::vector<Var> Function::updated_shared() const {
  return {impl_->update_targets.begin(), impl_->update_targets.end()};
}

}  // namespace cgvm
