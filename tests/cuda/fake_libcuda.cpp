// Stand-ins for libcuda.so.1, loaded by the plugin through CGVM_CUDA_DRIVER. No CUDA header:
// codes and attribute numbers are the driver's values, written out. Built twice:
//  - libcgvm_fake_libcuda.so: cuInit says CUDA_ERROR_NO_DEVICE, as on a machine with a
//    driver and no usable GPU;
//  - libcgvm_fake_libcuda_host.so (CGVM_FAKE_CUDA_HAS_DEVICE): one device whose "device
//    memory" is host memory and whose streams run everything at once, so the plugin's
//    driver plumbing (entry points, contexts, copies, errors) runs without a GPU. The
//    version it reports is $CGVM_FAKE_CUDA_DRIVER_VERSION, or 13000. Entry points it does not
//    implement answer CUDA_ERROR_NOT_SUPPORTED.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
constexpr int kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNoDevice = 100,
              kInvalidDevice = 101, kNotSupported = 801;

const char* error_name(int error) {
  switch (error) {
    case kInvalidValue:
      return "CUDA_ERROR_INVALID_VALUE";
    case kOutOfMemory:
      return "CUDA_ERROR_OUT_OF_MEMORY";
    case kNoDevice:
      return "CUDA_ERROR_NO_DEVICE";
    case kInvalidDevice:
      return "CUDA_ERROR_INVALID_DEVICE";
    case kNotSupported:
      return "CUDA_ERROR_NOT_SUPPORTED";
    default:
      return nullptr;
  }
}
}  // namespace

FAKE_EXPORT int cuGetErrorName(int error, const char** name) {
  *name = error_name(error);
  return *name ? kSuccess : kInvalidValue;
}

FAKE_EXPORT int cuGetErrorString(int error, const char** text) {
  *text = error == kNoDevice  ? "no CUDA-capable device is detected"
          : error_name(error) ? "fake driver"
                              : nullptr;
  return *text ? kSuccess : kInvalidValue;
}

#ifndef CGVM_FAKE_CUDA_HAS_DEVICE

FAKE_EXPORT int cuInit(unsigned /*flags*/) { return kNoDevice; }

#else

namespace {
int g_context_tag = 0;  // the one primary context is &g_context_tag
thread_local void* t_current = nullptr;
std::string g_requests;  // "name@version;" for every cuGetProcAddress call

int unsupported() { return kNotSupported; }

int driver_get_version(int* version) {
  const char* text = std::getenv("CGVM_FAKE_CUDA_DRIVER_VERSION");
  *version = text ? std::atoi(text) : 13000;
  return kSuccess;
}
int device_get_count(int* count) {
  *count = 1;
  return kSuccess;
}
int device_get(int* device, int ordinal) {
  if (ordinal != 0) return kInvalidDevice;
  *device = 0;
  return kSuccess;
}
int device_get_name(char* name, int length, int /*device*/) {
  std::strncpy(name, "cgvm fake device", static_cast<std::size_t>(length));
  return kSuccess;
}
int device_get_attribute(int* value, int attribute, int /*device*/) {
  switch (attribute) {
    case 75:
      *value = 9;
      return kSuccess;  // compute capability major
    case 76:
      *value = 0;
      return kSuccess;  // minor
    case 16:
      *value = 4;
      return kSuccess;  // multiprocessors
    case 1:
      *value = 1024;
      return kSuccess;  // max threads per block
    case 97:
      *value = 232448;
      return kSuccess;  // opt-in shared memory per block
    case 10:
      *value = 32;
      return kSuccess;  // warp size
    default:
      return kInvalidValue;
  }
}
int device_total_mem(std::size_t* bytes, int /*device*/) {
  *bytes = std::size_t(1) << 30;
  return kSuccess;
}
int primary_ctx_retain(void** context, int /*device*/) {
  *context = &g_context_tag;
  return kSuccess;
}
int ctx_get_current(void** context) {
  *context = t_current;
  return kSuccess;
}
int ctx_set_current(void* context) {
  t_current = context;
  return kSuccess;
}
int with_context() { return t_current == &g_context_tag ? kSuccess : kInvalidValue; }
int ctx_synchronize() { return with_context(); }
int g_pool_tag = 0;  // the device's one memory pool is &g_pool_tag
std::uint64_t g_release_threshold = 0;
int device_get_default_mem_pool(void** pool, int device) {
  if (device != 0) return kInvalidDevice;
  *pool = &g_pool_tag;
  return kSuccess;
}
int mem_pool_set_attribute(void* pool, int attribute, void* value) {
  if (pool != &g_pool_tag) return kInvalidValue;
  if (attribute != 4) return kNotSupported;  // only CU_MEMPOOL_ATTR_RELEASE_THRESHOLD
  g_release_threshold = *static_cast<std::uint64_t*>(value);
  return kSuccess;
}
int mem_get_info(std::size_t* free_bytes, std::size_t* total) {
  *free_bytes = *total = std::size_t(1) << 30;
  return with_context();
}
int mem_alloc(std::uint64_t* ptr, std::size_t bytes) {
  if (int st = with_context()) return st;
  if (bytes > (std::size_t(1) << 30)) return kOutOfMemory;
  *ptr = reinterpret_cast<std::uint64_t>(std::malloc(bytes));
  return *ptr ? kSuccess : kOutOfMemory;
}
int mem_free(std::uint64_t ptr) {
  std::free(reinterpret_cast<void*>(ptr));
  return with_context();
}
int mem_alloc_async(std::uint64_t* ptr, std::size_t bytes, void*) { return mem_alloc(ptr, bytes); }
int mem_free_async(std::uint64_t ptr, void*) { return mem_free(ptr); }
int memset_d8(std::uint64_t dst, unsigned char value, std::size_t n, void*) {
  std::memset(reinterpret_cast<void*>(dst), value, n);
  return with_context();
}
int copy_htod(std::uint64_t dst, const void* src, std::size_t n, void*) {
  std::memcpy(reinterpret_cast<void*>(dst), src, n);
  return with_context();
}
int copy_dtoh(void* dst, std::uint64_t src, std::size_t n, void*) {
  std::memcpy(dst, reinterpret_cast<const void*>(src), n);
  return with_context();
}
int copy_dtod(std::uint64_t dst, std::uint64_t src, std::size_t n, void*) {
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return with_context();
}
int stream_create(void** stream, unsigned /*flags*/) {
  *stream = std::malloc(1);
  return with_context();
}
int stream_destroy(void* stream) {
  std::free(stream);
  return with_context();
}
int stream_synchronize(void*) { return with_context(); }

struct Entry {
  const char* name;
  void* fn;
};
const Entry kEntries[] = {
    {"cuDriverGetVersion", reinterpret_cast<void*>(driver_get_version)},
    {"cuDeviceGetCount", reinterpret_cast<void*>(device_get_count)},
    {"cuDeviceGet", reinterpret_cast<void*>(device_get)},
    {"cuDeviceGetName", reinterpret_cast<void*>(device_get_name)},
    {"cuDeviceGetAttribute", reinterpret_cast<void*>(device_get_attribute)},
    {"cuDeviceTotalMem", reinterpret_cast<void*>(device_total_mem)},
    {"cuDevicePrimaryCtxRetain", reinterpret_cast<void*>(primary_ctx_retain)},
    {"cuCtxGetCurrent", reinterpret_cast<void*>(ctx_get_current)},
    {"cuCtxSetCurrent", reinterpret_cast<void*>(ctx_set_current)},
    {"cuCtxSynchronize", reinterpret_cast<void*>(ctx_synchronize)},
    {"cuDeviceGetDefaultMemPool", reinterpret_cast<void*>(device_get_default_mem_pool)},
    {"cuMemPoolSetAttribute", reinterpret_cast<void*>(mem_pool_set_attribute)},
    {"cuMemGetInfo", reinterpret_cast<void*>(mem_get_info)},
    {"cuMemAlloc", reinterpret_cast<void*>(mem_alloc)},
    {"cuMemFree", reinterpret_cast<void*>(mem_free)},
    {"cuMemAllocAsync", reinterpret_cast<void*>(mem_alloc_async)},
    {"cuMemFreeAsync", reinterpret_cast<void*>(mem_free_async)},
    {"cuMemsetD8Async", reinterpret_cast<void*>(memset_d8)},
    {"cuMemcpyHtoDAsync", reinterpret_cast<void*>(copy_htod)},
    {"cuMemcpyDtoHAsync", reinterpret_cast<void*>(copy_dtoh)},
    {"cuMemcpyDtoDAsync", reinterpret_cast<void*>(copy_dtod)},
    {"cuStreamCreate", reinterpret_cast<void*>(stream_create)},
    {"cuStreamDestroy", reinterpret_cast<void*>(stream_destroy)},
    {"cuStreamSynchronize", reinterpret_cast<void*>(stream_synchronize)},
};
}  // namespace

FAKE_EXPORT int cuInit(unsigned /*flags*/) { return kSuccess; }

// Knows base names only, as the real one does; anything not above answers "not supported".
FAKE_EXPORT int cuGetProcAddress_v2(const char* symbol, void** fn, int version,
                                    std::uint64_t /*flags*/, int* status) {
  g_requests += std::string(symbol) + "@" + std::to_string(version) + ";";
  *fn = reinterpret_cast<void*>(unsupported);
  for (const Entry& e : kEntries)
    if (std::strcmp(e.name, symbol) == 0) *fn = e.fn;
  if (status) *status = 0;
  return kSuccess;
}

// For the tests: what the plugin asked cuGetProcAddress for, and the memory pool's release
// threshold it set.
FAKE_EXPORT const char* cgvm_fake_cuda_requests() { return g_requests.c_str(); }
FAKE_EXPORT std::uint64_t cgvm_fake_cuda_release_threshold() { return g_release_threshold; }

#endif
