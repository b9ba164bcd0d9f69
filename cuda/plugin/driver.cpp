// Loading the driver, its status in words, and the per-thread primary context.
#include "cuda/plugin/driver.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace cgvm::cuda_plugin {
namespace {

using GetProcAddressFn = CUresult (*)(const char*, void**, int, cuuint64_t,
                                      CUdriverProcAddressQueryResult*);
using InitFn = CUresult (*)(unsigned);
using ErrorTextFn = CUresult (*)(CUresult, const char**);

struct DriverState {
  std::mutex mutex;
  bool initialised = false;
  std::atomic<bool> ready{false};  // state == READY; read without the lock on every call
  int state = CGVM_CUDA_DRIVER_NOT_INITIALISED;
  std::string status = "the CUDA driver was not initialised (init() not called)";
  int version = 0;
  int device_count = 0;
  DriverApi api;
  ErrorTextFn error_name = nullptr;
  ErrorTextFn error_string = nullptr;
  // Primary contexts, retained on first use and never released: device memory, modules
  // and cuBLAS handles may outlive any scope we could release them in.
  std::vector<CUcontext> contexts;
};

// Leaked on purpose: plugin calls from other libraries' static destructors stay safe.
DriverState& state() {
  static DriverState* s = new DriverState;
  return *s;
}

thread_local std::string t_last_error;
thread_local int t_device = 0;
// The primary context of t_device, once looked up by this thread.
thread_local CUcontext t_context = nullptr;
thread_local int t_context_device = -1;

// The names of the codes a driver without cuGetErrorName (our test double) may return.
const char* fallback_name(CUresult result) {
  switch (result) {
    case CUDA_ERROR_INVALID_VALUE:
      return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_OUT_OF_MEMORY:
      return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_NOT_INITIALIZED:
      return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_NO_DEVICE:
      return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE:
      return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
      return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
      return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
    default:
      return nullptr;
  }
}

std::string version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

void set_status(DriverState& s, int driver_state, std::string status) {
  s.state = driver_state;
  s.status = std::move(status);
}

// The body of init(), with the state's mutex held.
void load_driver(DriverState& s, const char* driver_library) {
  const std::string path = driver_library && *driver_library ? driver_library : "libcuda.so.1";
  // RTLD_LOCAL: the driver's symbols must not satisfy anyone else's lookups by accident.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    set_status(s, CGVM_CUDA_DRIVER_MISSING,
               "no driver: " + path + " not found (" + (why ? why : "dlopen failed") + ")");
    return;
  }
  auto cu_init = reinterpret_cast<InitFn>(dlsym(handle, "cuInit"));
  if (!cu_init) {
    set_status(s, CGVM_CUDA_DRIVER_MISSING,
               "no driver: " + path + " was loaded but exports no cuInit (not a CUDA driver)");
    return;
  }
  s.error_name = reinterpret_cast<ErrorTextFn>(dlsym(handle, "cuGetErrorName"));
  s.error_string = reinterpret_cast<ErrorTextFn>(dlsym(handle, "cuGetErrorString"));

  if (CUresult r = cu_init(0); r != CUDA_SUCCESS) {
    const std::string what = "cuInit failed: " + describe(r);
    if (r == CUDA_ERROR_NO_DEVICE)
      set_status(s, CGVM_CUDA_DRIVER_NO_DEVICE, "no CUDA device: " + what);
    else
      set_status(s, CGVM_CUDA_DRIVER_FAILED, what + " (driver " + path + ")");
    return;
  }
  // Unversioned in cuda.h's sense: the _v2 with the symbolStatus argument (CUDA 12.0+).
  auto get_proc = reinterpret_cast<GetProcAddressFn>(dlsym(handle, "cuGetProcAddress_v2"));
  if (!get_proc) {
    set_status(s, CGVM_CUDA_DRIVER_FAILED,
               "the CUDA driver " + path +
                   " is too old: it has no cuGetProcAddress_v2 "
                   "(a CUDA 12 or newer driver is needed)");
    return;
  }
  DriverApi api;
  std::string missing;
#define CGVM_RESOLVE_ENTRY(name, version)                                                  \
  {                                                                                        \
    void* fn = nullptr;                                                                    \
    CUdriverProcAddressQueryResult found{};                                                \
    if (get_proc(#name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &found) != CUDA_SUCCESS || \
        !fn)                                                                               \
      missing += std::string(missing.empty() ? "" : ", ") + #name;                         \
    api.name = reinterpret_cast<decltype(api.name)>(fn);                                   \
  }
  CGVM_CUDA_DRIVER_FUNCTIONS(CGVM_RESOLVE_ENTRY)
#undef CGVM_RESOLVE_ENTRY

  int version = 0;
  if (api.cuDriverGetVersion) api.cuDriverGetVersion(&version);
  s.version = version;
  // PTX and CUBIN from this toolkit's NVRTC need a driver at least as new.
  if (version < CUDA_VERSION) {
    set_status(s, CGVM_CUDA_DRIVER_FAILED,
               "the CUDA driver is too old: it supports CUDA " + version_text(version) +
                   ", the plugin was built with CUDA " + version_text(CUDA_VERSION));
    return;
  }
  if (!missing.empty()) {
    set_status(s, CGVM_CUDA_DRIVER_MISSING,
               "the CUDA driver " + path + " lacks entry points: " + missing);
    return;
  }
  int count = 0;
  if (CUresult r = api.cuDeviceGetCount(&count); r != CUDA_SUCCESS) {
    set_status(s, CGVM_CUDA_DRIVER_FAILED, "cuDeviceGetCount failed: " + describe(r));
    return;
  }
  if (count == 0) {
    set_status(s, CGVM_CUDA_DRIVER_NO_DEVICE, "no CUDA device: the driver reports 0 devices");
    return;
  }
  s.api = api;
  s.device_count = count;
  s.contexts.assign(static_cast<std::size_t>(count), nullptr);
  set_status(
      s, CGVM_CUDA_DRIVER_READY,
      "CUDA driver " + version_text(version) + " with " + std::to_string(count) + " device(s)");
  s.ready.store(true, std::memory_order_release);
}

}  // namespace

const DriverApi& driver() { return state().api; }

std::string describe(CUresult result) {
  const DriverState& s = state();
  const char* name = nullptr;
  const char* text = nullptr;
  if (s.error_name && s.error_name(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (s.error_string && s.error_string(result, &text) != CUDA_SUCCESS) text = nullptr;
  if (!name) name = fallback_name(result);
  std::string out = name ? name : "CUDA error " + std::to_string(static_cast<int>(result));
  if (text) out += std::string(" (") + text + ")";
  return out;
}

int fail(int status, const std::string& message) {
  t_last_error = message;
  return status;
}

int check(CUresult result, std::string_view what) {
  if (result == CUDA_SUCCESS) return CGVM_CUDA_OK;
  const int status =
      result == CUDA_ERROR_OUT_OF_MEMORY ? CGVM_CUDA_OUT_OF_MEMORY : CGVM_CUDA_DRIVER_ERROR;
  return fail(status, std::string(what) + ": " + describe(result));
}

const char* last_error() { return t_last_error.c_str(); }

int init(const char* driver_library) {
  DriverState& s = state();
  std::lock_guard lock(s.mutex);
  if (!s.initialised) {
    s.initialised = true;
    load_driver(s, driver_library);
  }
  return s.state == CGVM_CUDA_DRIVER_READY ? CGVM_CUDA_OK : fail(CGVM_CUDA_UNAVAILABLE, s.status);
}

int driver_state() {
  std::lock_guard lock(state().mutex);
  return state().state;
}

const char* driver_status() {
  // Written once by init() under the lock and never again; the pointer stays valid.
  std::lock_guard lock(state().mutex);
  return state().status.c_str();
}

int require_driver() {
  DriverState& s = state();
  if (s.ready.load(std::memory_order_acquire)) return CGVM_CUDA_OK;
  std::lock_guard lock(s.mutex);
  if (s.state == CGVM_CUDA_DRIVER_READY) return CGVM_CUDA_OK;
  return fail(CGVM_CUDA_UNAVAILABLE, s.status);
}

int current_device() { return t_device; }

int enter_context() {
  if (int status = require_driver()) return status;
  DriverState& s = state();
  if (t_context_device != t_device) {
    std::lock_guard lock(s.mutex);
    CUcontext& slot = s.contexts.at(static_cast<std::size_t>(t_device));
    if (!slot) {
      CUdevice device = 0;
      if (int st = check(s.api.cuDeviceGet(&device, t_device), "cuDeviceGet")) return st;
      // The stream-ordered allocator's pool gives freed memory back to the system at every
      // synchronisation unless told to keep it (its release threshold is 0 by default), and
      // each call that reads a result back synchronises: the next call would map its
      // memory afresh. The pool keeps it for reuse, as a caching allocator does.
      CUmemoryPool pool = nullptr;
      cuuint64_t keep = ~cuuint64_t{0};
      if (int st = check(s.api.cuDeviceGetDefaultMemPool(&pool, device),
                         "cuDeviceGetDefaultMemPool"))
        return st;
      if (int st = check(
              s.api.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep),
              "cuMemPoolSetAttribute(release threshold)"))
        return st;
      if (int st = check(s.api.cuDevicePrimaryCtxRetain(&slot, device),
                         "cuDevicePrimaryCtxRetain(device " + std::to_string(t_device) + ")"))
        return st;
    }
    t_context = slot;
    t_context_device = t_device;
  }
  // The current context is per thread, and code outside the plugin may change it; asking
  // the driver (a thread-local read) is cheaper than being wrong.
  CUcontext current = nullptr;
  if (int st = check(s.api.cuCtxGetCurrent(&current), "cuCtxGetCurrent")) return st;
  if (current != t_context) return check(s.api.cuCtxSetCurrent(t_context), "cuCtxSetCurrent");
  return CGVM_CUDA_OK;
}

}  // namespace cgvm::cuda_plugin

namespace cgvm::cuda_plugin::abi {

int driver_version(int* version) {
  if (int status = require_driver()) return status;
  *version = state().version;
  return CGVM_CUDA_OK;
}

int device_count(int* count) {
  *count = 0;
  if (int status = require_driver()) return status;
  *count = state().device_count;
  return CGVM_CUDA_OK;
}

int set_device(int device) {
  if (int status = require_driver()) return status;
  if (device < 0 || device >= state().device_count)
    return fail(CGVM_CUDA_INVALID_ARGUMENT,
                "CUDA device " + std::to_string(device) + " does not exist (" +
                    std::to_string(state().device_count) + " device(s))");
  t_device = device;
  return enter_context();
}

int device_info(int device, CgvmCudaDeviceInfo* info) {
  if (int status = require_driver()) return status;
  const DriverApi& d = driver();
  if (device < 0 || device >= state().device_count)
    return fail(CGVM_CUDA_INVALID_ARGUMENT,
                "CUDA device " + std::to_string(device) + " does not exist (" +
                    std::to_string(state().device_count) + " device(s))");
  std::memset(info, 0, sizeof *info);
  CUdevice dev = 0;
  if (int st = check(d.cuDeviceGet(&dev, device), "cuDeviceGet")) return st;
  if (int st = check(d.cuDeviceGetName(info->name, sizeof info->name - 1, dev), "cuDeviceGetName"))
    return st;
  size_t total = 0;
  if (int st = check(d.cuDeviceTotalMem(&total, dev), "cuDeviceTotalMem")) return st;
  info->total_memory = total;
  struct Query {
    CUdevice_attribute attribute;
    int* out;
  } queries[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info->compute_major},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info->compute_minor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info->multiprocessors},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &info->max_threads_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &info->max_shared_memory_per_block},
      {CU_DEVICE_ATTRIBUTE_WARP_SIZE, &info->warp_size},
  };
  for (const Query& q : queries)
    if (int st = check(d.cuDeviceGetAttribute(q.out, q.attribute, dev), "cuDeviceGetAttribute"))
      return st;
  return CGVM_CUDA_OK;
}

}  // namespace cgvm::cuda_plugin::abi
