#pragma once
// A GPU as a DeviceContext (runtime/device.hpp): what device arrays, device functions and
// shared variables placed on a GPU go through.
//
// One context per device and process, made on first use. Its work is ordered on one
// stream of its own: stream-ordered allocation (cuMemAllocAsync, so freed memory is reused
// without a device-wide synchronisation), copies, conversions (the op table's cast as a
// kernel, codegen/conversion.hpp, compiled once per dtype pair and rank) and cuBLAS
// products, and accumulations (add as a kernel). Device functions launch their kernels on
// the same stream, so nothing waits until a result is copied to the host; a scan's steps
// are recorded once as a CUDA graph and replayed (record()).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <source_location>

#include "codegen/conversion.hpp"
#include "codegen/device_kernels.hpp"
#include "cuda/backend.hpp"
#include "cuda/device.hpp"
#include "cuda/program_kernels.hpp"
#include "runtime/device.hpp"

namespace cgvm::cuda {

class Kernel;

class Context final : public DeviceContext {
 public:
  // The context of `device`. Throws cgvm::Error ("cuda: CUDA is not available: ...", at
  // `where`: the user's line) when there is no usable GPU, or names the device count when
  // `device` is out of range.
  static std::shared_ptr<Context> get(
      int device = 0, const std::source_location& where = std::source_location::current());

  Device device() const override { return Device::cuda(ordinal_); }
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
  void arg_reduce(const Array& out, const Array& x, bool max) override;
  void draw(const Array& out, const DeviceDraw& draw) override;
  void draw(const Array& out, const DeviceDraw& draw, const Array& state,
            const Array& next) override;
  void synchronize() override;
  // A CUDA graph captured from the stream. Memory allocated meanwhile comes from a second
  // stream (an allocation on the capturing stream would become the graph's own), and is
  // ready before the graph first runs. Should the driver refuse something (to capture, to
  // instantiate, a call under capture: any cgvm::Error but NotRecordable while `issue`
  // runs), that is reported once (warn) and this context records nothing more (nullptr):
  // loops then run step by step, as with CGVM_CUDA_GRAPHS=0.
  std::unique_ptr<DeviceRecording> record(const std::function<void()>& issue) override;
  void step_copies(const Array& table, const Array& counter, int unit,
                   std::int64_t longest) override;
  void step_advance(const Array& counter, const Array* stop) override;
  // Compiles (or loads from the disk cache) the units of the device's kernels that `work`
  // may launch (codegen/device_kernels.hpp).
  void prepare(const DeviceWork& work) override;

  // Where work goes: the context's stream, or, on a thread that is recording (record()),
  // the stream being captured.
  StreamRef stream() const;
  const DeviceInfo& info() const { return info_; }

  explicit Context(int device);  // use get()

 private:
  int ordinal_;
  DeviceInfo info_;
  Stream stream_;
  // The elementwise kernels of convert and accumulate (codegen/conversion.hpp), compiled on
  // first use, and the launch of one.
  struct CopyKernel;
  void copy(CopyKind kind, const Array& dst, const Array& src);
  std::mutex mutex_;
  std::map<CopyKey, std::unique_ptr<CopyKernel>> copy_kernels_;
  // The kernels of gather, scatter and draw (codegen/device_kernels.hpp), each unit
  // compiled when prepare() asks for it or one of its kernels is first used (with mutex_
  // held: load_device_unit), and the launch of one.
  struct DeviceKernels;
  void load_device_unit(const DeviceKernelUnit& unit);
  const Kernel& device_kernel(const std::string& name);
  void run(const DeviceKernelLaunch& launch);
  // Runs the launches `make` gives for `bytes` of scratch at the device address it is
  // handed; the scratch is freed in stream order after them (while recording: once the
  // graph is gone).
  void run_with_scratch(std::size_t bytes,
                        const std::function<std::vector<DeviceKernelLaunch>(long long)>& make);
  std::unique_ptr<DeviceKernels> device_kernels_;
  // Where the index kernels of host rows (checked on the host) would note one out of range;
  // expect_fault() says that work which may note one in `note` was queued (or recorded:
  // its replays queue it again).
  DeviceFaultNote host_rows_fault_;
  IndexCheck index_check(const FaultSite& at);
  void expect_fault(DeviceFaultNote& note);
  // record(): the recording this thread is making on this context (nullptr: none), and the
  // stream it captures (other threads' work goes on meanwhile).
  class Recording;
  Recording* recording() const;
  void refuse_while_recording(const char* what) const;
  std::mutex record_mutex_;  // one recording at a time: they share the capture stream
  std::unique_ptr<Stream> capture_stream_;
  std::atomic<bool> graphs_failed_ = false;
};

}  // namespace cgvm::cuda
