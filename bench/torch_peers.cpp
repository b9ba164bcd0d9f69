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

namespace {

// The tensors of one recurrent problem, in cgvm's layout, and the sizes.
struct RnnTensors {
  torch::Tensor x, wx, wh, b;  // [T, B, I], [I, G*H], [H, G*H], [G*H]
  std::int64_t steps, batch, hidden;
  bool lstm;
};

RnnTensors rnn_tensors(const RnnProblem& p) {
  const std::int64_t gh = p.gates() * p.hidden;
  return {copy_in(p.x.data(), {p.steps, p.batch, p.input}), copy_in(p.wx.data(), {p.input, gh}),
          copy_in(p.wh.data(), {p.hidden, gh}), copy_in(p.b.data(), {gh}), p.steps, p.batch,
          p.hidden, p.lstm};
}

// The cell written out, over all steps: one addmm for every step's input projection, then
// per step one addmm for the recurrent product and the gates' elementwise ops.
torch::Tensor written_out_forward(const RnnTensors& t, const torch::Tensor& wx,
                                  const torch::Tensor& wh, const torch::Tensor& b) {
  const std::int64_t rows = t.steps * t.batch;
  torch::Tensor xw = torch::addmm(b, t.x.reshape({rows, -1}), wx).view({t.steps, t.batch, -1});
  torch::Tensor h = torch::zeros({t.batch, t.hidden});
  torch::Tensor c = torch::zeros({t.batch, t.hidden});
  std::vector<torch::Tensor> hs;
  hs.reserve(static_cast<std::size_t>(t.steps));
  for (std::int64_t s = 0; s < t.steps; ++s) {
    torch::Tensor pre = torch::addmm(xw[s], h, wh);
    if (t.lstm) {
      std::vector<torch::Tensor> g = pre.chunk(4, 1);  // i, f, g, o
      c = torch::sigmoid(g[1]) * c + torch::sigmoid(g[0]) * torch::tanh(g[2]);
      h = torch::sigmoid(g[3]) * torch::tanh(c);
    } else {
      h = torch::tanh(pre);
    }
    hs.push_back(h);
  }
  return torch::stack(hs);
}

// The same layer as torch's module, holding copies of the weights (torch's layout is
// [G*H, in]: the transpose of ours; its second bias stays zero).
struct RnnModule {
  torch::nn::LSTM lstm{nullptr};  // one of the two
  torch::nn::RNN rnn{nullptr};
  torch::Tensor w_ih, w_hh, b_ih;

  explicit RnnModule(const RnnTensors& t) {
    const std::int64_t in = t.wx.size(0);
    if (t.lstm)
      lstm = torch::nn::LSTM(torch::nn::LSTMOptions(in, t.hidden));
    else
      rnn = torch::nn::RNN(torch::nn::RNNOptions(in, t.hidden).nonlinearity(torch::kTanh));
    auto params = t.lstm ? lstm->named_parameters() : rnn->named_parameters();
    w_ih = params["weight_ih_l0"];
    w_hh = params["weight_hh_l0"];
    b_ih = params["bias_ih_l0"];
    torch::NoGradGuard no_grad;
    w_ih.copy_(t.wx.t());
    w_hh.copy_(t.wh.t());
    b_ih.copy_(t.b);
    params["bias_hh_l0"].zero_();
  }
  // The output of all steps, [T, B, H] (the final states are dropped).
  torch::Tensor forward(const torch::Tensor& x) {
    return lstm ? std::get<0>(lstm->forward(x)) : std::get<0>(rnn->forward(x));
  }
};

}  // namespace

Runner rnn(const RnnProblem& p, RnnForm form, bool training) {
  struct State {
    RnnTensors t;
    std::shared_ptr<RnnModule> module;  // RnnForm::Module only
    torch::Tensor out;                  // hs, or the loss
    std::vector<torch::Tensor> grads;   // dWx, dWh, db in our layout, after training
  };
  auto s = std::make_shared<State>(State{rnn_tensors(p), nullptr, {}, {}});
  if (form == RnnForm::Module) s->module = std::make_shared<RnnModule>(s->t);

  std::function<void()> run;
  if (!training && form == RnnForm::Module) {
    run = [s] {
      torch::NoGradGuard no_grad;
      s->out = s->module->forward(s->t.x);
    };
  } else if (!training) {
    run = [s] {
      torch::NoGradGuard no_grad;
      s->out = written_out_forward(s->t, s->t.wx, s->t.wh, s->t.b);
    };
  } else if (form == RnnForm::Module) {
    run = [s] {
      RnnModule& m = *s->module;
      s->out = m.forward(s->t.x).sum();
      s->grads = torch::autograd::grad({s->out}, {m.w_ih, m.w_hh, m.b_ih});
    };
  } else {
    for (torch::Tensor* w : {&s->t.wx, &s->t.wh, &s->t.b}) w->requires_grad_(true);
    run = [s] {
      s->out = written_out_forward(s->t, s->t.wx, s->t.wh, s->t.b).sum();
      s->grads = torch::autograd::grad({s->out}, {s->t.wx, s->t.wh, s->t.b});
    };
  }
  const bool transposed = form == RnnForm::Module;
  auto result = [s, training, transposed] {
    if (!training) return copy_out(s->out);
    std::vector<float> all{s->out.item<float>()};
    for (std::size_t i = 0; i < s->grads.size(); ++i) {
      torch::Tensor g = transposed && i < 2 ? s->grads[i].t() : s->grads[i];
      std::vector<float> part = copy_out(g);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  };
  return {run, result};
}

Runner embedding_rnn(const EmbeddingRnnSetup& setup) {
  struct State {
    torch::Tensor ids, e, w, u, loss;
    std::vector<torch::Tensor> grads;
  };
  auto s = std::make_shared<State>();
  s->ids = torch::from_blob(const_cast<std::int64_t*>(setup.ids.data()),
                            {setup.steps, setup.batch}, torch::kInt64)
               .clone();
  s->e = copy_in(setup.e.data(), {setup.vocabulary, setup.embedding}).requires_grad_(true);
  s->w = copy_in(setup.w.data(), {setup.embedding, setup.hidden}).requires_grad_(true);
  s->u = copy_in(setup.u.data(), {setup.hidden, setup.hidden}).requires_grad_(true);
  const std::int64_t steps = setup.steps, batch = setup.batch, hidden = setup.hidden;
  auto run = [s, steps, batch, hidden] {
    torch::Tensor xw = torch::matmul(torch::embedding(s->e, s->ids), s->w);
    torch::Tensor h = torch::zeros({batch, hidden});
    std::vector<torch::Tensor> hs;
    hs.reserve(static_cast<std::size_t>(steps));
    for (std::int64_t t = 0; t < steps; ++t) {
      h = torch::tanh(torch::addmm(xw[t], h, s->u));
      hs.push_back(h);
    }
    s->loss = torch::stack(hs).sum();
    s->grads = torch::autograd::grad({s->loss}, {s->e, s->w, s->u});
  };
  auto result = [s] {
    std::vector<float> all{s->loss.item<float>()};
    for (const torch::Tensor& g : s->grads) {
      std::vector<float> part = copy_out(g);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  };
  return {run, result};
}

}  // namespace bench::torch_peer
