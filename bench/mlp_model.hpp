#pragma once
// The MLP training step that mlp_step_bench (speed) and compile_bench (compile latency)
// build: 784-512-512-10, ReLU, softmax cross-entropy averaged over a batch of 128, plain SGD
// with learning rate 0.01, float32. Data and initial weights come from fixed seeds.
//
// Initial weights follow torch::nn::Linear's default distribution, U(-1/sqrt(in), 1/sqrt(in))
// for weights and biases, so libtorch can start from exactly the same values.
#include <cgvm.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace bench {

struct MlpData {
  std::vector<std::int64_t> sizes{784, 512, 512, 10};
  std::int64_t batch = 128;
  float learning_rate = 0.01f;
  std::vector<cgvm::Array> weights;  // [in, out]
  std::vector<cgvm::Array> biases;   // [out]
  cgvm::Array x;                     // float32 [batch, 784], standard normal
  cgvm::Array labels;                // int64 [batch], uniform over the 10 classes
};

inline MlpData make_mlp_data(std::uint64_t seed = 42, std::int64_t batch = 128) {
  MlpData d;
  d.batch = batch;
  cgvm::Generator gen(seed);
  for (std::size_t i = 0; i + 1 < d.sizes.size(); ++i) {
    double bound = 1.0 / std::sqrt(static_cast<double>(d.sizes[i]));
    d.weights.push_back(cgvm::Array::uniform(gen, {d.sizes[i], d.sizes[i + 1]}, -bound, bound));
    d.biases.push_back(cgvm::Array::uniform(gen, {d.sizes[i + 1]}, -bound, bound));
  }
  d.x = cgvm::Array::normal(gen, {d.batch, d.sizes.front()});
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < d.batch; ++i) labels.push_back(gen.next_integer(0, d.sizes.back()));
  d.labels = cgvm::Array::from_vector(labels);
  return d;
}

// The symbolic training step: inputs, the loss, and the SGD updates of every parameter.
// Pass them to function({step.x, step.labels}, {step.loss}, {.updates = step.updates}).
struct MlpStep {
  std::vector<cgvm::SharedVar> params;  // w0, b0, w1, b1, ...
  cgvm::Var x, labels, loss;
  cgvm::Replacements updates;
};

inline MlpStep build_mlp_step(const MlpData& d) {
  using namespace cgvm;
  MlpStep s;
  s.x = matrix("x");
  s.labels = vector("labels", int64);
  Var h = s.x;
  for (std::size_t i = 0; i < d.weights.size(); ++i) {
    SharedVar w = shared(d.weights[i], "w" + std::to_string(i));
    SharedVar b = shared(d.biases[i], "b" + std::to_string(i));
    s.params.push_back(w);
    s.params.push_back(b);
    h = dot(h, w) + b;
    if (i + 1 < d.weights.size()) h = relu(h);
  }
  s.loss = categorical_crossentropy(softmax(h), s.labels).mean();
  std::vector<Var> wrt(s.params.begin(), s.params.end());
  std::vector<Var> grads = grad(s.loss, wrt);
  for (std::size_t i = 0; i < s.params.size(); ++i)
    s.updates.emplace_back(s.params[i], s.params[i] - d.learning_rate * grads[i]);
  return s;
}

// Floating-point operations of one training step: the forward products, the weight
// gradients (as many again), and the input gradients of every layer but the first.
inline double mlp_step_flops(const MlpData& d) {
  double forward = 0;
  for (std::size_t i = 0; i + 1 < d.sizes.size(); ++i)
    forward += 2.0 * static_cast<double>(d.batch * d.sizes[i] * d.sizes[i + 1]);
  double first = 2.0 * static_cast<double>(d.batch * d.sizes[0] * d.sizes[1]);
  return 3 * forward - first;
}

}  // namespace bench
