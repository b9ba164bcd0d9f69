#pragma once
// The device functions the GPU benchmarks time (cuda_bench) and whose host-side cost
// device_overhead_bench measures: each built for a device, with its arguments already
// there, as a training or decoding loop would call it.
//
//   mlp step       mlp_model.hpp's 784-512-512-10 MLP: loss, gradients, SGD updates of the
//                  shared weights (all on the device)
//   lstm train     rnn_model.hpp's LSTM (input 128, hidden 256, 50 steps): the loss sum(hs)
//                  and its gradients w.r.t. wx, wh, b, inputs
//   while loop     h <- tanh(h W + x), hidden 256, until no element moves by 1e-4 or more
//                  (at most 1000 steps; about 50 here): all the iterates, stacked
//   greedy decode  50 steps of h <- tanh(E[token] + h W), token <- argmax(h P) (vocabulary
//                  10,000, hidden 256), the token never leaving the device: the tokens
#include <cgvm.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mlp_model.hpp"
#include "rnn_model.hpp"

namespace bench {

struct DeviceCall {
  std::string name;
  cgvm::Function f{nullptr};
  std::vector<cgvm::Value> args;
  std::string unit = "per call";  // what one call is ("per step" for training steps)
};

inline std::vector<cgvm::Value> on_device(const std::vector<cgvm::Array>& arrays,
                                          cgvm::Device device) {
  std::vector<cgvm::Value> values;
  for (const cgvm::Array& a : arrays) values.emplace_back(cgvm::to_device(a, device));
  return values;
}

inline DeviceCall mlp_step_call(std::int64_t batch, cgvm::Device device) {
  using namespace cgvm;
  const MlpData data = make_mlp_data(42, batch);
  const MlpStep s = build_mlp_step(data);
  return {"mlp step",
          function({s.x, s.labels}, {s.loss}, {.updates = s.updates, .device = device}),
          on_device({data.x, data.labels}, device), "per step"};
}

inline DeviceCall lstm_train_call(std::int64_t batch, cgvm::Device device) {
  using namespace cgvm;
  const std::int64_t steps = 50, input = 128, hidden = 256, g = 4 * hidden;
  const CgvmRnn lstm = build_rnn(/*lstm=*/true, hidden);
  std::vector<Var> outputs{lstm.loss};
  outputs.insert(outputs.end(), lstm.grads.begin(), lstm.grads.end());
  Generator gen(7);
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden));
  return {"lstm train", function(lstm.inputs, outputs, {.device = device}),
          on_device({Array::normal(gen, {steps, batch, input}), Array::zeros({batch, hidden}),
                     Array::zeros({batch, hidden}), Array::uniform(gen, {input, g}, -k, k),
                     Array::uniform(gen, {hidden, g}, -k, k), Array::uniform(gen, {g}, -k, k)},
                    device),
          "per step"};
}

inline DeviceCall while_loop_call(std::int64_t batch, cgvm::Device device) {
  using namespace cgvm;
  const std::int64_t hidden = 256;
  Var x = matrix("x"), h0 = matrix("h0"), w = matrix("w");
  Var hs = scan(
      [&](const StepArgs& v) {
        Var h = tanh(dot(v[0], w) + x);
        return StepResult({h}, abs(h - v[0]).max() < 1e-4);
      },
      {.outputs_info = {h0}, .n_steps = 1000})[0];
  // Weights uniform with standard deviation 1.2 / sqrt(hidden): it converges, slowly.
  Generator gen(3);
  const double bound = 1.2 * std::sqrt(3.0 / static_cast<double>(hidden));
  return {"while loop", function({x, h0, w}, {hs}, {.device = device}),
          on_device({Array::normal(gen, {batch, hidden}), Array::zeros({batch, hidden}),
                     Array::uniform(gen, {hidden, hidden}, -bound, bound)},
                    device)};
}

inline DeviceCall greedy_decode_call(std::int64_t batch, cgvm::Device device) {
  using namespace cgvm;
  const std::int64_t vocab = 10000, hidden = 256, steps = 50;
  Var e = matrix("e"), w = matrix("w"), p = matrix("p"), h0 = matrix("h0");
  Var token0 = vector("token0", int64);
  std::vector<Var> decoded = scan(
      [&](const StepArgs& v) {
        Var h = tanh(take(e, v[1], 0) + dot(v[0], w));
        return StepResult(std::vector<Var>{h, argmax(dot(h, p), {1})});
      },
      {.outputs_info = {h0, token0}, .n_steps = steps});
  Generator gen(5);
  const double bound = std::sqrt(3.0 / static_cast<double>(hidden));
  return {"greedy decode", function({e, w, p, h0, token0}, {decoded[1]}, {.device = device}),
          on_device({Array::normal(gen, {vocab, hidden}, 0, 0.1),
                     Array::uniform(gen, {hidden, hidden}, -bound, bound),
                     Array::normal(gen, {hidden, vocab}, 0, 1 / std::sqrt(double(hidden))),
                     Array::zeros({batch, hidden}), Array::zeros({batch}, DType::Int64)},
                    device)};
}

}  // namespace bench
