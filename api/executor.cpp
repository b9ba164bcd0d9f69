#include "executor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "codegen/emit_cpp.hpp"
#include "jit/jit.hpp"
#include "runtime/error.hpp"
#include "runtime/thread_pool.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/ops/index_detail.hpp"
#include "symbolic/scan_run.hpp"
#include "symbolic/shared.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

// Below this many elements per call a kernel runs on the calling thread: waking the pool
// costs more than it saves.
constexpr std::int64_t min_parallel_elements = 1 << 15;

std::string shapes_of(const std::vector<Array>& values, const std::vector<int>& ids) {
  std::vector<std::string> parts;
  for (int v : ids) parts.push_back(std::string(dtype_name(values[v].dtype())) + shape_str(values[v].shape()));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// Whether `got` matches the interpreter's `want` closely enough; fills `where` otherwise.
bool close_enough(const Array& got, const Array& want, std::string& where) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    where = fmt::format("{}{} where the interpreter gives {}{}", dtype_name(got.dtype()),
                        shape_str(got.shape()), dtype_name(want.dtype()), shape_str(want.shape()));
    return false;
  }
  std::vector<double> a = got.to_double_vector(), b = want.to_double_vector();
  const double rtol = got.dtype() == DType::Float32 ? 1e-4 : got.dtype() == DType::Float64 ? 1e-9 : 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    bool same = std::isnan(a[i]) ? std::isnan(b[i])
                                 : std::abs(a[i] - b[i]) <= rtol * (1 + std::abs(b[i]));
    if (!same) {
      where = fmt::format("element {} (flat) is {} where the interpreter gives {}", i, a[i], b[i]);
      return false;
    }
  }
  return true;
}

}  // namespace

Executor::Executor(Program program, std::shared_ptr<const CompiledModule> module)
    : program_(std::move(program)), module_(std::move(module)) {
  slots_ = new_slots();
  const std::size_t n_kernels = all_kernels(program_).size();
  if (n_kernels == 0) return;
  kernels_.resize(n_kernels);
  module_->function<void(KernelFn**)>(kernel_table_symbol)(kernels_.data());
}

Executor::Executor(Program program, KernelLauncher launcher)
    : program_(std::move(program)), launcher_(std::move(launcher)) {
  slots_ = new_slots();
}

namespace {

// Device mode: 1 for the values of the function's program `p` that stay where they are:
// those read only where evals read them wherever they are (OpDef::anywhere_inputs: index
// lists, a draw's generator state) are never moved over, and a draw's advanced state goes
// back to its variable where it was made. (In a loop's body nothing stays: its indices and
// generator states go to the device with the loop's other inputs, so that its step can be
// recorded.)
std::string not_recordable(const Program& body);

// Whether an eval of `op` reads input i where it is (device mode), in a loop's body or not.
bool read_where_it_is(const OpDef& op, std::size_t i, bool in_loop_body) {
  const std::vector<int>& inputs = op.anywhere_inputs;
  return !in_loop_body && std::find(inputs.begin(), inputs.end(), static_cast<int>(i)) != inputs.end();
}

std::vector<char> host_resident(const Program& p) {
  std::vector<int> readers(p.values.size(), 0), host_readers(p.values.size(), 0);
  std::vector<char> resident(p.values.size(), 0);
  for (const Step& step : p.steps) {
    const OpDef* op = step.kind == Step::Kind::Eval ? &step.node->op() : nullptr;
    for (std::size_t i = 0; i < step.inputs.size(); ++i) {
      ++readers[step.inputs[i]];
      if (op && read_where_it_is(*op, i, false)) ++host_readers[step.inputs[i]];
    }
    if (op && op->state_output >= 0) resident[step.outputs.at(op->state_output)] = 1;
  }
  for (int v : p.outputs) ++readers[v];  // a result goes where the function runs
  for (std::size_t v = 0; v < resident.size(); ++v)
    if (readers[v] > 0 && readers[v] == host_readers[v]) resident[v] = 1;
  return resident;
}

// Why each loop body in `p` (nested ones too, and those in branches) runs step by step
// (not_recordable), keyed by the body, which lives in the program's loops and stays put.
std::map<const Program*, std::string> plan_loops(const Program& p) {
  std::map<const Program*, std::string> plans;
  for_each_step(p, [&](const Program& owner, const Step& step) {
    if (step.kind != Step::Kind::Loop) return;
    const Program& body = owner.loops[step.loop].body;
    plans[&body] = not_recordable(body);
  });
  return plans;
}

}  // namespace

Executor::Executor(Program program, DeviceBackend device)
    : program_(std::move(program)),
      launcher_(std::move(device.launch)),
      context_(std::move(device.context)),
      host_resident_(host_resident(program_)),
      step_by_step_(plan_loops(program_)),
      looks_up_(device_work().lookups) {
  slots_ = new_slots();
}

Device Executor::device() const { return context_ ? context_->device() : Device::cpu(); }

namespace {

bool runs_on_device(const Node& node) {
  const auto& on_device = node.op().on_device;
  return on_device && on_device(node);
}

// Whether an eval reads tensor data (not only integer scalars such as sizes and indices,
// which stay on the host anyway).
bool reads_data(const Node& node) {
  return std::any_of(node.inputs().begin(), node.inputs().end(), [](const Var& v) {
    return v.rank() > 0 || is_float(v.dtype());
  });
}

// The most elements an integer operand of a kernel run on the host may have (a shape).
constexpr std::int64_t max_size_operand = 8;

// Integer and bool scalars (indices, sizes, flags) stay on the host, where an eval reads
// them with item(); everything else an eval on a device reads goes there.
bool stays_on_host(const Array& a) { return a.rank() == 0 && !is_float(a.dtype()); }

}  // namespace

std::vector<std::string> Executor::host_steps() const {
  std::vector<std::string> out;
  if (!context_) return out;
  for_each_step(program_, [&](const Program&, const Step& step) {
    if (step.kind == Step::Kind::Eval && !runs_on_device(*step.node) && reads_data(*step.node))
      out.push_back(fmt::format("{} at {}", step.node->op().name,
                                format_location(step.node->location())));
  });
  return out;
}

std::vector<std::string> Executor::loops_step_by_step() const {
  std::vector<std::string> out;
  if (!context_) return out;
  for_each_step(program_, [&](const Program& owner, const Step& step) {
    if (step.kind != Step::Kind::Loop) return;
    const std::string& why = step_by_step_.at(&owner.loops[step.loop].body);
    if (!why.empty())
      out.push_back(fmt::format("scan at {} ({})", format_location(step.node->location()), why));
  });
  return out;
}

DeviceWork Executor::device_work() const {
  DeviceWork work;
  if (!context_) return work;
  for_each_step(program_, [&](const Program& owner, const Step& step) {
    if (step.kind == Step::Kind::Eval && runs_on_device(*step.node))
      work |= step.node->op().device_work;
    if (step.kind == Step::Kind::Loop && step_by_step_.at(&owner.loops[step.loop].body).empty())
      work.loops = true;
  });
  return work;
}

const Array& Executor::on_device(const Program& p, std::vector<Array>& values, int v) const {
  Array& value = values[v];
  if (value.context() == context_) return value;
  const Var& var = p.values[v];
  if (is_constant(var)) {
    std::lock_guard lock(constants_mutex_);
    auto [it, fresh] = device_constants_.try_emplace({&p, v});
    if (fresh) it->second = value.to(context_);
    return value = it->second;
  }
  return value = value.to(context_);
}

namespace {

// What the interpreter gives for a kernel step's results, on host copies of its operands.
std::vector<Array> interpret(const Program& p, const Step& step, const std::vector<Array>& values) {
  Bindings bindings;
  for (int v : step.inputs) bindings.emplace_back(p.values[v], values[v].to_host());
  std::vector<Var> results;
  for (int v : step.outputs) results.push_back(p.values[v]);
  return evaluate(results, bindings);
}

}  // namespace

void Executor::run_kernel_on_host(const Program& p, const Step& step,
                                  std::vector<Array>& values) const {
  std::vector<Array> outs = interpret(p, step, values);
  for (std::size_t i = 0; i < outs.size(); ++i) values[step.outputs[i]] = std::move(outs[i]);
}

void Executor::run_eval(const Program& p, const Step& step, std::vector<Array>& values,
                        IndexFaults* faults) const {
  std::vector<Array> ins;
  const bool here = context_ && runs_on_device(*step.node);
  const bool in_loop_body = context_ && step_by_step_.contains(&p);
  for (std::size_t i = 0; i < step.inputs.size(); ++i) {
    const int v = step.inputs[i];
    const bool where_it_is =
        stays_on_host(values[v]) || read_where_it_is(step.node->op(), i, in_loop_body);
    if (!context_) ins.push_back(values[v]);
    else if (!here) ins.push_back(values[v].to_host());  // no device form: copied over
    else ins.push_back(where_it_is ? values[v] : on_device(p, values, v));
  }
  const OpDef& op = step.node->op();
  if (here && op.family == OpFamily::Index)
    for (int i : op.anywhere_inputs)
      if (!ins[static_cast<std::size_t>(i)].on_host())
        faults->shapes[step.node] = ins[static_cast<std::size_t>(i)].shape();
  std::vector<Array> outs =
      step.node->op().eval(
          EvalArgs{*step.node, ins, here ? context_ : nullptr, faults ? &faults->note : nullptr});
  for (std::size_t i = 0; i < outs.size(); ++i) values[step.outputs[i]] = std::move(outs[i]);
}

Executor::Slots Executor::make_slots(const Program& p,
                                     const std::shared_ptr<IndexFaults>& faults) {
  Slots s;
  s.buffers.resize(p.num_slots);
  s.faults = faults;
  for (const ScanLoop& l : p.loops) s.loops.push_back(make_slots(l.body, faults));
  return s;
}

Executor::Slots Executor::new_slots() const {
  std::shared_ptr<IndexFaults> faults;
  if (context_)
    faults = std::shared_ptr<IndexFaults>(new IndexFaults, [context = context_](IndexFaults* f) {
      f->note.release(*context);
      delete f;
    });
  return make_slots(program_, faults);
}

void Executor::run_kernel(const Program& p, const Step& step, std::vector<Array>& values,
                          std::vector<Array>& slots, const std::vector<const Array*>* into) const {
  const LoopKernel& k = p.kernels[step.kernel];
  if (context_) {
    // Arithmetic on sizes (a few integers on the host) stays there; data goes over.
    const bool sizes_only = std::all_of(step.inputs.begin(), step.inputs.end(), [&](int v) {
      const Array& a = values[v];
      return a.on_host() && !is_float(a.dtype()) && a.size() <= max_size_operand;
    });
    if (sizes_only) return run_kernel_on_host(p, step, values);
    for (int v : step.inputs) on_device(p, values, v);
  }
  const int nd = k.num_dims;
  std::vector<long long> size(nd, -1);
  for (const KernelArg& a : k.operands) {
    const Array& x = values[a.value];
    for (std::size_t j = 0; j < a.dims.size(); ++j) {
      int d = a.dims[j];
      if (d < 0) continue;
      if (size[d] < 0) {
        size[d] = x.shape()[j];
      } else if (size[d] != x.shape()[j]) {
        const Node& n = *a.reader;
        throw_error(n.op().name,
                    fmt::format("shapes do not match at run time: ({}) has size {} where the "
                                "other operands have {}",
                                shapes_of(values, step.inputs), x.shape()[j], size[d]),
                    n.location());
      }
    }
  }
  for (int d = 0; d < nd; ++d) {
    if (size[d] < 0) size[d] = k.static_size[d];
    if (size[d] < 0 || (k.static_size[d] >= 0 && size[d] != k.static_size[d]))
      throw InternalError(fmt::format("kernel {}: dim {} has size {}", k.name, d, size[d]));
  }
  for (const Node* n : k.need_elements)
    for (int d : k.inner)
      if (size[d] == 0)
        throw_error(n->op().name,
                    fmt::format("cannot reduce an empty axis of {}{}: {} has no identity value",
                                dtype_name(n->input(0).dtype()),
                                shape_str(values[step.inputs.front()].shape()), n->op().name),
                    n->location());

  const int n_args = static_cast<int>(k.operands.size() + k.results.size());
  std::vector<char*> data(n_args);
  std::vector<long long> stride(static_cast<std::size_t>(n_args) * nd, 0);
  auto bind = [&](int a, const KernelArg& arg, const Array& x) {
    data[a] = static_cast<char*>(x.raw_data());
    for (std::size_t j = 0; j < arg.dims.size(); ++j)
      if (arg.dims[j] >= 0) stride[a * nd + arg.dims[j]] = x.strides()[j];
  };
  for (std::size_t a = 0; a < k.operands.size(); ++a)
    bind(static_cast<int>(a), k.operands[a], values[k.operands[a].value]);
  for (std::size_t r = 0; r < k.results.size(); ++r) {
    const KernelArg& res = k.results[r];
    Shape shape;
    for (int d : res.dims) shape.push_back(d < 0 ? 1 : size[d]);
    DType dtype = p.values[res.value].dtype();
    int slot = p.slot[res.value];
    const Array* place = into ? (*into)[res.value] : nullptr;
    Array& out = values[res.value];
    if (place && place->shape() == shape && place->dtype() == dtype) {
      out = *place;  // a scan body's result, written into its row of the stacked output
    } else if (slot < 0) {
      out = Array::empty(shape, dtype, context_);
    } else {
      std::size_t need = static_cast<std::size_t>(shape_size(shape)) * dtype_size(dtype);
      if (slots[slot].nbytes() < need || slots[slot].context() != context_)
        slots[slot] = Array::empty({static_cast<std::int64_t>(need)}, DType::UInt8, context_);
      out = slots[slot].reinterpret(shape, dtype);
    }
    bind(static_cast<int>(k.operands.size() + r), res, out);
  }

  if (launcher_) {
    launcher_(KernelCall{p, k, p.kernel_base + step.kernel, size, data, stride});
    return;
  }
  KernelFn* fn = kernels_[p.kernel_base + step.kernel];
  const int split = parallel_dim(k);
  std::int64_t total = 1, outer = 1;
  for (int d = 0; d < nd; ++d) {
    total *= size[d];
    if (std::find(k.inner.begin(), k.inner.end(), d) == k.inner.end() || !k.reduces) outer *= size[d];
  }
  // Nothing to write. (An empty reduction still runs: its results are the start values.)
  if (outer == 0) return;
  const std::int64_t extent = split < 0 ? 1 : size[split];
  const std::int64_t per_unit = std::max<std::int64_t>(1, total / std::max<std::int64_t>(1, extent));
  const std::int64_t grain = std::max<std::int64_t>(1, min_parallel_elements / per_unit);
  parallel_for(extent, grain, [&](std::int64_t begin, std::int64_t end) {
    fn(size.data(), data.data(), stride.data(), begin, end);
  });
}

namespace {

// A loop with fewer steps left after the first runs them one by one unless a recording
// kept from an earlier call fits: making one costs about one step run on the host, plus
// the device's set-up of the graph. (Not measured on a GPU yet.)
constexpr std::int64_t min_replayed_steps = 4;

// What DeviceContext::step_copies reads for a loop's replayed steps: per step, the copies
// between a buffer the recorded step uses (`fixed`) and that step's row of each
// (`rows[t][c]`, to the buffer or from it), with the largest unit (16, 4 or 1 bytes) every
// address and size allows. Rows must be contiguous.
struct StepTable {
  Array table;  // int64 [steps, copies, 3]: on the host as made, on the device once kept
  int unit = 1;
  std::int64_t longest = 0;
  bool empty() const { return table.size() == 0; }
};

StepTable step_table(const std::vector<Array>& fixed, const std::vector<std::vector<Array>>& rows,
                     bool to_fixed) {
  StepTable st;
  std::vector<std::int64_t> entries;
  std::uint64_t bits = 0;  // every address and size or-ed: its low bits decide the unit
  for (const std::vector<Array>& step : rows) {
    for (std::size_t c = 0; c < fixed.size(); ++c) {
      const auto a = reinterpret_cast<std::uintptr_t>(fixed[c].raw_data());
      const auto b = reinterpret_cast<std::uintptr_t>(step[c].raw_data());
      const auto bytes = static_cast<std::uint64_t>(step[c].nbytes());
      entries.push_back(static_cast<std::int64_t>(to_fixed ? a : b));
      entries.push_back(static_cast<std::int64_t>(to_fixed ? b : a));
      entries.push_back(static_cast<std::int64_t>(bytes));
      bits |= a | b | bytes;
    }
  }
  st.unit = bits % 16 == 0 ? 16 : bits % 4 == 0 ? 4 : 1;
  for (std::size_t e = 2; e < entries.size(); e += 3) {
    entries[e] /= st.unit;
    st.longest = std::max(st.longest, entries[e]);
  }
  const auto steps = static_cast<std::int64_t>(rows.size());
  const auto copies = static_cast<std::int64_t>(fixed.size());
  st.table = Array::from_vector(entries, {steps, copies, 3});
  return st;
}

// Why a loop body's step cannot be recorded (Executor::step_by_step_), or "" where it can. An op
// with no device form reads operands that change with each step on the host, and a
// recording cannot read them back; a loop or ifelse in the step reads its own counts or
// condition back.
std::string not_recordable(const Program& body) {
  for (const Step& step : body.steps) {
    const std::string at =
        step.node ? fmt::format(" at {}", format_location(step.node->location())) : "";
    if (step.kind == Step::Kind::Loop) return fmt::format("its step holds a scan{}", at);
    if (step.kind == Step::Kind::Branch) return fmt::format("its step holds an ifelse{}", at);
    if (step.kind != Step::Kind::Eval) continue;
    const OpDef& op = step.node->op();
    if (!runs_on_device(*step.node) && reads_data(*step.node))
      return fmt::format("{}{} has no device form", op.name, at);
  }
  return "";
}

}  // namespace

// A loop's recorded step, kept between calls in the body's Slots: the recording, and what
// its work uses. The recorded step reads and writes buffers of its own: one per body input
// (a row copied in at each step by the device, or, for a constant, copied in once per
// call) and one per result (copied out to its row at each step); tables of each step's
// row addresses, rewritten per call; the step counter; and the body's values as the
// recording left them (memory its work uses).
struct Executor::LoopReplay {
  // Calls whose step could not be recorded: the loop runs step by step, and tries again
  // on one later call (what refused may have been passing: a copy kernel not loaded yet).
  int refusals = 0;
  bool refused(const ScanChunk& chunk) const {
    return refusals >= 2 || (refusals == 1 && chunk.first != 1);  // step 1: a call's first chunk
  }
  std::unique_ptr<DeviceRecording> recording;
  std::vector<Array> inputs, places;
  std::vector<char> per_step;   // by body input: copied in at each step
  StepTable in, out;
  std::int64_t capacity = 0;    // steps the tables hold
  Array counter;                // int64 [3]: (step, end, stopped), DeviceContext::step_advance
  std::vector<Array> kept;
  std::int64_t last_steps = 0;  // the steps the loop ran in the last call that replayed it

  // Whether the recording fits a call with these rows (first, the buffers; then the tables
  // made for them: the unit and longest copy are the recorded kernel's parameters).
  bool fits(const std::vector<ScanRows>& steps, const std::vector<char>& varying) const {
    const ScanRows& r = steps.front();
    if (!recording || varying != per_step || capacity < static_cast<std::int64_t>(steps.size()) ||
        r.inputs.size() != inputs.size() || r.places.size() != places.size())
      return false;
    auto same_type = [](const Array& a, const Array& b) {
      return a.shape() == b.shape() && a.dtype() == b.dtype();
    };
    for (std::size_t j = 0; j < places.size(); ++j)
      if (!same_type(r.places[j], places[j])) return false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Array& now = r.inputs[i];
      if (!same_type(now, inputs[i]) || now.on_host() != inputs[i].on_host()) return false;
      if (now.on_host() && !array_equal(now, inputs[i])) return false;
    }
    return true;
  }
  bool fits(const StepTable& in_now, const StepTable& out_now) const {
    return in_now.unit == in.unit && in_now.longest == in.longest &&
           out_now.unit == out.unit && out_now.longest == out.longest;
  }
};

void Executor::run_loop(const Program& p, const Step& step, std::vector<Array>& values,
                        Slots& slots, bool check) const {
  const Program& body = p.loops[step.loop].body;
  Slots& body_slots = slots.loops[step.loop];
  // Device mode: the loop's data goes over once, not at every step that reads it.
  const std::string* step_by_step = context_ ? &step_by_step_.at(&body) : nullptr;
  if (context_)
    for (int v : step.inputs)
      if (!stays_on_host(values[v])) on_device(p, values, v);
  std::vector<Array> inputs;
  for (int v : step.inputs) inputs.push_back(values[v]);
  std::vector<Array> body_values(body.values.size());
  std::vector<const Array*> places(body.values.size(), nullptr);
  auto run_step = [&](const std::vector<Array>& step_inputs, const std::vector<const Array*>& into) {
    for (std::size_t i = 0; i < step_inputs.size(); ++i) body_values[body.inputs[i]] = step_inputs[i];
    // A value returned twice (two states equal) is written in place once; the loop copies
    // the other.
    for (int v : body.outputs) places[v] = nullptr;
    for (std::size_t i = 0; i < body.outputs.size(); ++i)
      if (!places[body.outputs[i]]) places[body.outputs[i]] = into[i];
    run_program(body, body_values, body_slots, check, &places);
    std::vector<Array> out;
    for (int v : body.outputs) out.push_back(body_values[v]);
    return out;
  };
  // On a device, the steps after the first are one recording replayed (debug mode
  // compares every kernel with the interpreter on the host: step by step). A while loop
  // is expected to run as many steps as it ran last time.
  ScanSteps rest;
  std::int64_t ran = 1;  // the first step, then each chunk's
  if (step_by_step && step_by_step->empty() && !check)
    rest = [&](const ScanChunk& chunk) {
      const ScanChunkRun chunk_ran = replay_steps(run_step, body_slots, body_values, chunk);
      if (chunk_ran.steps > 0) ran = chunk.first + chunk_ran.steps;
      return chunk_ran;
    };
  const std::int64_t expected = body_slots.replay ? body_slots.replay->last_steps : 0;
  std::vector<Array> outputs = run_scan(*step.node, inputs, run_step, context_, rest, expected);
  if (rest && body_slots.replay) body_slots.replay->last_steps = ran;
  for (std::size_t i = 0; i < outputs.size(); ++i) values[step.outputs[i]] = std::move(outputs[i]);
}

namespace {

// The table of copies per step between `fixed` and rows[t] (step_table), uploaded into
// `table` (capacity rows) from its first row.
void upload(const Array& table, const StepTable& st) {
  if (st.empty()) return;
  table.slice(0, 0, st.table.shape(0)).assign(st.table);
}

}  // namespace

ScanChunkRun Executor::replay_steps(const ScanStep& run_step, Slots& body_slots,
                                    const std::vector<Array>& body_values,
                                    const ScanChunk& chunk) const {
  std::shared_ptr<LoopReplay>& kept = body_slots.replay;
  if (chunk.last <= chunk.first || (kept && kept->refused(chunk))) return {};
  std::vector<ScanRows> steps;
  for (std::int64_t t = chunk.first; t < chunk.last; ++t) steps.push_back(chunk.rows(t));
  const ScanRows& r0 = steps.front();
  // An input that is the same view at every step (a broadcast sequence) is copied in once.
  // (A single step cannot tell: it copies in what the kept recording copies per step.)
  std::vector<char> varying(r0.inputs.size(), 0);
  for (int i = 0; i < chunk.per_step; ++i)
    varying[i] = !std::all_of(steps.begin(), steps.end(), [&](const ScanRows& step) {
      return step.inputs[i].same_view(r0.inputs[i]);
    });
  if (steps.size() == 1 && kept && kept->per_step.size() == varying.size()) varying = kept->per_step;
  // The device copies whole rows of its own: a strided one (a transposed sequence) is run
  // step by step.
  for (const ScanRows& step : steps) {
    for (std::size_t i = 0; i < varying.size(); ++i)
      if (varying[i] && (!step.inputs[i].is_contiguous() || step.inputs[i].on_host())) return {};
    for (const Array& place : step.places)
      if (!place.is_contiguous()) return {};
  }

  // The recording kept from an earlier call, or buffers for a new one.
  auto fresh = std::make_shared<LoopReplay>();
  auto tables_for = [&](const LoopReplay& lr, StepTable& in, StepTable& out) {
    std::vector<Array> fixed_in;
    std::vector<std::vector<Array>> rows_in(steps.size()), rows_out;
    for (std::size_t i = 0; i < varying.size(); ++i) {
      if (!varying[i]) continue;
      fixed_in.push_back(lr.inputs[i]);
      for (std::size_t t = 0; t < steps.size(); ++t) rows_in[t].push_back(steps[t].inputs[i]);
    }
    for (const ScanRows& step : steps) rows_out.push_back(step.places);
    in = step_table(fixed_in, rows_in, true);
    out = step_table(lr.places, rows_out, false);
  };
  StepTable in, out;
  bool reuse = false;
  if (kept && kept->fits(steps, varying)) {
    tables_for(*kept, in, out);
    reuse = kept->fits(in, out);
  }
  const auto n_steps = static_cast<std::int64_t>(steps.size());
  // A short loop is not worth a recording of its own, but replays one that fits.
  if (!reuse && n_steps < min_replayed_steps) return {};
  LoopReplay& lr = reuse ? *kept : *fresh;
  if (!reuse) {
    // Device inputs get a buffer; host ones (sizes) are read where they are (a copy: a
    // later call with other values records again).
    for (const Array& x : r0.inputs)
      lr.inputs.push_back(x.on_host() ? x.copy() : Array::empty(x.shape(), x.dtype(), context_));
    for (const Array& place : r0.places)
      lr.places.push_back(Array::empty(place.shape(), place.dtype(), context_));
    lr.per_step = varying;
    tables_for(lr, in, out);
    // Room for the longest chunk the loop may ask (a while loop's grow).
    lr.capacity = std::max(n_steps, chunk.most);
    auto room = [&](const StepTable& st) {
      return Array::empty({lr.capacity, st.table.shape(1), 3}, DType::Int64, context_);
    };
    lr.in = in;
    lr.out = out;
    lr.in.table = in.empty() ? Array() : room(in);
    lr.out.table = room(out);
    lr.counter = Array::empty({3}, DType::Int64, context_);
  }
  // This chunk's rows, constants and counter, in queue order before the replays.
  upload(lr.in.table, in);
  upload(lr.out.table, out);
  lr.counter.assign(Array::from_vector(std::vector<std::int64_t>{0, n_steps, 0}, {3}));
  for (std::size_t i = 0; i < r0.inputs.size(); ++i)
    if (!varying[i] && !r0.inputs[i].on_host()) lr.inputs[i].assign(r0.inputs[i]);

  if (!reuse) {
    std::vector<const Array*> into;
    for (const Array& place : lr.places) into.push_back(&place);
    if (chunk.until) into.push_back(nullptr);  // the condition
    try {
      lr.recording = context_->record([&] {
        if (!lr.in.empty())
          context_->step_copies(lr.in.table, lr.counter, lr.in.unit, lr.in.longest);
        const std::vector<Array> results = run_step(lr.inputs, into);
        for (std::size_t j = 0; j < lr.places.size(); ++j) {
          if (results[j].same_view(lr.places[j])) continue;
          // Not the shape the first step gave: the step-by-step run says what is wrong.
          if (results[j].shape() != lr.places[j].shape())
            throw NotRecordable("a step's result changed shape");
          lr.places[j].assign(results[j]);
        }
        context_->step_copies(lr.out.table, lr.counter, lr.out.unit, lr.out.longest);
        // A while loop's condition, read where the recorded step leaves it.
        const Array* stop = chunk.until ? &results.back() : nullptr;
        if (stop && stop->context() != context_)
          throw NotRecordable("a while loop's condition is computed on the host");
        context_->step_advance(lr.counter, stop);
      });
    } catch (const NotRecordable&) {
      lr.recording = nullptr;
    }
    if (!lr.recording) {
      const int refusals = kept ? kept->refusals : 0;
      kept = std::make_shared<LoopReplay>();
      kept->refusals = refusals + 1;
      return {};
    }
    lr.kept = body_values;
    kept = fresh;
  }
  for (std::int64_t t = 0; t < n_steps; ++t) lr.recording->replay();
  if (!chunk.until) return {.steps = n_steps};
  // How far the loop got: one read back per chunk.
  const std::vector<std::int64_t> counter = lr.counter.to_host().to_vector<std::int64_t>();
  return {.steps = counter[0], .stopped = counter[2] != 0};
}

void Executor::run_branch(const Program& p, const Step& step, std::vector<Array>& values,
                          Slots& slots, bool check) const {
  const int picked = step.loop + (values[step.inputs[0]].astype(DType::Bool).item<bool>() ? 0 : 1);
  const Program& branch = p.loops[picked].body;
  std::vector<Array> branch_values(branch.values.size());
  std::vector<const Array*> operands;
  for (std::size_t i = 0; i < branch.inputs.size(); ++i) {
    branch_values[branch.inputs[i]] = values[step.inputs[1 + i]];
    operands.push_back(&values[step.inputs[1 + i]]);
  }
  Slots& kept = slots.loops[picked];
  run_program(branch, branch_values, kept, check, nullptr);
  for (std::size_t i = 0; i < branch.outputs.size(); ++i) {
    Array out = branch_values[branch.outputs[i]];
    // The buffer plan takes a branch's results to be fresh memory, as a kernel's are: a
    // value the branch passes through (an operand, a constant) or a view of a buffer it
    // keeps between calls is copied.
    auto shares = [&](const Array& a) { return a.storage() && out.shares_storage(a); };
    const bool borrowed =
        is_constant(branch.values[branch.outputs[i]]) ||
        std::any_of(operands.begin(), operands.end(), [&](const Array* a) { return shares(*a); }) ||
        std::any_of(kept.buffers.begin(), kept.buffers.end(), shares);
    values[step.outputs[i]] = borrowed ? out.copy() : std::move(out);
  }
}

void Executor::run_program(const Program& p, std::vector<Array>& values, Slots& slots,
                           bool check, const std::vector<const Array*>* into) const {
  for (const auto& [id, var] : p.sources) {
    if (is_constant(var)) {
      values[id] = *constant_value(var);
      continue;
    }
    // A device program's state moves to its device for good, except what its evals read
    // wherever it is (host_resident_); a host program reads a host copy of state that lives
    // on a device.
    const SharedVar shared(var);
    const bool stays = context_ && &p == &program_ && host_resident_[id];
    if (context_ && !stays) shared.state()->place(context_);
    values[id] = context_ ? shared.get_value(/*borrow=*/true)
                          : shared.get_value(/*borrow=*/true).to_host();
  }
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    const Step& step = p.steps[s];
    if (step.kind == Step::Kind::Kernel) {
      run_kernel(p, step, values, slots.buffers, into);
    } else if (step.kind == Step::Kind::Loop) {
      run_loop(p, step, values, slots, check);
    } else if (step.kind == Step::Kind::Branch) {
      run_branch(p, step, values, slots, check);
    } else {
      run_eval(p, step, values, slots.faults.get());
    }
    if (check && step.kind == Step::Kind::Kernel) {
      std::vector<Array> want = interpret(p, step, values);
      for (std::size_t i = 0; i < want.size(); ++i) {
        std::string where;
        if (close_enough(values[step.outputs[i]], want[i], where)) continue;
        // The kernel computes its nodes without storing them: name all of them, in order.
        const LoopKernel& k = p.kernels[step.kernel];
        std::vector<std::string> nodes;
        for (const Node* kn : k.nodes)
          nodes.push_back(fmt::format("{} at {}", kn->op().name, format_location(kn->location())));
        const Node& n = *p.values[step.outputs[i]].node();
        throw_error(n.op().name,
                    fmt::format("debug mode: compiled kernel {} differs from the interpreter: {}; "
                                "the kernel computes {}",
                                k.name, where, fmt::join(nodes, ", ")),
                    n.location());
      }
    }
    static const Array released;  // shared, so that releasing allocates nothing
    for (int v : p.release_after[s]) values[v] = released;
  }
}

namespace {

// The eval step of `p` (or of a loop or branch in it) whose node is at `site`.
const Node* node_at(const Program& p, std::uint64_t site) {
  for (const Step& step : p.steps)
    if (step.kind == Step::Kind::Eval && reinterpret_cast<std::uintptr_t>(step.node) == site)
      return step.node;
  for (const ScanLoop& loop : p.loops)
    if (const Node* node = node_at(loop.body, site)) return node;
  return nullptr;
}

}  // namespace

void Executor::raise_index_fault(IndexFaults& faults) const {
  const std::optional<DeviceIndexFault> fault = context_->index_fault(faults.note);
  if (!fault) return;
  const std::string how = fmt::format(
      "read on {} from indices it holds; the call's results are dropped and its updates not "
      "applied",
      device().str());
  const Node* node = node_at(program_, fault->site);
  CGVM_ASSERT(node, "a call's note of index faults names only the call's own lookups");
  const auto shape = faults.shapes.find(node);  // recorded when it ran
  const Shape indices = shape != faults.shapes.end() ? shape->second : Shape{};
  const auto axis = static_cast<int>(node->attrs().get_int("axis"));
  throw_error(node->op().name,
              fmt::format("{} ({})",
                          index_detail::index_out_of_bounds(fault->index, axis, fault->size,
                                                            indices, fault->position),
                          how),
              node->location());
}

std::vector<Array> Executor::run(const std::vector<Array>& inputs, bool check) const {
  const Program& p = program_;
  std::vector<Array> values(p.values.size());
  for (std::size_t i = 0; i < p.inputs.size(); ++i) values[p.inputs[i]] = inputs[i];

  // Concurrent calls of one function: the first takes the kept slots, the others get fresh
  // ones for their call.
  std::unique_lock lock(slots_mutex_, std::try_to_lock);
  Slots own_slots;
  if (!lock.owns_lock()) own_slots = new_slots();
  Slots& slots = lock.owns_lock() ? slots_ : own_slots;
  // The note's words are made now: not while a loop's step is being recorded.
  if (context_ && looks_up_) slots.faults->note.words(*context_);
  run_program(p, values, slots, check, nullptr);
  if (context_) raise_index_fault(*slots.faults);

  std::vector<Array> results;
  for (int v : p.outputs) {
    Array r = context_ && !host_resident_[v] ? values[v].to(context_) : values[v];
    // A result must not share a kept buffer: the next call would overwrite it.
    bool in_slot = std::any_of(slots.buffers.begin(), slots.buffers.end(),
                               [&](const Array& b) { return b.storage() && r.shares_storage(b); });
    results.push_back(in_slot ? r.copy() : r);
  }
  return results;
}

}  // namespace cgvm
