#pragma once
// Inside the plugin only: the driver entry table, the per-thread context, and error text.
//
// The plugin never links libcuda (DESIGN.md §6): init() dlopens it and asks
// cuGetProcAddress for each entry point by its base name, at the CUDA version that
// introduced the variant cuda.h's prototype declares (cuMemAlloc -> cuMemAlloc_v2, 3.2).
// The driver returns the newest variant at or below the version asked, so asking at the
// toolkit's version would be wrong where the driver has a newer variant than cuda.h's name
// maps to: at 13.0, cuCtxSynchronize is the variant that takes a context, while cuda.h
// still declares the one that takes none. Each entry's version is checked at compile time
// against cudaTypedefs.h's PFN_<name>_v<version>.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <string>
#include <string_view>
#include <type_traits>

#include "cuda/plugin_abi.h"

namespace cgvm::cuda_plugin {

// Every driver call the plugin makes besides cuInit/cuGetProcAddress/cuGetErrorName/
// cuGetErrorString (taken with dlsym, as they must work before or without cuInit): its
// name and the version of its variant.
// clang-format off
#define CGVM_CUDA_DRIVER_FUNCTIONS(X)                                                       \
  X(cuDriverGetVersion, 2020) X(cuDeviceGetCount, 2000) X(cuDeviceGet, 2000)                \
  X(cuDeviceGetName, 2000) X(cuDeviceGetAttribute, 2000) X(cuDeviceTotalMem, 3020)          \
  X(cuDevicePrimaryCtxRetain, 7000) X(cuDeviceGetDefaultMemPool, 11020)                     \
  X(cuMemPoolSetAttribute, 11020)                                                           \
  X(cuCtxGetCurrent, 4000) X(cuCtxSetCurrent, 4000) X(cuCtxSynchronize, 2000)               \
  X(cuMemGetInfo, 3020) X(cuMemAlloc, 3020) X(cuMemFree, 3020) X(cuMemAllocAsync, 11020)    \
  X(cuMemFreeAsync, 11020) X(cuMemAllocHost, 3020) X(cuMemFreeHost, 2000)                   \
  X(cuMemsetD8Async, 3020) X(cuMemcpyHtoDAsync, 3020) X(cuMemcpyDtoHAsync, 3020)            \
  X(cuMemcpyDtoDAsync, 3020)                                                                \
  X(cuStreamCreate, 2000) X(cuStreamDestroy, 4000) X(cuStreamSynchronize, 2000)             \
  X(cuStreamWaitEvent, 3020)                                                                \
  X(cuEventCreate, 2000) X(cuEventDestroy, 4000) X(cuEventRecord, 2000)                     \
  X(cuEventSynchronize, 2000) X(cuEventElapsedTime, 12080)                                  \
  X(cuModuleLoadDataEx, 2010) X(cuModuleUnload, 2000) X(cuModuleGetFunction, 2000)          \
  X(cuFuncSetAttribute, 9000) X(cuLaunchKernel, 4000)                                       \
  X(cuStreamBeginCapture, 10010) X(cuStreamEndCapture, 10000)                               \
  X(cuGraphInstantiateWithFlags, 11040) X(cuGraphLaunch, 10000)                             \
  X(cuGraphExecDestroy, 10000) X(cuGraphDestroy, 10000)
// clang-format on

// Member names go through cuda.h's macros as the calls do (d.cuMemAlloc is the member
// cuMemAlloc_v2 on both sides), so each call site reads like plain driver API code.
struct DriverApi {
#define CGVM_DECLARE_ENTRY(name, version)                                        \
  static_assert(std::is_same_v<decltype(&::name), PFN_##name##_v##version>,    \
                #name ": cuda.h's prototype is not the variant of that version"); \
  decltype(&::name) name = nullptr;
  CGVM_CUDA_DRIVER_FUNCTIONS(CGVM_DECLARE_ENTRY)
#undef CGVM_DECLARE_ENTRY
};

// The loaded driver; valid (all entries set) only when the state is READY.
const DriverApi& driver();

// CGVM_CUDA_OK, or CGVM_CUDA_UNAVAILABLE with the driver status as the message.
int require_driver();
// require_driver(), then makes the thread's device's primary context current (retained
// once per device, for the life of the process).
int enter_context();
int current_device();  // the calling thread's device

// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)", also for codes the driver never named.
std::string describe(CUresult result);

// Sets the thread's last error and returns `status`.
int fail(int status, const std::string& message);
// OK for CUDA_SUCCESS; otherwise fails with "<what>: <describe(result)>".
int check(CUresult result, std::string_view what);
// check() for the hot paths (launches, copies): the message is built only on failure.
template <class Describe>
int check_lazy(CUresult result, Describe&& what) {
  return result == CUDA_SUCCESS ? CGVM_CUDA_OK : check(result, what());
}
const char* last_error();

int init(const char* driver_library);
int driver_state();
const char* driver_status();

}  // namespace cgvm::cuda_plugin

// The ABI entries, grouped by the file that defines them.
namespace cgvm::cuda_plugin::abi {
int driver_version(int* version);
int device_count(int* count);
int device_info(int device, CgvmCudaDeviceInfo* info);
int set_device(int device);

int nvrtc_version(int* major, int* minor);
const char* toolkit_include_dir();
int compile(const CgvmCudaCompileRequest* request, CgvmCudaCompileResult* result);
void free_compile_result(CgvmCudaCompileResult* result);

int gemm(const CgvmCudaGemm* gemm);
// Creates the calling thread's device's cuBLAS handle and `stream`'s cuBLAS workspace now,
// if they do not exist: creating them allocates, which a stream capture forbids.
int prepare_blas(void* stream);
// Frees `stream`'s cuBLAS workspace, if it has one (before the stream is destroyed).
int forget_blas_stream(void* stream);
}  // namespace cgvm::cuda_plugin::abi
