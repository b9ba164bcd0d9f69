#include "cuda/context.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "cuda/blas.hpp"
#include "cuda/module.hpp"
#include "runtime/array.hpp"
#include "runtime/log.hpp"

namespace cgvm::cuda {

struct Context::CopyKernel {
  CopyKernel(Program p, int device) : program(std::move(p)), kernels(program, device) {}
  Program program;
  ProgramKernels kernels;
};

void Context::copy(CopyKind kind, const Array& dst, const Array& src) {
  const CopyKey key = copy_key(kind, dst, src);
  CopyKernel* k;
  {
    std::lock_guard lock(mutex_);
    auto& entry = copy_kernels_[key];
    if (!entry) {
      // A module cannot be loaded while a stream is captured: the loop runs step by step,
      // which loads it.
      refuse_while_recording("loading a copy kernel");
      entry = std::make_unique<CopyKernel>(copy_program(key), ordinal_);
    }
    k = entry.get();
  }
  k->kernels.launch(ElementwiseCall::copy(k->program, kind, dst, src).call(), stream());
}

std::shared_ptr<Context> Context::get(int device, const std::source_location& where) {
  require(where);
  const int count = device_count();
  if (device < 0 || device >= count)
    throw_error("cuda", fmt::format("there is no device {}: {} device(s) found", device, count),
                where);
  // Per plugin instance too: after detail::reload_plugin() (tests) a device is reached
  // through another driver, and a context made through the old one must not be handed out.
  // Never destroyed: at exit the driver may already be shutting down, and a stream freed
  // then would only fail.
  static std::mutex mutex;
  static auto& contexts =
      *new std::map<std::pair<const CgvmCudaPlugin*, int>, std::shared_ptr<Context>>();
  std::lock_guard lock(mutex);
  auto& context = contexts[{&detail::driver_plugin(), device}];
  if (!context) context = std::make_shared<Context>(device);
  return context;
}

// The stream is made on the device: set it current before the members are built.
Context::Context(int device)
    : ordinal_(device), info_((set_device(device), device_info(device))) {}

// What record() makes: the graph, and the memory released while it was captured, which
// the graph may use and which is released once the graph is gone (in stream order, after
// the replays queued).
class Context::Recording final : public DeviceRecording {
 public:
  explicit Recording(Context& context) : context_(context) {}
  ~Recording() override {
    graph_ = GraphExec();
    for (void* p : released_) context_.release(p, 0);
  }

 private:
  friend class Context;
  void queue() override {
    set_device(context_.ordinal_);
    graph_.launch(context_.stream_);
  }
  Context& context_;  // contexts are never destroyed (get())
  GraphExec graph_;
  std::vector<void*> released_;
};

namespace {
// The recording the calling thread is making, and on which context.
struct Recorder {
  const Context* context = nullptr;
  DeviceRecording* recording = nullptr;
};
thread_local Recorder this_thread_records;
}  // namespace

Context::Recording* Context::recording() const {
  return this_thread_records.context == this
             ? static_cast<Recording*>(this_thread_records.recording)
             : nullptr;
}

StreamRef Context::stream() const {
  return recording() ? capture_stream_->ref() : stream_.ref();
}

void Context::refuse_while_recording(const char* what) const {
  if (recording())
    throw NotRecordable(fmt::format("cuda: {} cannot be recorded in a graph", what));
}

void* Context::allocate(std::size_t bytes) {
  set_device(ordinal_);
  // Stream-ordered memory rejects 0 bytes; an empty array still gets a distinct address.
  // Always on the context's stream, while recording too: not on the captured one, where the
  // graph would own the allocation; a graph's replays run on this stream, after it, and so
  // does the ordinary run of a step whose recording failed.
  return reinterpret_cast<void*>(
      static_cast<std::uintptr_t>(allocate_async(bytes ? bytes : 1, stream_)));
}

void Context::release(void* ptr, std::size_t) noexcept {
  if (Recording* r = recording()) {
    try {
      r->released_.push_back(ptr);
      return;
    } catch (const std::exception&) {
      // Out of host memory: leaked, rather than freed under the graph.
      return;
    }
  }
  try {
    free_async(static_cast<DevicePtr>(reinterpret_cast<std::uintptr_t>(ptr)), stream_);
  } catch (const std::exception&) {
    // Freeing only fails when the device is already lost; the memory goes with it.
  }
}

namespace {
DevicePtr address(const void* p) { return static_cast<DevicePtr>(reinterpret_cast<std::uintptr_t>(p)); }
}  // namespace

void Context::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
  refuse_while_recording("a copy to the host");
  set_device(ordinal_);
  cuda::copy_to_host(host_dst, address(device_src), bytes, stream_);
}

void Context::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
  refuse_while_recording("a copy from the host");
  set_device(ordinal_);
  // From pageable memory (every Array's) the driver stages the bytes before returning, so
  // the caller may reuse host_src at once, and the stream's queued work is not waited for.
  // (The driver's documentation promises only that such a copy "might be synchronous with
  // respect to host"; drivers do stage it, and this relies on that.)
  cuda::copy_to_device_async(address(device_dst), host_src, bytes, stream_);
}

void Context::convert(const Array& dst, const Array& src) {
  if (dst.size() == 0) return;
  set_device(ordinal_);
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    copy_device_async(address(dst.raw_data()), address(src.raw_data()), dst.nbytes(), stream());
    return;
  }
  copy(CopyKind::Convert, dst, src);
}

void Context::accumulate(const Array& dst, const Array& src) {
  if (dst.size() == 0) return;
  set_device(ordinal_);
  copy(CopyKind::Accumulate, dst, src);
}

void Context::gemm(const DeviceGemm& g) {
  set_device(ordinal_);
  // cuBLAS is column-major: the row-major C = op(A) op(B) is C^T = op(B)^T op(A)^T.
  cuda::gemm(Gemm{.dtype = g.dtype, .transpose_a = g.trans_b, .transpose_b = g.trans_a,
                  .m = g.n, .n = g.m, .k = g.k, .alpha = g.alpha, .beta = g.beta,
                  .a = address(g.b), .b = address(g.a), .c = address(g.c),
                  .lda = g.ldb, .ldb = g.lda, .ldc = g.ldc, .stream = stream()});
}

struct Context::DeviceKernels {
  std::vector<Module> modules;           // the units loaded so far
  std::map<std::string, Kernel> kernels;  // theirs
};

void Context::load_device_unit(const DeviceKernelUnit& unit) {
  if (!device_kernels_) device_kernels_ = std::make_unique<DeviceKernels>();
  DeviceKernels& k = *device_kernels_;
  if (k.kernels.contains(unit.kernels.front().first)) return;
  // A module cannot be loaded while a stream is captured: the loop runs step by step,
  // which loads it.
  refuse_while_recording("loading the device's kernels");
  CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  options.program_name = unit.name + ".cu";
  Module& module = k.modules.emplace_back(Module::build(unit.source, info_, options));
  for (const auto& entry : unit.kernels) k.kernels[entry.first] = module.kernel(entry.first);
}

const Kernel& Context::device_kernel(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!device_kernels_ || !device_kernels_->kernels.contains(name))
    load_device_unit(device_kernel_unit(name));
  return device_kernels_->kernels.at(name);
}

void Context::prepare(const DeviceWork& work) {
  set_device(ordinal_);
  std::lock_guard lock(mutex_);
  for (const DeviceKernelUnit* unit : device_kernel_units_for(work)) load_device_unit(*unit);
}

void Context::run(const DeviceKernelLaunch& launch) {
  if (launch.total == 0) return;
  const Kernel* kernel = &device_kernel(launch.kernel);
  const CudaDeviceShape shape{.multiprocessors = info_.multiprocessors,
                              .max_threads_per_block = info_.max_threads_per_block};
  std::vector<long long> words = launch.words;
  void* params[] = {words.data(), nullptr};
  kernel->launch({.grid = {static_cast<unsigned>(launch.grid(shape))},
                  .block = {static_cast<unsigned>(launch.block(shape))},
                  .stream = stream()},
                 params);
}

void Context::run_with_scratch(
    std::size_t bytes, const std::function<std::vector<DeviceKernelLaunch>(long long)>& make) {
  void* scratch = bytes ? allocate(bytes) : nullptr;
  try {
    for (const DeviceKernelLaunch& launch : make(static_cast<long long>(address(scratch))))
      run(launch);
  } catch (...) {
    if (scratch) release(scratch, bytes);
    throw;
  }
  if (scratch) release(scratch, bytes);
}

namespace {

// Host index rows moved to the device for one kernel; freed in stream order after it.
class DeviceRows {
 public:
  DeviceRows(std::span<const std::int64_t> rows, StreamRef stream)
      : buffer_(std::max<std::size_t>(rows.size_bytes(), 1), stream) {
    if (!rows.empty()) copy_to_device_async(buffer_.get(), rows.data(), rows.size_bytes(), stream);
  }
  long long address() const { return static_cast<long long>(buffer_.get()); }

 private:
  StreamBuffer buffer_;
};

}  // namespace

IndexCheck Context::index_check(const FaultSite& at) {
  return {.fault = static_cast<long long>(reinterpret_cast<std::uintptr_t>(at.note->words(*this))),
          .site = at.site};
}

void Context::expect_fault(DeviceFaultNote& note) {
  if (Recording* r = recording()) r->writes(note);
  else note.expect();
}

void Context::gather(const Array& out, const Array& x, std::span<const std::int64_t> rows,
                     int axis) {
  if (out.size() == 0) return;
  refuse_while_recording("a gather (its rows come from the host)");
  set_device(ordinal_);
  const DeviceRows device_rows(rows, stream_);
  run(gather_launch(out, x, device_rows.address(), axis, index_check({&host_rows_fault_, 0})));
}

void Context::scatter(const Array& out, const Array& y, const ScatterRows& rows, int axis,
                      bool set) {
  if (y.size() == 0) return;
  refuse_while_recording("a scatter (its rows come from the host)");
  set_device(ordinal_);
  const DeviceRows packed(packed_scatter_rows(rows), stream_);
  run(scatter_launch(out, y, rows, packed.address(), axis, set));
}

void Context::gather(const Array& out, const Array& x, const Array& rows, int axis,
                     const FaultSite& at) {
  if (out.size() == 0) return;
  set_device(ordinal_);
  run(gather_launch(out, x, static_cast<long long>(address(rows.raw_data())), axis,
                    index_check(at)));
  expect_fault(*at.note);
}

void Context::scatter(const Array& out, const Array& y, const Array& rows, int axis, bool set,
                      const FaultSite& at) {
  if (y.size() == 0) return;
  set_device(ordinal_);
  run_with_scratch(device_scatter_scratch_bytes(rows.size()), [&](long long scratch) {
    return device_scatter_launches(out, y, rows, scratch, axis, set, index_check(at));
  });
  expect_fault(*at.note);
}

void Context::arg_reduce(const Array& out, const Array& x, bool max) {
  if (out.size() == 0) return;
  set_device(ordinal_);
  run(arg_reduce_launch(out, x, max));
}

void Context::draw(const Array& out, const DeviceDraw& draw) {
  if (out.size() == 0) return;
  set_device(ordinal_);
  run(draw_launch(out, draw));
}

void Context::draw(const Array& out, const DeviceDraw& draw, const Array& state,
                   const Array& next) {
  set_device(ordinal_);
  if (draw.kind != DeviceDraw::Kind::Integers) {
    run(draw_launch(out, draw, &state, &next));
    return;
  }
  run_with_scratch(integers_scratch_bytes(draw, out.size()), [&](long long scratch) {
    return integers_launches(out, draw, state, next, scratch);
  });
}

void Context::step_copies(const Array& table, const Array& counter, int unit,
                          std::int64_t longest) {
  set_device(ordinal_);
  run(step_copies_launch(table, counter, unit, longest));
}

void Context::step_advance(const Array& counter, const Array* stop) {
  set_device(ordinal_);
  run(step_advance_launch(counter, stop));
}

void Context::synchronize() {
  refuse_while_recording("a wait for the device");
  stream_.synchronize();
}

std::unique_ptr<DeviceRecording> Context::record(const std::function<void()>& issue) {
  if (graphs_failed_ || !graphs_enabled()) return nullptr;
  CGVM_ASSERT(!this_thread_records.recording, "a thread records one thing at a time");
  std::lock_guard lock(record_mutex_);
  set_device(ordinal_);
  // A failure of the recording's machinery (its kernels, streams, the capture, a call
  // under capture, the graph's instantiation) turns graphs off for this context.
  auto give_up = [&](const Error& e) {
    graphs_failed_ = true;
    warn(fmt::format("cuda: recording a graph failed, so loops on {} run step by step from "
                     "now on: {}",
                     device().str(), e.what()));
  };
  try {
    // The step's copies are made now, if no device function made them (prepare): a module
    // is not loaded while a stream is captured. (A step's other device kernels were made
    // by then, at the latest by its first run, which is not recorded.)
    prepare({.loops = true});
    if (!capture_stream_) capture_stream_ = std::make_unique<Stream>();
  } catch (const Error& e) {
    give_up(e);
    return nullptr;
  }
  auto recording = std::make_unique<Recording>(*this);
  {
    this_thread_records = {this, recording.get()};
    struct Stop {
      ~Stop() { this_thread_records = {}; }
    } stop;
    try {
      begin_capture(*capture_stream_);
    } catch (const Error& e) {
      give_up(e);
      return nullptr;
    }
    try {
      issue();
    } catch (const NotRecordable&) {
      abort_capture(*capture_stream_);
      throw;
    } catch (const Error& e) {
      // The driver refusing a call under capture: the step ran before without an error,
      // and a step that reads nothing back repeats what it did then.
      abort_capture(*capture_stream_);
      give_up(e);
      return nullptr;
    } catch (...) {
      abort_capture(*capture_stream_);
      throw;
    }
    try {
      recording->graph_ = end_capture(*capture_stream_);
    } catch (const Error& e) {
      give_up(e);
      return nullptr;
    }
  }
  return recording;
}

}  // namespace cgvm::cuda
