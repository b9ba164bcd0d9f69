#include "emulated_gpu.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda/backend.hpp"
#include "cuda/compile.hpp"
#include "cuda_test_paths.hpp"
#include "runtime/blas.hpp"
#include "support.hpp"

namespace cgvm::test {
namespace {

constexpr std::uintptr_t kDeviceBit = std::uintptr_t(1) << 62;

void* flip(const void* p) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) ^ kDeviceBit);
}

// `call` with its device addresses turned back into host ones, for the emulator.
void launch_on_host(CudaEmulator& emulator, const KernelCall& call) {
  std::vector<char*> data(call.data.size());
  for (std::size_t a = 0; a < data.size(); ++a) data[a] = static_cast<char*>(EmulatedGpu::host(call.data[a]));
  emulator.launch(KernelCall{call.program, call.kernel, call.index, call.size, data, call.stride});
}

}  // namespace

void* EmulatedGpu::host(const void* device_address) { return flip(device_address); }

// The work kept by record(), and the memory released meanwhile.
class EmulatedGpu::Recording final : public DeviceRecording {
 public:
  explicit Recording(EmulatedGpu& gpu) : gpu_(gpu) {}
  ~Recording() override {
    for (auto [p, bytes] : released_) gpu_.release(p, bytes);
  }

 private:
  friend class EmulatedGpu;
  void queue() override {
    ++gpu_.replays;
    for (const auto& w : work_) w();
  }
  EmulatedGpu& gpu_;
  std::vector<std::function<void()>> work_;
  std::vector<std::pair<void*, std::size_t>> released_;
};

EmulatedGpu::Recording* EmulatedGpu::recording() const {
  Recording* r = recording_.load();
  return r && recorder_ == std::this_thread::get_id() ? r : nullptr;
}

void EmulatedGpu::submit(std::function<void()> work) {
  if (Recording* r = recording()) r->work_.push_back(std::move(work));
  else work();
}

void EmulatedGpu::refuse_while_recording(const char* what) const {
  if (recording()) throw NotRecordable(std::string("emulated GPU: ") + what + " while recording");
}

std::unique_ptr<DeviceRecording> EmulatedGpu::record(const std::function<void()>& issue) {
  REQUIRE_MESSAGE(!recording(), "a thread records one thing at a time");
  std::lock_guard lock(record_mutex_);
  auto recording = std::make_unique<Recording>(*this);
  recorder_ = std::this_thread::get_id();
  recording_ = recording.get();
  struct Stop {
    EmulatedGpu& gpu;
    ~Stop() { gpu.recording_ = nullptr; }
  } stop{*this};
  try {
    issue();
  } catch (const NotRecordable&) {
    ++refusals;
    throw;
  }
  ++recordings;
  return recording;
}

void EmulatedGpu::synchronize() { refuse_while_recording("a wait"); }

void EmulatedGpu::step_copies(const Array& table, const Array& counter, int unit,
                              std::int64_t longest) {
  CHECK_MESSAGE(table.device() == device(), "the table is on " << table.device().str());
  CHECK_MESSAGE(counter.device() == device(), "the counter is on " << counter.device().str());
  step_table_bytes += table.nbytes();
  // The table holds device addresses, which the emulation cannot follow: the kernel runs on
  // a copy with the host's, made when it runs (a recording's table is rewritten per call).
  const DeviceKernelLaunch launch = step_copies_launch(table, counter, unit, longest);
  const void* device_table = table.raw_data();
  const auto words = static_cast<std::size_t>(table.size());
  submit([this, launch, device_table, words] {
    std::vector<long long> entries(words);
    std::memcpy(entries.data(), host(device_table), words * sizeof(long long));
    for (std::size_t e = 0; e < words; e += 3)
      for (std::size_t a : {e, e + 1})
        entries[a] = reinterpret_cast<long long>(host(reinterpret_cast<void*>(entries[a])));
    DeviceKernelLaunch on_host = launch;
    on_host.words[0] = reinterpret_cast<long long>(entries.data());
    on_host.words[1] = reinterpret_cast<long long>(host(reinterpret_cast<void*>(launch.words[1])));
    run_now(on_host);
  });
}

void EmulatedGpu::step_advance(const Array& counter, const Array* stop) {
  CHECK_MESSAGE(counter.device() == device(), "the counter is on " << counter.device().str());
  if (stop) CHECK_MESSAGE(stop->device() == device(), "the condition is on " << stop->device().str());
  run(step_advance_launch(counter, stop));
}

void* EmulatedGpu::allocate(std::size_t bytes) {
  void* p = std::aligned_alloc(64, (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64);
  if (!p) throw Error("emulated GPU: out of memory");
  std::lock_guard lock(mutex_);
  ++live_allocations;
  return flip(p);
}

void EmulatedGpu::release(void* ptr, std::size_t bytes) noexcept {
  if (Recording* r = recording()) {
    r->released_.emplace_back(ptr, bytes);
    return;
  }
  // Poisoned: work that still reads it (a replay of memory gone) sees NaNs, not old values.
  std::memset(flip(ptr), 0xFF, bytes);
  std::free(flip(ptr));
  std::lock_guard lock(mutex_);
  --live_allocations;
}

void EmulatedGpu::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
  refuse_while_recording("a copy to the host");
  std::memcpy(host_dst, flip(device_src), bytes);
  bytes_to_host += bytes;
}

void EmulatedGpu::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
  refuse_while_recording("a copy from the host");
  std::memcpy(flip(device_dst), host_src, bytes);
  bytes_from_host += bytes;
}

void EmulatedGpu::copy(CopyKind kind, const Array& dst, const Array& src) {
  CHECK_MESSAGE(dst.device() == device(), "dst is on " << dst.device().str());
  CHECK_MESSAGE(src.device() == device(), "src is on " << src.device().str());
  const CopyKey key = copy_key(kind, dst, src);
  CopyKernel* k;
  {
    std::lock_guard lock(mutex_);
    ++(kind == CopyKind::Accumulate ? accumulations : conversions);
    auto [it, fresh] = copy_kernels_.try_emplace(key);
    if (fresh) {
      it->second.program = copy_program(key);
      it->second.emulator = std::make_unique<CudaEmulator>(it->second.program);
    }
    k = &it->second;
  }
  // By address, as a GPU's launch: a recording keeps no array alive.
  auto call = std::make_shared<ElementwiseCall>(ElementwiseCall::copy(k->program, kind, dst, src));
  submit([k, call] { launch_on_host(*k->emulator, call->call()); });
}

void EmulatedGpu::convert(const Array& dst, const Array& src) { copy(CopyKind::Convert, dst, src); }

void EmulatedGpu::accumulate(const Array& dst, const Array& src) {
  copy(CopyKind::Accumulate, dst, src);
}

void EmulatedGpu::gemm(const DeviceGemm& g) {
  ++products;
  submit([g] { gemm_on_host(g); });
}

void EmulatedGpu::gemm_on_host(const DeviceGemm& g) {
  if (g.dtype == DType::Float32)
    blas::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, static_cast<float>(g.alpha),
               static_cast<const float*>(flip(g.a)), g.lda, static_cast<const float*>(flip(g.b)),
               g.ldb, static_cast<float>(g.beta), static_cast<float*>(flip(g.c)), g.ldc);
  else if (g.dtype == DType::Float64)
    blas::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, static_cast<const double*>(flip(g.a)),
               g.lda, static_cast<const double*>(flip(g.b)), g.ldb, g.beta,
               static_cast<double*>(flip(g.c)), g.ldc);
  else
    FAIL("emulated GPU: gemm of " << dtype_name(g.dtype));
}

std::vector<std::string> EmulatedGpu::device_units() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& unit : device_units_) names.push_back(unit.first);
  return names;
}

void EmulatedGpu::load_unit(const DeviceKernelUnit& unit) {
  if (device_kernels_.contains(unit.kernels.front().first)) return;
  refuse_while_recording("loading the device's kernels");
  auto emulated = std::make_unique<CudaEmulator>(unit.source, unit.kernels);
  CudaEmulator* emulator = device_units_.emplace_back(unit.name, std::move(emulated)).second.get();
  for (const auto& k : unit.kernels) device_kernels_[k.first] = emulator;
}

void EmulatedGpu::prepare(const DeviceWork& work) {
  std::lock_guard lock(mutex_);
  for (const DeviceKernelUnit* unit : device_kernel_units_for(work)) load_unit(*unit);
}

std::vector<CopyKey> EmulatedGpu::copy_programs() const {
  std::lock_guard lock(mutex_);
  std::vector<CopyKey> keys;
  for (const auto& entry : copy_kernels_) keys.push_back(entry.first);
  return keys;
}

void EmulatedGpu::run_now(const DeviceKernelLaunch& on_host) {
  CudaEmulator* unit_emulator = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!device_kernels_.contains(on_host.kernel)) load_unit(device_kernel_unit(on_host.kernel));
    unit_emulator = device_kernels_.at(on_host.kernel);
  }
  const CudaDeviceShape& shape = CudaEmulator::device_shape;
  unit_emulator->run(on_host.kernel, on_host.total ? on_host.grid(shape) : 0,
                     on_host.block(shape), on_host.words);
}

void EmulatedGpu::run(const DeviceKernelLaunch& launch, std::span<const std::int64_t> rows) {
  DeviceKernelLaunch on_host = launch;
  void* device_rows = nullptr;
  if (launch.rows_word >= 0) {
    device_rows = allocate(rows.size_bytes());
    copy_from_host(device_rows, rows.data(), rows.size_bytes());
    on_host.words[static_cast<std::size_t>(launch.rows_word)] = reinterpret_cast<long long>(device_rows);
  }
  for (int w = 0; w < launch.addresses; ++w)
    on_host.words[w] = reinterpret_cast<long long>(flip(reinterpret_cast<void*>(on_host.words[w])));
  submit([this, on_host] { run_now(on_host); });
  if (device_rows) release(device_rows, rows.size_bytes());
}

void EmulatedGpu::run_with_scratch(
    std::size_t bytes, const std::function<std::vector<DeviceKernelLaunch>(long long)>& make) {
  void* scratch = bytes ? allocate(bytes) : nullptr;
  for (const DeviceKernelLaunch& launch : make(reinterpret_cast<long long>(scratch))) run(launch);
  if (scratch) release(scratch, bytes);  // while recording: once the recording is gone
}

void EmulatedGpu::gather(const Array& out, const Array& x, std::span<const std::int64_t> rows,
                         int axis) {
  CHECK_MESSAGE(x.device() == device(), "x is on " << x.device().str());
  ++gathers;
  run(gather_launch(out, x, 0, axis, index_check({&host_rows_fault_, 0})), rows);
}

void EmulatedGpu::scatter(const Array& out, const Array& y, const ScatterRows& rows, int axis,
                          bool set) {
  CHECK_MESSAGE(y.device() == device(), "y is on " << y.device().str());
  ++scatters;
  run(scatter_launch(out, y, rows, 0, axis, set), packed_scatter_rows(rows));
}

EmulatedGpu::~EmulatedGpu() { host_rows_fault_.release(*this); }

IndexCheck EmulatedGpu::index_check(const FaultSite& at) {
  const long long before = live_allocations;
  void* words = at.note->words(*this);
  if (at.note == &host_rows_fault_) live_allocations = before;  // the context's own
  return {.fault = reinterpret_cast<long long>(words), .site = at.site};
}

void EmulatedGpu::expect_fault(DeviceFaultNote& note) {
  if (Recording* r = recording()) r->writes(note);
  else note.expect();
}

void EmulatedGpu::gather(const Array& out, const Array& x, const Array& rows, int axis,
                         const FaultSite& at) {
  CHECK_MESSAGE(x.device() == device(), "x is on " << x.device().str());
  CHECK_MESSAGE(rows.device() == device(), "the rows are on " << rows.device().str());
  ++device_gathers;
  if (out.size() == 0) return;
  run(gather_launch(out, x, reinterpret_cast<long long>(rows.raw_data()), axis,
                    index_check(at)));
  expect_fault(*at.note);
}

void EmulatedGpu::scatter(const Array& out, const Array& y, const Array& rows, int axis, bool set,
                          const FaultSite& at) {
  CHECK_MESSAGE(y.device() == device(), "y is on " << y.device().str());
  CHECK_MESSAGE(rows.device() == device(), "the rows are on " << rows.device().str());
  ++device_scatters;
  if (y.size() == 0) return;
  run_with_scratch(device_scatter_scratch_bytes(rows.size()), [&](long long scratch) {
    return device_scatter_launches(out, y, rows, scratch, axis, set, index_check(at));
  });
  expect_fault(*at.note);
}

std::optional<DeviceIndexFault> EmulatedGpu::index_fault(DeviceFaultNote& note) {
  const std::size_t before = bytes_to_host;
  std::optional<DeviceIndexFault> fault = note.read(*this);
  if (bytes_to_host != before) ++fault_reads;
  return fault;
}

void EmulatedGpu::arg_reduce(const Array& out, const Array& x, bool max) {
  CHECK_MESSAGE(x.device() == device(), "x is on " << x.device().str());
  ++arg_reductions;
  if (out.size() > 0) run(arg_reduce_launch(out, x, max));
}

void EmulatedGpu::draw(const Array& out, const DeviceDraw& draw) {
  CHECK_MESSAGE(out.device() == device(), "out is on " << out.device().str());
  ++draws;
  run(draw_launch(out, draw));
}

void EmulatedGpu::draw(const Array& out, const DeviceDraw& draw, const Array& state,
                       const Array& next) {
  CHECK_MESSAGE(out.device() == device(), "out is on " << out.device().str());
  CHECK_MESSAGE(state.device() == device(), "the state is on " << state.device().str());
  CHECK_MESSAGE(next.device() == device(), "the next state is on " << next.device().str());
  ++draws;
  ++device_state_draws;
  if (draw.kind != DeviceDraw::Kind::Integers) {
    run(draw_launch(out, draw, &state, &next));
    return;
  }
  run_with_scratch(integers_scratch_bytes(draw, out.size()), [&](long long scratch) {
    return integers_launches(out, draw, state, next, scratch);
  });
}

namespace {
// The emulator compiles a unit as C++ with Clang, which takes some code NVRTC would not:
// where the plugin was built, each unit a device function gives the emulated GPU also
// compiles with NVRTC (a CUBIN for sm_90, ptxas and its limits included, held in memory: a
// unit seen before is not compiled again), so that every device function of the tests is
// checked against the real compiler.
void compile_with_nvrtc(const Program& program) {
#ifdef CGVM_TEST_CUDA_PLUGIN
  if (!cuda::plugin_loaded()) return;
  cuda::CompileOptions options;
  options.nvrtc_options = cuda_compile_options();
  options.program_name = "emulated_device_function.cu";
  options.cache.use_disk_cache = false;
  cuda::compile_cubin(emit_cuda(program), "sm_90", options);
#else
  (void)program;
#endif
}
}  // namespace

KernelLauncher emulated_kernels(const Program& program, EmulatedGpu& gpu) {
  compile_with_nvrtc(program);
  auto emulator = std::make_shared<CudaEmulator>(program);
  return [emulator, &gpu](const KernelCall& call) {
    ++gpu.launches;
    // The call's spans point into the caller's frame: kept by value.
    gpu.submit([emulator, &program = call.program, &kernel = call.kernel, index = call.index,
                size = std::vector<long long>(call.size.begin(), call.size.end()),
                data = std::vector<char*>(call.data.begin(), call.data.end()),
                stride = std::vector<long long>(call.stride.begin(), call.stride.end())] {
      launch_on_host(*emulator, KernelCall{program, kernel, index, size, data, stride});
    });
  };
}

ScopedEmulatedGpu::ScopedEmulatedGpu() {
  saved_ = detail::replace_cuda_provider(DeviceProvider{
      .context = [gpu = gpu_](int ordinal, const std::source_location& loc)
          -> std::shared_ptr<DeviceContext> {
        if (ordinal != 0) throw_error("emulated GPU", "there is only device 0", loc);
        return gpu;
      },
      .kernels = [this](const Program& program, const std::shared_ptr<DeviceContext>&,
                        double*) {
        ++programs;
        return emulated_kernels(program, *gpu_);
      },
  });
}

ScopedEmulatedGpu::~ScopedEmulatedGpu() { detail::replace_cuda_provider(std::move(saved_)); }

}  // namespace cgvm::test
