// An embedding looked up inside a scan's step, against the same model with the lookup
// written before the loop and against libtorch. What scan_loops does with the first form
// (optimizer/scan_loops.hpp: the lookup leaves the loop, and BPTT's gradient of the table
// becomes one inc_take after it) is what this measures: the two cgvm forms should cost the
// same. The recurrent part alone is rnn_bench's tanh RNN, timed there against libtorch's
// module and a hand-written loop; no hand-written loop here.
//
//   model     ids [50, 32] int64 in a vocabulary of 10,000; x_t = E[ids_t] (E: 10,000 x 128);
//             h_t = tanh(x_t @ W + h_{t-1} @ U), hidden 128, h_0 = 0; loss = sum of every h_t
//   training  the loss and its gradients w.r.t. E, W, U (one call)
//   libtorch  torch::embedding over the sequence, one matmul for every step's projection,
//             a C++ loop of addmm and tanh, autograd's grad (bench/peers.hpp)
// Medians of --reps repetitions (default 11), each looping calls for at least 20 ms; the
// threads given by --threads (default 1,2), OpenBLAS, cgvm's pool and libtorch alike.
//
//   embedding_scan_bench [--threads 1,2] [--reps 11]
#include <cgvm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"
#include "results.hpp"

using namespace cgvm;

namespace {

Function training(bool lookup_inside) {
  Var ids = matrix("ids", int64), e = matrix("e"), w = matrix("w"), u = matrix("u");
  Var h0 = matrix("h0");
  Var hs;
  if (lookup_inside) {
    hs = scan([&](const StepArgs& v) { return tanh(dot(take(e, v[0], 0), w) + dot(v[1], u)); },
              {.sequences = {ids}, .outputs_info = {h0}})[0];
  } else {
    hs = scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + dot(v[1], u)); },
              {.sequences = {take(e, ids, 0)}, .outputs_info = {h0}})[0];
  }
  Var loss = hs.sum();
  std::vector<Var> outputs{loss};
  for (const Var& g : grad(loss, std::vector<Var>{e, w, u})) outputs.push_back(g);
  return function({ids, e, w, u, h0}, outputs);
}

// The largest difference from `want`, relative to its largest magnitude.
double relative_difference(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double scale = 0;
  for (float v : want) scale = std::max(scale, std::abs(static_cast<double>(v)));
  return bench::max_abs_diff(got.data(), want.data(), static_cast<std::int64_t>(want.size())) /
         std::max(scale, 1e-30);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Config config = bench::parse_args(argc, argv);
  bench::print_environment("embedding_scan", config);
  std::printf("peer:               %s\n", bench::torch_peer::description().c_str());
  bench::torch_peer::EmbeddingRnnSetup setup{.steps = 50, .batch = 32, .vocabulary = 10000,
                                 .embedding = 128, .hidden = 128};
  Generator gen(11);
  setup.ids.resize(static_cast<std::size_t>(setup.steps * setup.batch));
  for (std::int64_t& id : setup.ids) id = gen.next_integer(0, setup.vocabulary);
  const Array e = Array::uniform(gen, {setup.vocabulary, setup.embedding}, -0.1, 0.1);
  const Array w = Array::uniform(gen, {setup.embedding, setup.hidden}, -0.1, 0.1);
  const Array u = Array::uniform(gen, {setup.hidden, setup.hidden}, -0.1, 0.1);
  setup.e = e.to_vector<float>();
  setup.w = w.to_vector<float>();
  setup.u = u.to_vector<float>();
  const std::vector<Value> args{Array::from_vector(setup.ids, {setup.steps, setup.batch}), e, w,
                                u, Array::zeros({setup.batch, setup.hidden})};
  Function inside = training(true), before = training(false);

  // Every form computes the same loss and gradients.
  const std::vector<float> want = bench::flatten(inside(args));
  std::printf("check:              lookup before the loop: max |diff| / max |value| %.2g\n",
              relative_difference(bench::flatten(before(args)), want));
  const bool torch = bench::torch_peer::available();
  bench::torch_peer::Runner peer;
  if (torch) {
    peer = bench::torch_peer::embedding_rnn(setup);
    peer.run();
    std::printf("check:              libtorch: max |diff| / max |value| %.2g\n",
                relative_difference(peer.result(), want));
  }

  std::printf("%-26s %3s %10s %10s %10s %14s\n", "form", "thr", "median ms", "min ms",
              "max ms", "rel. time");
  for (int threads : config.threads) {
    bench::set_blas_threads(threads);
    bench::set_cgvm_threads(threads);
    if (torch) bench::torch_peer::set_threads(threads);
    double inside_median = 0;
    auto row = [&](const char* name, const std::function<void()>& call) {
      const bench::Stats s = bench::measure(call, config);
      if (inside_median == 0) inside_median = s.median;
      std::printf("%-26s %3d %10.3f %10.3f %10.3f %13.2fx\n", name, threads, s.median * 1e3,
                  s.min * 1e3, s.max * 1e3, s.median / inside_median);
    };
    row("cgvm, lookup in the step", [&] { inside(args); });
    row("cgvm, lookup before loop", [&] { before(args); });
    if (torch) row("libtorch", peer.run);
  }
  return 0;
}
