#pragma once
// The CUDA backend's front door: is there a GPU, and if not, why not.
//
// Everything CUDA lives in a plugin, libcgvm_cuda.so (NVRTC, cuBLAS, the driver table),
// loaded with dlopen on first use so that the CPU path never loads cuBLAS or NVRTC
// (DESIGN.md §6). The plugin is searched, in this order:
//   1. $CGVM_CUDA_PLUGIN, if set (then only there);
//   2. the build tree's plugin, when the CUDA toolkit was found at configure time;
//   3. <install libdir>/libcgvm_cuda.so.
// The plugin then dlopens the driver: $CGVM_CUDA_DRIVER if set (tests point it at a fake),
// else libcuda.so.1, calls cuInit(0) and counts devices. These variables, and
// CGVM_CUDA_GRAPHS, are read in one place (backend.cpp), once per (re)load.
//
// Two levels of "available": the plugin alone is enough to compile (compile.hpp: NVRTC
// needs no driver); running anything needs the driver and a device (available()).
// This header includes no CUDA header; nor does any header of cuda/ but plugin/ sources.
#include <cstddef>
#include <source_location>
#include <string>
#include <string_view>

#include "runtime/error.hpp"

struct CgvmCudaPlugin;

namespace cgvm::cuda {

// Device or pinned memory ran out (a cgvm::Error, so callers that do not care need not
// know; an allocator may catch it, free its cache and retry).
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

// A driver loaded, cuInit succeeded and there is at least one device. Never throws.
bool available() noexcept;
// One sentence: what was found ("CUDA driver 13.0 with 1 device(s); device 0: NVIDIA H200
// (sm_90, 139.8 GiB)") or why CUDA cannot be used ("the CUDA plugin was not built (no
// CUDA toolkit at configure time)", "no driver: libcuda.so.1 not found (...)", "no CUDA
// device: cuInit failed: CUDA_ERROR_NO_DEVICE (...)").
std::string status();
// Throws cgvm::Error "cuda: CUDA is not available: <status()>", naming the caller's line,
// unless available(). What a user gets when asking for a GPU where none exists.
void require(const std::source_location& where = std::source_location::current());

// Whether device functions may record a scan's steps as a CUDA graph and replay it
// (cuda::Context::record): yes unless CGVM_CUDA_GRAPHS=0, the way to compare or to rule
// graphs out.
bool graphs_enabled();

// The plugin loaded (NVRTC can compile). Never throws.
bool plugin_loaded() noexcept;
// Where the plugin was loaded from, or why it could not be.
std::string plugin_status();

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  std::size_t total_memory = 0;  // bytes
  int multiprocessors = 0;
  int max_threads_per_block = 0;
  int max_shared_memory_per_block = 0;  // the opt-in maximum, bytes
  int warp_size = 0;
  std::string arch() const;  // "sm_90": what compile_cubin wants for this device
};

int device_count();                      // 0 when !available(); never throws
DeviceInfo device_info(int device = 0);  // throws unless available()
// The device the calling thread's CUDA calls use from now on (default 0).
void set_device(int device);
int driver_version();  // e.g. 13000; throws unless available()
void synchronize_device();
struct MemoryInfo {
  std::size_t free_bytes = 0, total_bytes = 0;
};
MemoryInfo memory_info();

namespace detail {

// The loaded plugin's table; throws cgvm::Error with plugin_status() when there is none.
const CgvmCudaPlugin& plugin();
// require(), then the table: for calls that need the driver.
const CgvmCudaPlugin& driver_plugin();
// Throws (OutOfMemory or Error, "cuda: <the plugin's message>") unless status is OK.
void check(const CgvmCudaPlugin& table, int status);

// Forgets the loaded plugin and searches again, re-reading CGVM_CUDA_PLUGIN and
// CGVM_CUDA_DRIVER. For tests. A library, once loaded, is never unloaded: objects made
// with it keep working, and loading the same file again finds the same instance (and its
// already initialised driver); a different file is a fresh instance.
void reload_plugin();

}  // namespace detail
}  // namespace cgvm::cuda
