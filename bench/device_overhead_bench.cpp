// What the host spends on each call of a device function, without a GPU: the functions of
// device_models.hpp run on a device that does no work (NullDevice: its memory is host
// memory, and its kernels, products and conversions are planned, as cuda::Context plans
// them, but not run; a recording replays nothing). What is timed is everything a call
// costs the host but the driver: the executor's walk of the program, moving values, each
// launch's plan (mode, grid, parameter words), the device's own kernels' launches, and a
// scan's first step, recording and replays. The driver's own cost per launch (cuLaunchKernel,
// cuGraphLaunch, cublasSgemm's) is not in it; the counts printed say how many there are.
//
// The while loop of cuda_bench is left out: its steps are counted by the device, and a
// device that computes nothing never stops it.
//
//   device_overhead_bench [--reps 11] [--quick]
#include <cgvm.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "codegen/conversion.hpp"
#include "codegen/device_kernels.hpp"
#include "codegen/emit_cuda.hpp"
#include "device_models.hpp"
#include "harness.hpp"

using namespace cgvm;

namespace {

// An H100's shape, for the launch plans.
constexpr CudaDeviceShape kShape{.multiprocessors = 132, .max_threads_per_block = 1024};

struct Counts {
  long long launches = 0;     // a program's kernels and the conversions' (driver launches)
  long long own_kernels = 0;  // the device's own: lookups, argmax, draws, step copies
  long long gemms = 0;
  long long replays = 0;      // recordings queued again (one cuGraphLaunch each)
  long long recordings = 0;
};

class NullDevice final : public DeviceContext {
 public:
  Counts counts;

  ~NullDevice() override {
    for (const auto& [size, p] : free_) std::free(p);
    for (const auto& [p, size] : sizes_) std::free(p);
  }
  Device device() const override { return Device::cuda(0); }
  // Freed blocks are kept for reuse by size, as a GPU's memory pool keeps them (cuda::Context
  // sets its release threshold so): no system call per allocation, as there is none there.
  void* allocate(std::size_t bytes) override {
    const std::size_t size = (bytes + 64) / 64 * 64;
    if (auto it = free_.find(size); it != free_.end()) {
      void* p = it->second;
      free_.erase(it);
      sizes_[p] = size;
      return p;
    }
    void* p = std::aligned_alloc(64, size);
    if (!p) throw Error("null device: out of memory");
    sizes_[p] = size;
    return p;
  }
  void release(void* ptr, std::size_t) noexcept override {
    const auto it = sizes_.find(ptr);
    free_.emplace(it->second, ptr);
    sizes_.erase(it);
  }
  void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override {
    std::memcpy(host_dst, device_src, bytes);
  }
  void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override {
    std::memcpy(device_dst, host_src, bytes);
  }
  void convert(const Array& dst, const Array& src) override { copy(CopyKind::Convert, dst, src); }
  void accumulate(const Array& dst, const Array& src) override {
    copy(CopyKind::Accumulate, dst, src);
  }
  void gemm(const DeviceGemm&) override { ++counts.gemms; }
  void gather(const Array& out, const Array& x, std::span<const std::int64_t> rows,
              int axis) override {
    // As cuda::Context: the rows go over, then the kernel.
    void* device_rows = allocate(rows.size_bytes());
    copy_from_host(device_rows, rows.data(), rows.size_bytes());
    own(gather_launch(out, x, reinterpret_cast<long long>(device_rows), axis, {}));
    release(device_rows, rows.size_bytes());
  }
  void scatter(const Array& out, const Array& y, const ScatterRows& rows, int axis,
               bool set) override {
    const std::vector<std::int64_t> packed = packed_scatter_rows(rows);
    const std::size_t bytes = packed.size() * sizeof(std::int64_t);
    void* device_rows = allocate(bytes);
    copy_from_host(device_rows, packed.data(), bytes);
    own(scatter_launch(out, y, rows, reinterpret_cast<long long>(device_rows), axis, set));
    release(device_rows, bytes);
  }
  void gather(const Array& out, const Array& x, const Array& rows, int axis,
              const FaultSite& at) override {
    own(gather_launch(out, x, reinterpret_cast<long long>(rows.raw_data()), axis, check(at)));
  }
  void scatter(const Array& out, const Array& y, const Array& rows, int axis, bool set,
               const FaultSite& at) override {
    void* scratch = allocate(device_scatter_scratch_bytes(rows.size()));
    for (const DeviceKernelLaunch& l :
         device_scatter_launches(out, y, rows, reinterpret_cast<long long>(scratch), axis, set,
                                 check(at)))
      own(l);
    release(scratch, 0);
  }
  void arg_reduce(const Array& out, const Array& x, bool max) override {
    own(arg_reduce_launch(out, x, max));
  }
  void draw(const Array& out, const DeviceDraw& draw) override { own(draw_launch(out, draw)); }
  void draw(const Array& out, const DeviceDraw& draw, const Array& state,
            const Array& next) override {
    if (draw.kind != DeviceDraw::Kind::Integers) return own(draw_launch(out, draw, &state, &next));
    void* scratch = allocate(integers_scratch_bytes(draw, out.size()));
    for (const DeviceKernelLaunch& l :
         integers_launches(out, draw, state, next, reinterpret_cast<long long>(scratch)))
      own(l);
    release(scratch, 0);
  }
  void synchronize() override {}
  std::unique_ptr<DeviceRecording> record(const std::function<void()>& issue) override {
    issue();
    ++counts.recordings;
    return std::make_unique<Recording>(counts);
  }
  void step_copies(const Array& table, const Array& counter, int unit,
                   std::int64_t longest) override {
    own(step_copies_launch(table, counter, unit, longest));
  }
  void step_advance(const Array& counter, const Array* stop) override {
    own(step_advance_launch(counter, stop));
  }

  // A program kernel's launch as cuda::ProgramKernels plans it, its scratch included.
  void plan(const KernelCall& call) {
    const CudaLaunch plan = plan_cuda_launch(call.kernel, call.size, call.stride, kShape);
    if (plan.grid == 0) return;
    void* scratch = plan.scratch_bytes ? allocate(plan.scratch_bytes) : nullptr;
    for (const CudaPassLaunch& l : cuda_call_launches(call, plan, cuda_call_addresses(call),
                                                      reinterpret_cast<long long>(scratch))) {
      keep(static_cast<long long>(l.words.size()));
      ++counts.launches;
    }
    if (scratch) release(scratch, 0);
  }

 private:
  class Recording final : public DeviceRecording {
   public:
    explicit Recording(Counts& counts) : counts_(counts) {}

   protected:
    void queue() override { ++counts_.replays; }

   private:
    Counts& counts_;
  };

  void own(const DeviceKernelLaunch& launch) {
    if (launch.total == 0) return;
    keep(launch.grid(kShape) + launch.block(kShape));
    const std::vector<long long> words = launch.words;  // as cuda::Context's launch copies it
    keep(static_cast<long long>(words.size()));
    ++counts.own_kernels;
  }
  IndexCheck check(const FaultSite& at) {
    return {.fault = reinterpret_cast<long long>(at.note->words(*this)), .site = at.site};
  }
  void copy(CopyKind kind, const Array& dst, const Array& src) {
    if (dst.size() == 0) return;
    const CopyKey key = copy_key(kind, dst, src);
    auto it = copy_programs_.find(key);
    if (it == copy_programs_.end()) it = copy_programs_.emplace(key, copy_program(key)).first;
    plan(ElementwiseCall::copy(it->second, kind, dst, src).call());
  }
  std::map<CopyKey, Program> copy_programs_;
  std::unordered_multimap<std::size_t, void*> free_;  // by size
  std::unordered_map<void*, std::size_t> sizes_;      // of the blocks handed out
  // What the plans give, kept so that none is left out.
  volatile long long sink_ = 0;
  void keep(long long value) { sink_ = sink_ + value; }
};

void measure(bench::DeviceCall call, NullDevice& device, const bench::Config& config) {
  call.f(call.args);  // the first call records its loops
  const Counts before = device.counts;
  call.f(call.args);
  const Counts after = device.counts;
  const bench::Stats s = bench::measure([&] { call.f(call.args); }, config);
  std::printf("%-13s %9.1f us %s  [%.1f, %.1f]  launches %lld + own %lld, gemms %lld, "
              "graph launches %lld\n",
              call.name.c_str(), s.median * 1e6, call.unit.c_str(), s.min * 1e6, s.max * 1e6,
              after.launches - before.launches, after.own_kernels - before.own_kernels,
              after.gemms - before.gemms, after.replays - before.replays);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  bench::print_environment("device_overhead", config);
  auto device = std::make_shared<NullDevice>();
  detail::replace_cuda_provider(
      {.context = [device](int, const std::source_location&) -> std::shared_ptr<DeviceContext> {
         return device;
       },
       .kernels = [device](const Program&, const std::shared_ptr<DeviceContext>&,
                           double*) -> KernelLauncher {
         return [device](const KernelCall& call) { device->plan(call); };
       }});
  std::printf("host time per call on a device that does no work (NullDevice; H100's launch "
              "shape), batch 128, one thread; median [min, max] of %d repetitions\n",
              config.repetitions);
  const Device gpu = Device::cuda();
  measure(bench::mlp_step_call(128, gpu), *device, config);
  measure(bench::lstm_train_call(128, gpu), *device, config);
  measure(bench::greedy_decode_call(128, gpu), *device, config);
  detail::replace_cuda_provider({});
  return 0;
}
