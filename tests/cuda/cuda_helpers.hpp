#pragma once
// Shared by the CUDA tests: environment overrides, a fresh plugin instance, kernels.
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cgvm.hpp"
#include "cuda/backend.hpp"
#include "symbolic/op_list.hpp"
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

// A loss and its gradients, over inputs (weights are inputs too).
struct TrainingGraph {
  std::vector<Var> inputs;
  std::vector<Var> outputs;  // the loss, then d loss / d each weight
};

// An MLP step, 784-64-10, ReLU, softmax cross-entropy; inputs x, labels (int64), w0, b0,
// w1, b1.
inline TrainingGraph mlp_training_graph() {
  Var x = matrix("x"), w0 = matrix("w0"), b0 = vector("b0"), w1 = matrix("w1"),
      b1 = vector("b1");
  Var labels = vector("labels", int64);
  Var logits = dot(relu(dot(x, w0) + b0), w1) + b1;
  Var loss = categorical_crossentropy(softmax(logits), labels).mean();
  TrainingGraph g{{x, labels, w0, b0, w1, b1}, {loss}};
  for (const Var& d : grad(loss, std::vector<Var>{w0, b0, w1, b1})) g.outputs.push_back(d);
  return g;
}

// An LSTM over a sequence (the cell as rnn_bench writes it, hidden size `hidden`), loss the
// sum of all h, trained through scan; inputs xs, h0, c0, wx, wh, b.
inline TrainingGraph lstm_training_graph(std::int64_t hidden = 16) {
  Var xs = tensor3("xs"), h0 = matrix("h0"), c0 = matrix("c0");
  Var wx = matrix("wx"), wh = matrix("wh"), b = vector("b");
  auto step = [hidden](const StepArgs& s) -> StepResult {
    Var pre = dot(s[0], s[3]) + dot(s[1], s[4]) + s[5];
    auto gate = [&](std::int64_t k) { return pre(slice(), slice(k * hidden, (k + 1) * hidden)); };
    Var c = sigmoid(gate(1)) * s[2] + sigmoid(gate(0)) * tanh(gate(2));
    return std::vector<Var>{sigmoid(gate(3)) * tanh(c), c};
  };
  Var hs = scan(step, {.sequences = {xs}, .outputs_info = {h0, c0},
                       .non_sequences = {wx, wh, b}, .name = "lstm"})[0];
  Var loss = hs.sum();
  TrainingGraph g{{xs, h0, c0, wx, wh, b}, {loss}};
  for (const Var& d : grad(loss, std::vector<Var>{wx, wh, b})) g.outputs.push_back(d);
  return g;
}

// Values for lstm_training_graph(hidden): `steps` steps of a batch of `batch` rows of
// `input` features; states in [-1, 1], weights in [-scale, scale]; seeds from `seed` on.
inline std::vector<Value> lstm_values(std::int64_t steps, std::int64_t batch, std::int64_t input,
                                      std::int64_t hidden, double scale, std::uint64_t seed = 11) {
  return {Array::uniform(seed, {steps, batch, input}, -1, 1),
          Array::uniform(seed + 1, {batch, hidden}, -1, 1),
          Array::uniform(seed + 2, {batch, hidden}, -1, 1),
          Array::uniform(seed + 3, {input, 4 * hidden}, -scale, scale),
          Array::uniform(seed + 4, {hidden, 4 * hidden}, -scale, scale),
          Array::uniform(seed + 5, {4 * hidden}, -scale, scale)};
}

// dot(a, b) through an op with no device form (every op of the table has one): what a
// device function runs on the host, moving its operands over.
inline Var host_only_dot(const Var& a, const Var& b,
                         std::source_location loc = std::source_location::current()) {
  static const OpDef def = [] {
    OpDef d = ops::matmul_op();
    d.name = "host_only_dot";
    d.on_device = {};
    return d;
  }();
  return apply(def, {a, b}, {}, loc);
}

}  // namespace cgvm::test

// The GPU tests' first line: on a machine without a usable GPU they say why and pass.
#define CGVM_REQUIRE_GPU_OR_SKIP()                                   \
  do {                                                               \
    if (!::cgvm::cuda::available()) {                                \
      MESSAGE("skipped, no usable GPU: " << ::cgvm::cuda::status()); \
      return;                                                        \
    }                                                                \
  } while (0)
