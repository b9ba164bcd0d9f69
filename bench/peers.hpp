#pragma once
// The peers cgvm is measured against (DESIGN.md §7), behind plain C++ signatures so that
// the benchmark sources include neither libtorch nor each other's flags:
//   - loop::   hand-written C++ loops, loops.cpp, compiled -O3 -march=native (no fast-math):
//              the practical limit a user would write by hand;
//   - torch_peer:: libtorch's C++ eager API, torch_peers.cpp, or torch_absent.cpp when CMake
//              did not find libtorch (then available() is false and the column is skipped).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

namespace loop {

// False when loops.cpp was built without OpenMP: then `threads` is ignored (one thread).
bool honours_threads();

// out[i] = tanh(a*x[i]+b) * sigmoid(y[i]) + x[i]*x[i]
void elementwise(const float* x, const float* y, float a, float b, float* out, std::int64_t n,
                 int threads);

// Row softmax of a C-ordered rows x cols matrix: per row max, exp and sum, scale.
void softmax_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                  int threads);

}  // namespace loop

namespace torch_peer {

bool available();
// "libtorch 1.13.1", or why there is no libtorch column.
std::string description();
// torch::set_num_threads(n) and OpenBLAS n threads (libtorch's products run in OpenBLAS
// here); the first call also sets at::set_num_interop_threads(1).
void set_threads(int n);

// A prepared computation: run() does one eager evaluation (or training step) and keeps its
// result; result() copies that result out, for checking against cgvm.
struct Runner {
  std::function<void()> run;
  std::function<std::vector<float>()> result;
};

// With libtorch, `runner` = make(), run once; its result (to check against cgvm). Without
// libtorch, empty, and `runner` is left empty.
inline std::vector<float> first_result(Runner& runner, const std::function<Runner()>& make) {
  if (!available()) return {};
  runner = make();
  runner.run();
  return runner.result();
}

Runner elementwise(const float* x, const float* y, float a, float b, std::int64_t n);
Runner softmax(const float* x, std::int64_t rows, std::int64_t cols);

// A dense MLP with ReLU between layers, softmax cross-entropy (mean over the batch) and
// plain SGD. Weights are given as [in, out] row-major (cgvm's layout for x @ w).
struct MlpSetup {
  std::vector<std::int64_t> sizes;              // {784, 512, 512, 10}
  std::vector<std::vector<float>> weights;       // per layer, [in, out]
  std::vector<std::vector<float>> biases;        // per layer, [out]
  std::vector<float> x;                          // [batch, sizes.front()]
  std::vector<std::int64_t> labels;              // [batch]
  std::int64_t batch = 0;
  float learning_rate = 0.01f;
};
// run(): zero_grad, forward, cross_entropy, backward, torch::optim::SGD step.
// result(): {the loss of the last step}.
Runner mlp_step(const MlpSetup& setup);

}  // namespace torch_peer
}  // namespace bench
