#include "cuda/module.hpp"

#include <fmt/format.h>

#include <utility>

#include "cuda/backend.hpp"
#include "cuda/plugin_abi.h"
#include "runtime/log.hpp"

namespace cgvm::cuda {

using detail::check;
using detail::driver_plugin;

// --- Kernel ---------------------------------------------------------------------------

void Kernel::launch(const LaunchConfig& config, void** params) const {
  if (!handle_) throw Error("cuda: launch of an empty Kernel (not taken from a Module)");
  const unsigned grid[3] = {config.grid.x, config.grid.y, config.grid.z};
  const unsigned block[3] = {config.block.x, config.block.y, config.block.z};
  const int status =
      plugin_->launch(handle_, grid, block, config.shared_bytes, config.stream.handle, params);
  if (status != CGVM_CUDA_OK) throw Error("cuda: kernel " + name_ + ": " + plugin_->last_error());
}

void Kernel::set_max_dynamic_shared(int bytes) const {
  check(*plugin_, plugin_->function_set_max_dynamic_shared(handle_, bytes));
}

// --- Module ---------------------------------------------------------------------------

Module Module::load(std::string_view image) {
  Module module;
  module.plugin_ = &driver_plugin();
  // PTX must be NUL-terminated; a CUBIN carries its own size, the extra byte is harmless.
  const std::string owned(image);
  check(*module.plugin_, module.plugin_->module_load(owned.c_str(), &module.handle_));
  return module;
}

Module Module::build(const std::string& source, const DeviceInfo& device,
                     const CompileOptions& options, bool* from_cache) {
  CudaCode code;
  try {
    code = compile_cubin(source, device.arch(), options);
  } catch (const Error& e) {
    // An NVRTC older than the GPU: PTX of the newest architecture it knows would do, but
    // we cannot tell which that is.
    warn(fmt::format("cuda: no CUBIN for {} ({}); compiling PTX for compute_80", device.arch(),
                     e.what()));
    code = compile_ptx(source, "compute_80", options);
  }
  if (from_cache) *from_cache = code.from_cache;
  return load(code);
}

Module::~Module() {
  if (handle_ && plugin_->module_unload(handle_) != CGVM_CUDA_OK)
    warn(std::string("cuda: unloading a module failed: ") + plugin_->last_error());
}

Module::Module(Module&& other) noexcept
    : plugin_(other.plugin_), handle_(std::exchange(other.handle_, nullptr)) {}

Module& Module::operator=(Module&& other) noexcept {
  if (this != &other) {
    Module old(std::move(*this));
    plugin_ = other.plugin_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Kernel Module::kernel(const std::string& name) const {
  if (!handle_) throw Error("cuda: kernel '" + name + "' looked up in an empty Module");
  void* function = nullptr;
  check(*plugin_, plugin_->module_function(handle_, name.c_str(), &function));
  return Kernel(plugin_, function, name);
}

// --- graphs ---------------------------------------------------------------------------

GraphExec::~GraphExec() {
  if (handle_ && plugin_->graph_destroy(handle_) != CGVM_CUDA_OK)
    warn(std::string("cuda: destroying a graph failed: ") + plugin_->last_error());
}

GraphExec::GraphExec(GraphExec&& other) noexcept
    : plugin_(other.plugin_), handle_(std::exchange(other.handle_, nullptr)) {}

GraphExec& GraphExec::operator=(GraphExec&& other) noexcept {
  if (this != &other) {
    GraphExec old(std::move(*this));
    plugin_ = other.plugin_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void GraphExec::launch(StreamRef stream) const {
  if (!handle_) throw Error("cuda: launch of an empty GraphExec");
  check(*plugin_, plugin_->graph_launch(handle_, stream.handle));
}

void begin_capture(StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.capture_begin(stream.handle));
}

GraphExec end_capture(StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  GraphExec exec;
  exec.plugin_ = &p;
  check(p, p.capture_end(stream.handle, &exec.handle_));
  return exec;
}

void abort_capture(StreamRef stream) noexcept {
  try {
    const CgvmCudaPlugin& p = driver_plugin();
    p.capture_end(stream.handle, nullptr);
  } catch (const std::exception&) {
    // Only where the driver is gone; what ended the capture is the news.
  }
}

GraphExec capture(StreamRef stream, const std::function<void()>& issue) {
  begin_capture(stream);
  try {
    issue();
  } catch (...) {
    abort_capture(stream);
    throw;
  }
  return end_capture(stream);
}

}  // namespace cgvm::cuda
