// Speed of the optimizer pipeline (rewrites and fusion) on big graphs: a generated graph of
// ~10,000 elementwise and reduction nodes with rewritable forms sprinkled in, and the
// gradient graph of a 20-layer MLP training step. Prints the median time of the whole
// pipeline and of each pass. Target (issue): well under a second for each.
//
//   optimizer_bench [--quick] [--reps N]
#include <cgvm.hpp>

#include <cstdio>
#include <map>
#include <random>

#include "harness.hpp"
#include "optimizer/pipeline.hpp"

using namespace cgvm;

namespace {

// About `n` nodes over four inputs, every one of them reachable from the output: random
// unary/binary ops, with x*1, x+0, exp(log x), constant arithmetic and log(1+x) mixed in so
// that every pass has work; occasional row sums. Values no op consumed are summed at the end.
std::vector<Var> generated_graph(int n) {
  std::mt19937 rng(42);
  std::vector<Var> pool;
  std::vector<bool> used;
  for (const char* name : {"a", "b", "c", "d"}) {
    pool.push_back(matrix(name));
    used.push_back(false);
  }
  auto pick = [&] {
    std::size_t i = std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng);
    used[i] = true;
    return pool[i];
  };
  const std::size_t start = live_node_count();
  while (static_cast<int>(live_node_count() - start) < n) {
    Var p = pick(), q = pick();
    Var v;
    switch (rng() % 10) {
      case 0: v = p * 1 + q; break;
      case 1: v = exp(log(p)) - q; break;
      case 2: v = tanh(p) * (constant(2.0, DType::Float32) * 3); break;
      case 3: v = log(1 + sqr(p)); break;
      case 4: v = p * q + 0; break;
      case 5: v = sigmoid(p) / (q * q + 1); break;
      case 6: v = p + sum(q, {1}, true); break;
      case 7: v = -(-p) * q; break;
      case 8: v = maximum(p, q) + p; break;
      default: v = p - q * 0.5; break;
    }
    pool.push_back(v);
    used.push_back(false);
  }
  Var total = pool.back();
  for (std::size_t i = 0; i + 1 < pool.size(); ++i)
    if (!used[i]) total = total + pool[i];
  return {total.sum()};
}

// loss and updates of a 20-layer MLP (width 64), as function() would see them.
std::vector<Var> mlp_gradient_graph(int layers) {
  Var x = matrix("x");
  Var labels = vector("labels", DType::Int64);
  Var h = x;
  std::vector<Var> params;
  for (int i = 0; i < layers; ++i) {
    SharedVar w = shared(Array::full({64, 64}, 0.01), "w" + std::to_string(i));
    SharedVar b = shared(Array::zeros({64}), "b" + std::to_string(i));
    params.push_back(w);
    params.push_back(b);
    h = dot(h, w) + b;
    if (i + 1 < layers) h = relu(h);
  }
  Var loss = categorical_crossentropy(softmax(h), labels).mean();
  std::vector<Var> outs{loss};
  std::vector<Var> grads = grad(loss, params);
  for (std::size_t i = 0; i < params.size(); ++i) outs.push_back(params[i] - 0.1 * grads[i]);
  return outs;
}

void run(const char* label, const std::vector<Var>& graph, const bench::Config& config) {
  const std::size_t nodes = topo_sort(graph).size();
  std::map<std::string, std::vector<double>> pass_ms;
  bench::Stats whole = bench::measure(
      [&] {
        OptimizedGraph g = optimize(graph);
        std::map<std::string, double> sums;
        for (const PassReport& p : g.passes) sums[p.name] += p.ms;
        for (auto& [name, ms] : sums) pass_ms[name].push_back(ms);
      },
      config);
  std::printf("%-28s %6zu nodes  pipeline %8.2f ms median [%.2f, %.2f]\n", label, nodes,
              whole.median * 1e3, whole.min * 1e3, whole.max * 1e3);
  for (auto& [name, samples] : pass_ms)
    std::printf("%-28s %-14s %8.2f ms median of %zu\n", "", name.c_str(),
                bench::summarize(samples).median, samples.size());
}

}  // namespace

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  config.min_rep_seconds = 0;  // each call is long enough to time alone
  bench::print_environment("optimizer_bench", config);
  run("generated elementwise graph", generated_graph(config.quick ? 2000 : 10000), config);
  run("20-layer MLP step + grads", mlp_gradient_graph(20), config);
  return 0;
}
