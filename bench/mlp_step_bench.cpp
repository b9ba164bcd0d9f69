// One MLP training step (mlp_model.hpp: 784-512-512-10, ReLU, softmax cross-entropy, batch
// 128, SGD lr 0.01, float32): cgvm function({x, labels}, {loss}, {.updates = SGD}) with
// shared weights (default mode) vs libtorch C++ (torch::nn::Linear, autograd,
// torch::nn::functional::cross_entropy, torch::optim::SGD), both from the same weights.
//
//   mlp_step_bench [--quick] [--threads 1,2] [--reps 11] [--check-steps 5]
//
// Before timing, both run --check-steps steps from identical weights on the same batch and
// print their losses side by side. --quick changes nothing here (a step is short already).
// Target (issue): cgvm at least as fast as libtorch.
#include <cgvm.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"
#include "mlp_model.hpp"
#include "peers.hpp"

using namespace cgvm;

namespace {

bench::torch_peer::MlpSetup torch_setup(const bench::MlpData& d) {
  bench::torch_peer::MlpSetup s;
  s.sizes = d.sizes;
  for (const Array& w : d.weights) s.weights.push_back(w.to_vector<float>());
  for (const Array& b : d.biases) s.biases.push_back(b.to_vector<float>());
  s.x = d.x.to_vector<float>();
  s.labels = d.labels.to_vector<std::int64_t>();
  s.batch = d.batch;
  s.learning_rate = d.learning_rate;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  int check_steps = 5;
  for (std::size_t i = 0; i + 1 < config.rest.size(); ++i)
    if (config.rest[i] == "--check-steps") check_steps = std::atoi(config.rest[i + 1].c_str());
  bench::print_environment("mlp_step: 784-512-512-10 ReLU MLP, softmax CE, SGD, batch 128",
                           config);
  std::printf("peer:               %s\n", bench::torch_peer::description().c_str());

  bench::MlpData data = bench::make_mlp_data();
  bench::MlpStep step = bench::build_mlp_step(data);
  Function train = function({step.x, step.labels}, {step.loss},
                            {.updates = step.updates, .name = "mlp_step"});
  bench::torch_peer::Runner torch_step;
  if (bench::torch_peer::available()) torch_step = bench::torch_peer::mlp_step(torch_setup(data));

  // Agreement: the same steps from the same weights should give nearly the same losses
  // (float32, different summation orders: expect ~1e-5 relative, growing slowly).
  bench::set_cgvm_threads(config.threads.front());
  bench::torch_peer::set_threads(config.threads.front());
  double worst = 0;
  for (int i = 1; i <= check_steps; ++i) {
    double cg = train(data.x, data.labels)[0].item<double>();
    std::printf("check step %d: loss cgvm %.7f", i, cg);
    if (bench::torch_peer::available()) {
      torch_step.run();
      double tl = torch_step.result()[0];
      worst = std::max(worst, std::abs(cg - tl) / std::abs(tl));
      std::printf("  libtorch %.7f  rel diff %.2g", tl, std::abs(cg - tl) / std::abs(tl));
    }
    std::printf("\n");
  }
  if (bench::torch_peer::available())
    std::printf("check: largest relative loss difference over %d steps: %.2g (%s)\n",
                check_steps, worst, worst < 1e-3 ? "agree" : "DISAGREE");

  const std::string problem = "batch 128";
  const double flops = bench::mlp_step_flops(data);
  std::printf("work: %.3g FLOP per step (products only); rate column is FLOP/s\n", flops);
  bench::print_header();
  for (int threads : config.threads) {
    bench::set_cgvm_threads(threads);
    bench::Stats cg = bench::measure([&] { (void)train(data.x, data.labels); }, config);
    bench::print_row({"cgvm", problem, threads, cg, flops / cg.median, "FLOP/s"});
    if (bench::torch_peer::available()) {
      bench::torch_peer::set_threads(threads);
      bench::time_peer("libtorch", "libtorch", torch_step.run, problem, threads, cg, flops,
                       "FLOP/s", 1.0, config);
    }
  }
  return 0;
}
