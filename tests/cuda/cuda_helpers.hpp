#pragma once
// Shared by the CUDA tests: environment overrides, a fresh plugin instance, kernels.
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cuda/backend.hpp"
#include "cuda_test_paths.hpp"  // generated: CGVM_TEST_FAKE_LIBCUDA, CGVM_TEST_CUDA_PLUGIN
#include "support.hpp"

namespace cgvm::test {

// Sets (or, with nullptr, unsets) environment variables and makes the CUDA backend search
// again; restores the old values and searches again on destruction. Tests that use it do
// not run concurrently (doctest runs cases one at a time).
class ScopedCudaEnvironment {
 public:
  explicit ScopedCudaEnvironment(
      std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      value ? setenv(name, value, 1) : unsetenv(name);
    }
    cuda::detail::reload_plugin();
  }
  ~ScopedCudaEnvironment() {
    for (auto& [name, old] : saved_)
      old ? setenv(name.c_str(), old->c_str(), 1) : unsetenv(name.c_str());
    cuda::detail::reload_plugin();
  }
  ScopedCudaEnvironment(const ScopedCudaEnvironment&) = delete;
  ScopedCudaEnvironment& operator=(const ScopedCudaEnvironment&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

#ifdef CGVM_TEST_CUDA_PLUGIN
// A copy of the plugin under a new name: dlopen makes it a fresh instance, whose driver is
// not yet initialised, so a test can give it another driver.
inline std::string fresh_plugin_copy() {
  std::filesystem::path copy = std::filesystem::path(temp_dir()) / "libcgvm_cuda_copy.so";
  std::filesystem::copy_file(CGVM_TEST_CUDA_PLUGIN, copy);
  return copy.string();
}
#endif

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// saxpy, and a block reduction of halves with warp shuffles (the shapes of code the CUDA
// emitter produces: elementwise and reduce kernels, extern "C", cuda_fp16.h).
inline const char* kKernelsSource = R"(#include <cuda_fp16.h>
extern "C" __global__ void saxpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

extern "C" __global__ void add_one(int n, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += 1.0f;
}

// One partial sum per block: shuffles within each warp, then the warps' sums.
extern "C" __global__ void block_sum_half(int n, const __half* x, float* partial) {
  __shared__ float warp_sums[32];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? __half2float(x[i]) : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x + 31) / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0) partial[blockIdx.x] = v;
  }
}
)";

}  // namespace cgvm::test

// The GPU tests' first line: on a machine without a usable GPU they say why and pass.
#define CGVM_REQUIRE_GPU_OR_SKIP()                                   \
  do {                                                               \
    if (!::cgvm::cuda::available()) {                                \
      MESSAGE("skipped, no usable GPU: " << ::cgvm::cuda::status()); \
      return;                                                        \
    }                                                                \
  } while (0)
