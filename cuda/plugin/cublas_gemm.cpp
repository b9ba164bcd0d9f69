// cuBLAS products on device memory, one handle per device.
//
// cuBLAS runs on the CUDA runtime, which adopts the context current on the thread: our
// primary context (enter_context), so its memory and ours are the same address space.
//
// Workspaces: left alone, cuBLAS allocates its workspace lazily, which a stream capture
// forbids. We give it one, allocated by us, per stream (32 MiB on sm_90+, 4 MiB before, the
// cuBLAS docs' advice): per stream because gemms on two streams may run at once, and
// because cublasSetStream resets the workspace to cuBLAS's own pool, so every call sets
// both. capture_begin prepares the capturing stream's workspace before the capture starts.
#include <cublas_v2.h>

#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "cuda/plugin/driver.hpp"

namespace cgvm::cuda_plugin::abi {
namespace {

struct Handle {
  std::mutex mutex;  // the stream is set per call: one call at a time per handle
  cublasHandle_t handle = nullptr;
  size_t workspace_bytes = 0;
  std::unordered_map<CUstream, CUdeviceptr> workspaces;
};

struct Handles {
  std::mutex mutex;
  std::vector<std::unique_ptr<Handle>> per_device;
};

Handles& handles() {
  static Handles* h = new Handles;  // leaked: handles live as long as the process
  return *h;
}

int blas_fail(cublasStatus_t status, const std::string& what) {
  const int category =
      status == CUBLAS_STATUS_ALLOC_FAILED ? CGVM_CUDA_OUT_OF_MEMORY : CGVM_CUDA_BLAS_ERROR;
  return fail(category, what + ": " + cublasGetStatusName(status) + " (" +
                            cublasGetStatusString(status) + ")");
}

// The calling thread's device's handle, created on first use.
int device_handle(Handle** out) {
  if (int status = enter_context()) return status;
  const int device = current_device();
  Handles& h = handles();
  std::lock_guard lock(h.mutex);
  if (h.per_device.size() <= static_cast<std::size_t>(device))
    h.per_device.resize(static_cast<std::size_t>(device) + 1);
  std::unique_ptr<Handle>& slot = h.per_device[static_cast<std::size_t>(device)];
  if (!slot) {
    CgvmCudaDeviceInfo info{};
    if (int status = device_info(device, &info)) return status;
    auto made = std::make_unique<Handle>();
    if (cublasStatus_t s = cublasCreate(&made->handle); s != CUBLAS_STATUS_SUCCESS)
      return blas_fail(s, "cublasCreate");
    made->workspace_bytes = size_t(info.compute_major >= 9 ? 32 : 4) << 20;
    slot = std::move(made);
  }
  *out = slot.get();
  return CGVM_CUDA_OK;
}

// Points the handle at `stream` and at that stream's workspace (made on first use). The
// handle's mutex is held.
int bind_stream(Handle& h, void* stream) {
  const CUstream s = static_cast<CUstream>(stream);
  if (cublasStatus_t r = cublasSetStream(h.handle, static_cast<cudaStream_t>(s));
      r != CUBLAS_STATUS_SUCCESS)
    return blas_fail(r, "cublasSetStream");
  CUdeviceptr& workspace = h.workspaces[s];
  if (!workspace) {
    if (int status = check(driver().cuMemAlloc(&workspace, h.workspace_bytes),
                           "cuMemAlloc (cuBLAS workspace of " +
                               std::to_string(h.workspace_bytes >> 20) + " MiB)")) {
      h.workspaces.erase(s);
      return status;
    }
  }
  if (cublasStatus_t r =
          cublasSetWorkspace(h.handle, reinterpret_cast<void*>(workspace), h.workspace_bytes);
      r != CUBLAS_STATUS_SUCCESS)
    return blas_fail(r, "cublasSetWorkspace");
  return CGVM_CUDA_OK;
}

cublasOperation_t op(int transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

template <class T>
cublasStatus_t run(cublasHandle_t handle, const CgvmCudaGemm& g) {
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  auto* a = reinterpret_cast<const T*>(g.a);
  auto* b = reinterpret_cast<const T*>(g.b);
  auto* c = reinterpret_cast<T*>(g.c);
  const cublasOperation_t ta = op(g.transpose_a), tb = op(g.transpose_b);
  if constexpr (std::is_same_v<T, float>) {
    if (g.batch_count == 1)
      return cublasSgemm_64(handle, ta, tb, g.m, g.n, g.k, &alpha, a, g.lda, b, g.ldb, &beta, c,
                            g.ldc);
    return cublasSgemmStridedBatched_64(handle, ta, tb, g.m, g.n, g.k, &alpha, a, g.lda, g.stride_a,
                                        b, g.ldb, g.stride_b, &beta, c, g.ldc, g.stride_c,
                                        g.batch_count);
  } else {
    if (g.batch_count == 1)
      return cublasDgemm_64(handle, ta, tb, g.m, g.n, g.k, &alpha, a, g.lda, b, g.ldb, &beta, c,
                            g.ldc);
    return cublasDgemmStridedBatched_64(handle, ta, tb, g.m, g.n, g.k, &alpha, a, g.lda, g.stride_a,
                                        b, g.ldb, g.stride_b, &beta, c, g.ldc, g.stride_c,
                                        g.batch_count);
  }
}

}  // namespace

int prepare_blas(void* stream) {
  Handle* h = nullptr;
  if (int status = device_handle(&h)) return status;
  std::lock_guard lock(h->mutex);
  return bind_stream(*h, stream);
}

int forget_blas_stream(void* stream) {
  if (int status = enter_context()) return status;
  Handles& all = handles();
  Handle* h = nullptr;
  {
    std::lock_guard lock(all.mutex);
    const auto device = static_cast<std::size_t>(current_device());
    if (device >= all.per_device.size() || !all.per_device[device]) return CGVM_CUDA_OK;
    h = all.per_device[device].get();
  }
  std::lock_guard lock(h->mutex);
  auto it = h->workspaces.find(static_cast<CUstream>(stream));
  if (it == h->workspaces.end()) return CGVM_CUDA_OK;
  // Work queued on the stream may still use the workspace.
  const CUdeviceptr workspace = it->second;
  h->workspaces.erase(it);
  if (int st = check(driver().cuStreamSynchronize(static_cast<CUstream>(stream)),
                     "cuStreamSynchronize (before freeing its cuBLAS workspace)"))
    return st;
  return check(driver().cuMemFree(workspace), "cuMemFree (cuBLAS workspace)");
}

int gemm(const CgvmCudaGemm* g) {
  if (g->dtype != CGVM_CUDA_FLOAT32 && g->dtype != CGVM_CUDA_FLOAT64)
    return fail(CGVM_CUDA_INVALID_ARGUMENT,
                "gemm: dtype code " + std::to_string(g->dtype) + " is not float32 or float64");
  if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch_count < 1)
    return fail(CGVM_CUDA_INVALID_ARGUMENT,
                "gemm: negative size or batch count < 1 (m=" + std::to_string(g->m) +
                    " n=" + std::to_string(g->n) + " k=" + std::to_string(g->k) +
                    " batch=" + std::to_string(g->batch_count) + ")");
  Handle* h = nullptr;
  if (int status = device_handle(&h)) return status;
  std::lock_guard lock(h->mutex);
  if (int status = bind_stream(*h, g->stream)) return status;
  const cublasStatus_t s =
      g->dtype == CGVM_CUDA_FLOAT32 ? run<float>(h->handle, *g) : run<double>(h->handle, *g);
  if (s != CUBLAS_STATUS_SUCCESS) {
    const char* name = g->dtype == CGVM_CUDA_FLOAT32 ? "sgemm" : "dgemm";
    return blas_fail(s, std::string("cuBLAS ") + name + (g->batch_count > 1 ? " (batched)" : "") +
                            " m=" + std::to_string(g->m) + " n=" + std::to_string(g->n) +
                            " k=" + std::to_string(g->k) + " lda=" + std::to_string(g->lda) +
                            " ldb=" + std::to_string(g->ldb) + " ldc=" + std::to_string(g->ldc));
  }
  return CGVM_CUDA_OK;
}

}  // namespace cgvm::cuda_plugin::abi
