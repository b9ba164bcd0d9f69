// The libtorch peer (C++ eager API), built only when CMake finds libtorch. Kept out of the
// benchmark sources so that libtorch's headers (C++17, slow to parse) are read once.
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <memory>

#include "harness.hpp"
#include "peers.hpp"

namespace bench::torch_peer {
namespace {

torch::Tensor copy_in(const float* data, std::vector<std::int64_t> shape) {
  return torch::from_blob(const_cast<float*>(data), shape, torch::kFloat32).clone();
}

std::vector<float> copy_out(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const std::vector<std::int64_t>& sizes) {
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
      layers.push_back(register_module("fc" + std::to_string(i),
                                       torch::nn::Linear(sizes[i], sizes[i + 1])));
  }
  torch::Tensor forward(torch::Tensor h) {
    for (std::size_t i = 0; i < layers.size(); ++i) {
      h = layers[i]->forward(h);
      if (i + 1 < layers.size()) h = torch::relu(h);
    }
    return h;
  }
  std::vector<torch::nn::Linear> layers;
};

}  // namespace

bool available() { return true; }

std::string description() { return std::string("libtorch ") + TORCH_VERSION; }

void set_threads(int n) {
  static bool interop_set = [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {  // already started: nothing to do about it
    }
    return true;
  }();
  (void)interop_set;
  set_blas_threads(n);
  torch::set_num_threads(n);
}

Runner elementwise(const float* x, const float* y, float a, float b, std::int64_t n) {
  auto tx = copy_in(x, {n}), ty = copy_in(y, {n});
  auto out = std::make_shared<torch::Tensor>();
  return {[=] { *out = torch::tanh(a * tx + b) * torch::sigmoid(ty) + tx * tx; },
          [=] { return copy_out(*out); }};
}

Runner softmax(const float* x, std::int64_t rows, std::int64_t cols) {
  auto tx = copy_in(x, {rows, cols});
  auto out = std::make_shared<torch::Tensor>();
  return {[=] { *out = torch::softmax(tx, 1); }, [=] { return copy_out(*out); }};
}

Runner mlp_step(const MlpSetup& setup) {
  struct State {
    std::shared_ptr<MlpImpl> model;
    std::unique_ptr<torch::optim::SGD> optimizer;
    torch::Tensor x, labels, loss;
  };
  auto s = std::make_shared<State>();
  s->model = std::make_shared<MlpImpl>(setup.sizes);
  {
    torch::NoGradGuard no_grad;  // identical initial weights: cgvm's [in, out] transposed
    for (std::size_t i = 0; i < s->model->layers.size(); ++i) {
      auto& layer = s->model->layers[i];
      layer->weight.copy_(copy_in(setup.weights[i].data(), {setup.sizes[i], setup.sizes[i + 1]}).t());
      layer->bias.copy_(copy_in(setup.biases[i].data(), {setup.sizes[i + 1]}));
    }
  }
  s->optimizer = std::make_unique<torch::optim::SGD>(
      s->model->parameters(), torch::optim::SGDOptions(setup.learning_rate));
  s->x = copy_in(setup.x.data(), {setup.batch, setup.sizes.front()});
  s->labels = torch::from_blob(const_cast<std::int64_t*>(setup.labels.data()), {setup.batch},
                               torch::kInt64).clone();
  return {[s] {
            s->optimizer->zero_grad();
            s->loss = torch::nn::functional::cross_entropy(s->model->forward(s->x), s->labels);
            s->loss.backward();
            s->optimizer->step();
          },
          [s] { return std::vector<float>{s->loss.item<float>()}; }};
}

}  // namespace bench::torch_peer
