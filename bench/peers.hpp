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

// A recurrent layer run over a whole sequence (rnn_bench): a vanilla tanh RNN,
// h_t = tanh(x_t Wx + h_{t-1} Wh + b), or an LSTM with gates i, f, g, o in that order (as
// torch): [i f g o] = x_t Wx + h_{t-1} Wh + b, c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g),
// h_t = sigmoid(o) tanh(c_t). Initial states are zero. Weights are in cgvm's layout for
// x @ w; every peer copies them in. The output is the stack of h_t over all steps.
struct RnnProblem {
  bool lstm = true;
  std::int64_t steps = 50, batch = 32, input = 128, hidden = 256;
  std::vector<float> x;   // [steps, batch, input]
  std::vector<float> wx;  // [input, gates * hidden]
  std::vector<float> wh;  // [hidden, gates * hidden]
  std::vector<float> b;   // [gates * hidden]
  std::int64_t gates() const { return lstm ? 4 : 1; }
};
// What a recurrent peer's result() returns: after a forward run, hs [steps, batch, hidden];
// after a training run, loss = sum(hs), then dloss/dWx, dWh, db flattened one after
// another, in RnnProblem's layout.

namespace loop {

// False when loops.cpp was built without OpenMP: then `threads` is ignored (one thread).
bool honours_threads();

// out[i] = tanh(a*x[i]+b) * sigmoid(y[i]) + x[i]*x[i]
void elementwise(const float* x, const float* y, float a, float b, float* out, std::int64_t n,
                 int threads);

// Row softmax of a C-ordered rows x cols matrix: per row max, exp and sum, scale.
void softmax_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                  int threads);

// A prepared hand-written recurrent layer (buffers allocated once, products by OpenBLAS's
// cblas_sgemm, whose thread count the caller sets). run(threads) is one forward pass, or
// with `training` one forward pass, loss = sum(hs) and backpropagation through time to
// the weights; result() as described at RnnProblem.
struct RnnRunner {
  std::function<void(int threads)> run;
  std::function<std::vector<float>()> result;
};
RnnRunner rnn(const RnnProblem& problem, bool training);

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

// A recurrent layer (RnnProblem) in libtorch, either as the library's module
// (torch::nn::LSTM / torch::nn::RNN with tanh, weights copied in, bias_hh zero) or written
// out: one addmm for the input projection of all steps, then a C++ loop over steps with
// torch::addmm and the cell's elementwise ops, torch::stack at the end. Forward runs under
// torch::NoGradGuard; training runs forward with autograd, loss = hs.sum() and
// torch::autograd::grad for Wx, Wh, b. result() as described at RnnProblem.
enum class RnnForm { Module, WrittenOut };
Runner rnn(const RnnProblem& problem, RnnForm form, bool training);

// An embedding fed to a tanh RNN (embedding_scan_bench): x_t = E[ids_t],
// h_t = tanh(x_t W + h_{t-1} U) from a zero h_0, loss = the sum of every h_t.
struct EmbeddingRnnSetup {
  std::int64_t steps = 0, batch = 0, vocabulary = 0, embedding = 0, hidden = 0;
  std::vector<std::int64_t> ids;  // [steps, batch]
  std::vector<float> e, w, u;     // [vocabulary, embedding], [embedding, hidden], [hidden, hidden]
};
// As a PyTorch user writes it: torch::embedding over the whole sequence, one matmul for the
// input projection of all steps, a C++ loop of addmm and tanh, autograd's grad for E, W, U.
// result(): the loss, then dE, dW, dU flattened.
Runner embedding_rnn(const EmbeddingRnnSetup& setup);

}  // namespace torch_peer
}  // namespace bench
