#pragma once
// A GPU emulated on the CPU, so that CI runs device functions end to end: device arrays,
// the device executor, shared variables placed on a device, scan on a device.
//
// Memory is host memory, but the addresses handed out are the host's with bit 62 flipped:
// non-canonical on x86-64, so host code that dereferences device memory by mistake faults
// at once, as it would with a real GPU, instead of passing. Kernels run the emitted CUDA
// through CudaEmulator (threads as fibers), each unit also compiled with NVRTC where the
// plugin was built (Clang takes some code NVRTC would not); conversions run the conversion
// program a real GPU runs (codegen/conversion.hpp), and so do gathers, scatters, argmax and
// draws (codegen/device_kernels.hpp); products use host BLAS. It records and replays work
// as CUDA graphs do. It counts the bytes copied each way, the live allocations, launches
// and replays, so tests can check what moved and what the host issued.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "cgvm.hpp"
#include "codegen/conversion.hpp"
#include "codegen/device_kernels.hpp"
#include "cuda_emulator.hpp"

namespace cgvm::test {

class EmulatedGpu final : public DeviceContext {
 public:
  Device device() const override { return Device::cuda(0); }
  void* allocate(std::size_t bytes) override;
  void release(void* ptr, std::size_t bytes) noexcept override;
  void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override;
  void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override;
  void convert(const Array& dst, const Array& src) override;
  void accumulate(const Array& dst, const Array& src) override;
  void gemm(const DeviceGemm& g) override;
  void gather(const Array& out, const Array& x, std::span<const std::int64_t> rows,
              int axis) override;
  void scatter(const Array& out, const Array& y, const ScatterRows& rows, int axis,
               bool set) override;
  void gather(const Array& out, const Array& x, const Array& rows, int axis,
              const FaultSite& at) override;
  void scatter(const Array& out, const Array& y, const Array& rows, int axis, bool set,
               const FaultSite& at) override;
  std::optional<DeviceIndexFault> index_fault(DeviceFaultNote& note) override;
  ~EmulatedGpu() override;
  void arg_reduce(const Array& out, const Array& x, bool max) override;
  void draw(const Array& out, const DeviceDraw& draw) override;
  void draw(const Array& out, const DeviceDraw& draw, const Array& state,
            const Array& next) override;
  void synchronize() override;
  // As a CUDA graph does: the work is kept (each launch with its arguments) and run again
  // on each replay; reading back meanwhile throws NotRecordable, as on a GPU.
  std::unique_ptr<DeviceRecording> record(const std::function<void()>& issue) override;
  void step_copies(const Array& table, const Array& counter, int unit,
                   std::int64_t longest) override;
  void step_advance(const Array& counter, const Array* stop) override;
  // Compiles the units `work` may launch, as cuda::Context does.
  void prepare(const DeviceWork& work) override;

  // The host address behind a device address.
  static void* host(const void* device_address);

  std::size_t bytes_to_host = 0, bytes_from_host = 0;
  // Arrays', recordings' and calls' fault notes' memory (not the context's own note).
  long long live_allocations = 0;
  int conversions = 0, accumulations = 0, products = 0, gathers = 0, scatters = 0, draws = 0,
      arg_reductions = 0;
  // Gathers and scatters from device rows (counted apart from those above), the index
  // faults read back (index_fault() calls that waited), and draws from a generator state
  // on the device (also counted in draws).
  int device_gathers = 0, device_scatters = 0, fault_reads = 0, device_state_draws = 0;
  // Loop kernels launched by the host (a replay launches none), recordings made, replays,
  // recordings refused (NotRecordable), and the bytes of the step tables recordings read
  // (DeviceContext::step_copies).
  int launches = 0, recordings = 0, replays = 0, refusals = 0;
  std::size_t step_table_bytes = 0;
  // The units of device kernels (codegen/device_kernels.hpp) compiled so far, by name.
  std::vector<std::string> device_units() const;
  // The copy programs made so far (codegen/conversion.hpp), by key.
  std::vector<CopyKey> copy_programs() const;
  // Runs `work` now, or keeps it in the recording being made.
  void submit(std::function<void()> work);

 private:
  struct CopyKernel {
    Program program;
    std::unique_ptr<CudaEmulator> emulator;
  };
  // As cuda::Context does (codegen/conversion.hpp), on the emulation.
  void copy(CopyKind kind, const Array& dst, const Array& src);
  static void gemm_on_host(const DeviceGemm& g);
  mutable std::mutex mutex_;
  std::map<CopyKey, CopyKernel> copy_kernels_;
  // As cuda::Context does: the index rows (if any) moved over, then the kernel (submitted).
  void run(const DeviceKernelLaunch& launch, std::span<const std::int64_t> rows = {});
  // A device kernel with host addresses in its words, now.
  void run_now(const DeviceKernelLaunch& on_host);
  // As cuda::Context does: the launches `make` gives for `bytes` of scratch, then the
  // scratch released.
  void run_with_scratch(std::size_t bytes,
                        const std::function<std::vector<DeviceKernelLaunch>(long long)>& make);
  // The units of device kernels made so far, each compiled when prepare() asks for it or
  // one of its kernels first runs (as cuda::Context does: load_unit, with mutex_ held), and
  // which unit runs each kernel.
  void load_unit(const DeviceKernelUnit& unit);
  std::vector<std::pair<std::string, std::unique_ptr<CudaEmulator>>> device_units_;
  std::map<std::string, CudaEmulator*> device_kernels_;
  DeviceFaultNote host_rows_fault_;  // made on first use, not counted in live_allocations
  IndexCheck index_check(const FaultSite& at);
  void expect_fault(DeviceFaultNote& note);
  // The recording being made, and by which thread: as on a GPU, only its work is kept.
  class Recording;
  std::mutex record_mutex_;  // one recording at a time, as on a GPU
  std::atomic<Recording*> recording_ = nullptr;
  std::thread::id recorder_;
  Recording* recording() const;
  void refuse_while_recording(const char* what) const;
};

// Launches a Program's kernels on `gpu` (device addresses in the call).
KernelLauncher emulated_kernels(const Program& program, EmulatedGpu& gpu);

// While it lives, Device::cuda() is the emulated GPU for function(), to_device and
// device_context; the real provider comes back after.
class ScopedEmulatedGpu {
 public:
  ScopedEmulatedGpu();
  ~ScopedEmulatedGpu();
  ScopedEmulatedGpu(const ScopedEmulatedGpu&) = delete;
  ScopedEmulatedGpu& operator=(const ScopedEmulatedGpu&) = delete;
  EmulatedGpu& gpu() { return *gpu_; }
  const std::shared_ptr<EmulatedGpu>& context() const { return gpu_; }
  int programs = 0;  // kernel programs compiled for it

 private:
  std::shared_ptr<EmulatedGpu> gpu_ = std::make_shared<EmulatedGpu>();
  DeviceProvider saved_;
};

}  // namespace cgvm::test
