#pragma once
// The recurrent layers rnn_bench and cuda_bench time: an LSTM (gates i, f, g, o, as torch)
// or a tanh RNN written as a scan() step function, and for training the loss sum(hs) with
// its gradients w.r.t. the weights.
#include <cgvm.hpp>

#include <cstdint>
#include <vector>

namespace bench {

// The layer as a cgvm graph: inputs xs, h0 (and c0), wx, wh, b; hs, and for training the
// loss and its gradients.
struct CgvmRnn {
  std::vector<cgvm::Var> inputs;
  cgvm::Var hs, loss;
  std::vector<cgvm::Var> grads;  // d loss / d wx, wh, b
};

inline CgvmRnn build_rnn(bool lstm, std::int64_t hidden) {
  using namespace cgvm;
  Var xs = tensor3("xs"), h0 = matrix("h0");
  Var wx = matrix("wx"), wh = matrix("wh"), b = vector("b");
  const std::int64_t H = hidden;
  // Step arguments: x_t, h_{t-1}, (c_{t-1}), then the non-sequences wx, wh, b.
  auto lstm_step = [H](const StepArgs& v) -> StepResult {
    Var pre = dot(v[0], v[3]) + dot(v[1], v[4]) + v[5];
    auto gate = [&](std::int64_t k) { return pre(slice(), slice(k * H, (k + 1) * H)); };
    Var i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = tanh(gate(2)), o = sigmoid(gate(3));
    Var c = f * v[2] + i * g;
    return std::vector<Var>{o * tanh(c), c};
  };
  auto tanh_step = [](const StepArgs& v) -> StepResult {
    return tanh(dot(v[0], v[2]) + dot(v[1], v[3]) + v[4]);
  };
  CgvmRnn r;
  if (lstm) {
    Var c0 = matrix("c0");
    r.hs = scan(lstm_step, {.sequences = {xs}, .outputs_info = {h0, c0},
                            .non_sequences = {wx, wh, b}, .name = "lstm"})[0];
    r.inputs = {xs, h0, c0, wx, wh, b};
  } else {
    r.hs = scan(tanh_step, {.sequences = {xs}, .outputs_info = {h0},
                            .non_sequences = {wx, wh, b}, .name = "rnn"})[0];
    r.inputs = {xs, h0, wx, wh, b};
  }
  r.loss = r.hs.sum();
  r.grads = grad(r.loss, std::vector<Var>{wx, wh, b});
  return r;
}

}  // namespace bench
