#pragma once
// Inside the plugin only: the driver entry table, the per-thread context, and error text.
//
// The plugin never links libcuda (DESIGN.md §6): init() dlopens it and asks
// cuGetProcAddress for each entry point at the CUDA version of the cuda.h we compile
// against. That returns the variant whose signature matches this header's prototype
// (cuMemAlloc -> cuMemAlloc_v2, cuEventElapsedTime -> cuEventElapsedTime_v2 in 13.0), so
// the types below, taken with decltype from the macro-mapped names, are the right ones.
#include <cuda.h>

#include <string>
#include <string_view>

#include "cuda/plugin_abi.h"

namespace cgvm::cuda_plugin {

// Every driver call the plugin makes besides cuInit/cuGetProcAddress/cuGetErrorName/
// cuGetErrorString (taken with dlsym, as they must work before or without cuInit).
// clang-format off
#define CGVM_CUDA_DRIVER_FUNCTIONS(X)                                                       \
  X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName)               \
  X(cuDeviceGetAttribute) X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain)                   \
  X(cuCtxGetCurrent) X(cuCtxSetCurrent) X(cuCtxSynchronize)                                 \
  X(cuMemGetInfo) X(cuMemAlloc) X(cuMemFree) X(cuMemAllocAsync) X(cuMemFreeAsync)           \
  X(cuMemAllocHost) X(cuMemFreeHost)                                                        \
  X(cuMemsetD8Async) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync)         \
  X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamWaitEvent)          \
  X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventSynchronize)                 \
  X(cuEventElapsedTime)                                                                     \
  X(cuModuleLoadDataEx) X(cuModuleUnload) X(cuModuleGetFunction) X(cuFuncSetAttribute)      \
  X(cuLaunchKernel)                                                                         \
  X(cuStreamBeginCapture) X(cuStreamEndCapture) X(cuGraphInstantiateWithFlags)              \
  X(cuGraphLaunch) X(cuGraphExecDestroy) X(cuGraphDestroy)
// clang-format on

// Member names go through cuda.h's macros as the calls do (d.cuMemAlloc is the member
// cuMemAlloc_v2 on both sides), so each call site reads like plain driver API code.
struct DriverApi {
#define CGVM_DECLARE_ENTRY(name) decltype(&::name) name = nullptr;
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
