#pragma once
// Loaded code, kernel launches and CUDA graphs.
//
// A Module owns a loaded PTX or CUBIN image (cuModuleLoadDataEx; PTX is JIT-compiled by
// the driver for the present GPU). A Kernel is a function in it, valid while the Module
// lives. Graph capture records the work issued on a stream (launches, copies, gemm) and
// replays it with one call: how a scan runs its per-step kernel sequence without a host
// round trip per launch.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "cuda/backend.hpp"
#include "cuda/compile.hpp"
#include "cuda/device.hpp"

namespace cgvm::cuda {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

struct LaunchConfig {
  Dim3 grid;
  Dim3 block;
  unsigned shared_bytes = 0;  // dynamic shared memory
  StreamRef stream;
};

class Kernel {
 public:
  Kernel() = default;
  // params[i] points at the i-th kernel argument's value (cuLaunchKernel's convention).
  void launch(const LaunchConfig& config, void** params) const;
  // launch with arguments by value: kernel(config, n, 2.0f, x_ptr, y_ptr). Each argument's
  // type must match the kernel's parameter exactly (int vs long, float vs double): the
  // driver copies sizeof(parameter) bytes from each address.
  template <class... Args>
  void operator()(const LaunchConfig& config, Args... args) const {
    void* params[] = {static_cast<void*>(&args)..., nullptr};
    launch(config, params);
  }
  // Allows more than 48 KiB of dynamic shared memory (up to the device's opt-in maximum).
  void set_max_dynamic_shared(int bytes) const;
  void* handle() const { return handle_; }
  const std::string& name() const { return name_; }

 private:
  friend class Module;
  Kernel(const CgvmCudaPlugin* plugin, void* handle, std::string name)
      : plugin_(plugin), handle_(handle), name_(std::move(name)) {}
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* handle_ = nullptr;
  std::string name_;
};

class Module {
 public:
  Module() = default;
  // `image`: PTX text (a NUL is appended here) or a CUBIN.
  static Module load(std::string_view image);
  static Module load(const CudaCode& code) { return load(code.bytes); }
  // `source` compiled through the cache (compile.hpp) for `device` and loaded: a CUBIN of
  // its architecture, or PTX for compute_80 (every GPU since Ampere runs it) where NVRTC
  // does not know that architecture, with a warning. `from_cache` tells whether NVRTC ran.
  static Module build(const std::string& source, const DeviceInfo& device,
                      const CompileOptions& options, bool* from_cache = nullptr);
  ~Module();
  Module(Module&& other) noexcept;
  Module& operator=(Module&& other) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The extern "C" __global__ function `name`; a missing name is a cgvm::Error naming it.
  Kernel kernel(const std::string& name) const;
  void* handle() const { return handle_; }

 private:
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* handle_ = nullptr;
};

// An instantiated, replayable graph.
class GraphExec {
 public:
  GraphExec() = default;
  ~GraphExec();
  GraphExec(GraphExec&& other) noexcept;
  GraphExec& operator=(GraphExec&& other) noexcept;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  void launch(StreamRef stream) const;
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  friend GraphExec end_capture(StreamRef stream);
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* handle_ = nullptr;
};

// Records what is issued on `stream` (a created Stream, not stream 0) until end_capture,
// instead of running it. Only this thread's calls matter; allocation with cuMemAlloc and
// synchronisation are not capturable (use allocate_async).
void begin_capture(StreamRef stream);
GraphExec end_capture(StreamRef stream);
// Ends the capture and drops what it recorded (nothing is instantiated), so the stream is
// usable again; never throws.
void abort_capture(StreamRef stream) noexcept;
// begin_capture, `issue`, end_capture; if `issue` throws, the capture is aborted and the
// exception propagates. A captured gemm uses the stream's cuBLAS workspace, which lives as
// long as the stream: destroy no stream while a graph captured on it may still run.
GraphExec capture(StreamRef stream, const std::function<void()>& issue);

}  // namespace cgvm::cuda
