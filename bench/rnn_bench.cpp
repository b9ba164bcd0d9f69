// Recurrent layers over a whole sequence, float32: an LSTM (gates i, f, g, o, as torch) and a
// vanilla tanh RNN, input 128, hidden 256, batch 32, 50 steps (--quick: 10), zero initial
// states. Two tasks each:
//   forward   the stacked hidden states of all steps, hs [steps, batch, hidden];
//   training  forward, loss = sum(hs), and the gradients of the loss w.r.t. all weights:
//             Wx [128, G*256], Wh [256, G*256], b [G*256] (G = 4 gates for the LSTM, 1 else).
// Contestants, all in this process, from the same weights and inputs (peers.hpp):
//   cgvm           scan() over the cell written as a step function (x_t Wx inside the step:
//                  hoisting it out of the loop is the compiler's job, DESIGN.md §4), grad()
//                  for the gradients, function(..., {.mode = Mode::Compiled}); weights are
//                  inputs of the function;
//   libtorch nn    torch::nn::LSTM / torch::nn::RNN (tanh), the library's fused layer;
//                  training with torch::autograd::grad;
//   libtorch loop  the cell written out: one addmm for all steps' input projection, then a
//                  C++ loop of addmm + elementwise ops, torch::stack; autograd for training;
//   loop -O3       hand-written C++ (loops.cpp, -O3 -march=native): cblas_sgemm for the
//                  products, the input projection and the weight gradients as one product
//                  each, scalar libm for sigmoid/tanh, BPTT written by hand.
// Before timing, every result is checked against the hand-written loop (max abs difference
// of hs; of the loss and of each gradient). Then, per thread count, the median time per call
// of each contestant and cgvm's speed ratio against each peer (> 1: cgvm faster).
//
// Compile latency of the LSTM training function (graph + grad, function(), first call):
// in this process, the first function() of the process; cold (a new empty cache dir and
// jit_clear_memory_cache(), so neither the disk nor the memory caches can hit); warm (the
// same populated dir after jit_clear_memory_cache(): disk hits); in memory (same again,
// nothing cleared). Then new processes (this program re-executed with --compile-child DIR),
// cold (new dir) and warm (populated dir), as compile_bench does for the MLP.
//
//   rnn_bench [--quick] [--threads 1,2] [--reps 11] [--compile-reps 5] [--no-compile]
//   rnn_bench --compile-child CACHE_DIR STEPS   (internal: one compile in a fresh process)
#include <cgvm.hpp>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "compile_latency.hpp"
#include "results.hpp"
#include "rnn_model.hpp"
#include "harness.hpp"
#include "peers.hpp"
#include "runtime/options.hpp"

using namespace cgvm;
namespace fs = std::filesystem;

namespace {

bench::RnnProblem make_problem(bool lstm, std::int64_t steps, std::uint64_t seed = 7) {
  bench::RnnProblem p;
  p.lstm = lstm;
  p.steps = steps;
  Generator gen(seed);
  const double k = 1.0 / std::sqrt(static_cast<double>(p.hidden));  // torch's initialisation
  const std::int64_t g = p.gates() * p.hidden;
  p.x = Array::normal(gen, {p.steps, p.batch, p.input}).to_vector<float>();
  p.wx = Array::uniform(gen, {p.input, g}, -k, k).to_vector<float>();
  p.wh = Array::uniform(gen, {p.hidden, g}, -k, k).to_vector<float>();
  p.b = Array::uniform(gen, {g}, -k, k).to_vector<float>();
  return p;
}

// The arguments of a call, in build_rnn's input order.
std::vector<Value> call_args(const bench::RnnProblem& p) {
  const std::int64_t g = p.gates() * p.hidden;
  auto array = [](const std::vector<float>& v, Shape shape) { return Array::from_vector(v, shape); };
  std::vector<Value> args{array(p.x, {p.steps, p.batch, p.input})};
  args.emplace_back(Array::zeros({p.batch, p.hidden}));
  if (p.lstm) args.emplace_back(Array::zeros({p.batch, p.hidden}));
  args.emplace_back(array(p.wx, {p.input, g}));
  args.emplace_back(array(p.wh, {p.hidden, g}));
  args.emplace_back(array(p.b, {g}));
  return args;
}

// One named part of a flattened result ("dWh": where it starts, how long it is).
struct Part {
  const char* name;
  std::int64_t offset, size;
};

// Prints, per part, the largest |contestant - reference| and the reference's largest |value|
// (the scale), and whether they agree to 1e-3 of the scale (float32, different orders of
// summation over up to 1,600 products per element).
bool print_check(const std::string& what, const std::vector<Part>& parts,
                 const std::vector<float>& reference,
                 const std::vector<std::pair<std::string, std::vector<float>>>& contestants) {
  bool all_agree = true;
  for (const Part& part : parts) {
    const float* ref = reference.data() + part.offset;
    double scale = 0;
    for (std::int64_t i = 0; i < part.size; ++i) scale = std::max(scale, std::abs(double(ref[i])));
    std::printf("check %-16s %-5s max|ref| %9.3g; max |x - loop -O3|:", what.c_str(), part.name,
                scale);
    for (const auto& [name, values] : contestants) {
      if (values.size() != reference.size()) {
        std::printf("  %s: %zu values, expected %zu", name.c_str(), values.size(), reference.size());
        all_agree = false;
        continue;
      }
      double diff = bench::max_abs_diff(values.data() + part.offset, ref, part.size);
      all_agree &= diff <= 1e-3 * std::max(scale, 1.0);
      std::printf("  %s %.3g", name.c_str(), diff);
    }
    std::printf("\n");
  }
  std::printf("check %-16s %s\n", what.c_str(), all_agree ? "agree" : "DISAGREE");
  return all_agree;
}

// --- compile latency ------------------------------------------------------------------
using bench::latency::Sample;


// Builds the LSTM training graph, compiles it and calls it once, in this process.
Sample compile_once(const bench::RnnProblem& p, const std::vector<Value>& args,
                    std::string* report = nullptr) {
  Sample s;
  double t0 = bench::now_seconds();
  bench::CgvmRnn r = bench::build_rnn(true, p.hidden);
  double t1 = bench::now_seconds();
  std::vector<Var> outs{r.loss};
  outs.insert(outs.end(), r.grads.begin(), r.grads.end());
  Function train = function(r.inputs, outs, {.mode = Mode::Compiled, .name = "lstm_train"});
  double t2 = bench::now_seconds();
  (void)train(args);
  double t3 = bench::now_seconds();
  if (report) *report = train.compile_report().to_string();
  return {t1 - t0, t2 - t1, t3 - t2};
}

void compile_latency(const bench::RnnProblem& p, int reps) {
  std::printf("\n-- compile latency: LSTM training function (loss + 3 gradients), %d repetitions "
              "per scenario, median [min, max] --\n", reps);
  bench::print_header();
  const std::vector<Value> args = call_args(p);
  const std::string saved_dir = options().cache_dir;
  std::vector<std::string> dirs{bench::latency::new_cache_dir()};
  options().cache_dir = dirs.back();
  std::string report;
  bench::latency::print_scenario("first in process", {compile_once(p, args, &report)}, false);
  std::printf("  its report: %s\n", report.c_str());

  std::vector<Sample> cold, warm, memory;
  for (int r = 0; r < reps; ++r) {
    dirs.push_back(bench::latency::new_cache_dir());
    options().cache_dir = dirs.back();
    jit_clear_memory_cache();
    cold.push_back(compile_once(p, args, &report));
  }
  std::printf("  a cold report: %s\n", report.c_str());
  for (int r = 0; r < reps; ++r) {
    jit_clear_memory_cache();
    warm.push_back(compile_once(p, args, &report));
  }
  std::printf("  a warm report: %s\n", report.c_str());
  for (int r = 0; r < reps; ++r) memory.push_back(compile_once(p, args));
  bench::latency::print_scenario("in proc, cold", cold, false);
  bench::latency::print_scenario("in proc, warm (disk)", warm, false);
  bench::latency::print_scenario("in proc, memory", memory, false);
  options().cache_dir = saved_dir;

  auto child = [&](const std::string& dir) {
    return bench::latency::run_child(dir, "--compile-child '" + dir + "' " + std::to_string(p.steps));
  };
  std::vector<Sample> child_cold, child_warm;
  for (int r = 0; r < reps; ++r) {
    dirs.push_back(bench::latency::new_cache_dir());
    child_cold.push_back(child(dirs.back()));
  }
  for (int r = 0; r < reps; ++r) child_warm.push_back(child(dirs.back()));
  bench::latency::print_scenario("new process, cold", child_cold, true);
  bench::latency::print_scenario("new process, warm", child_warm, true);
  for (const std::string& d : dirs) fs::remove_all(d);
}

// --- speed ----------------------------------------------------------------------------
// Floating-point operations of the products (the rate column): forward x Wx and h Wh per
// step; training adds dWx, dWh and the recurrent dh = dpre Wh^T.
double product_flops(const bench::RnnProblem& p, bool training) {
  const double tb = double(p.steps * p.batch), g = double(p.gates() * p.hidden);
  const double in = double(p.input), h = double(p.hidden);
  const double forward = 2 * tb * (in + h) * g;
  return training ? forward + 2 * tb * (in + 2 * h) * g : forward;
}

// One line of the closing summary: median seconds per call (0: not measured).
struct SummaryRow {
  std::string problem;
  int threads = 1;
  double cgvm = 0, torch_nn = 0, torch_loop = 0, loop = 0;
};

void run_layer(bool lstm, const bench::Config& config, std::int64_t steps,
               std::vector<SummaryRow>& summary) {
  const char* layer = lstm ? "LSTM" : "tanh RNN";
  const bench::RnnProblem p = make_problem(lstm, steps);
  const std::vector<Value> args = call_args(p);
  const bench::CgvmRnn graph = bench::build_rnn(lstm, p.hidden);
  std::vector<Var> train_outs{graph.loss};
  train_outs.insert(train_outs.end(), graph.grads.begin(), graph.grads.end());
  const std::string tag = lstm ? "lstm" : "rnn";
  Function forward = function(graph.inputs, {graph.hs},
                              {.mode = Mode::Compiled, .name = tag + "_forward"});
  Function train = function(graph.inputs, train_outs,
                            {.mode = Mode::Compiled, .name = tag + "_train"});

  const std::int64_t g = p.gates() * p.hidden;
  const std::vector<Part> forward_parts{{"hs", 0, p.steps * p.batch * p.hidden}};
  const std::vector<Part> train_parts{{"loss", 0, 1},
                                      {"dWx", 1, p.input * g},
                                      {"dWh", 1 + p.input * g, p.hidden * g},
                                      {"db", 1 + (p.input + p.hidden) * g, g}};
  const std::string torch_nn = lstm ? "torch nn::LSTM" : "torch nn::RNN";
  for (bool training : {false, true}) {
    const std::string task = std::string(layer) + (training ? " train" : " fwd");
    const std::string problem = (lstm ? "lstm" : "rnn") + std::string(training ? " train" : " fwd") +
                                " T" + std::to_string(p.steps);
    const Function& f = training ? train : forward;
    bench::set_cgvm_threads(config.threads.front());
    bench::torch_peer::set_threads(config.threads.front());

    // Agreement, before timing.
    bench::loop::RnnRunner loop = bench::loop::rnn(p, training);
    loop.run(config.threads.front());
    std::vector<std::pair<std::string, std::vector<float>>> results{{"cgvm", bench::flatten(f(args))}};
    bench::torch_peer::Runner nn, written;
    if (bench::torch_peer::available()) {
      nn = bench::torch_peer::rnn(p, bench::torch_peer::RnnForm::Module, training);
      written = bench::torch_peer::rnn(p, bench::torch_peer::RnnForm::WrittenOut, training);
      nn.run();
      written.run();
      results.emplace_back("torch nn", nn.result());
      results.emplace_back("torch loop", written.result());
    }
    std::printf("\n-- %s: %s --\n", task.c_str(),
                training ? "loss = sum(hs), gradients w.r.t. Wx, Wh, b" : "hs of all steps");
    print_check(task, training ? train_parts : forward_parts, loop.result(), results);

    const double flops = product_flops(p, training);
    bench::print_header();
    for (int threads : config.threads) {
      SummaryRow row{problem, threads};
      bench::set_cgvm_threads(threads);
      bench::Stats cg = bench::measure([&] { (void)f(args); }, config);
      bench::print_row({"cgvm", problem, threads, cg, flops / cg.median, "FLOP/s"});
      row.cgvm = cg.median;
      auto time_peer = [&](const std::string& name, const std::string& label, auto&& run) {
        bench::Stats s = bench::measure(run, config);
        bench::print_row({name, problem, threads, s, flops / s.median, "FLOP/s"});
        bench::print_ratio(problem, threads, label, row.cgvm, s.median, 0);
        return s.median;
      };
      if (bench::torch_peer::available()) {
        bench::torch_peer::set_threads(threads);
        row.torch_nn = time_peer(torch_nn, "torch nn", nn.run);
        row.torch_loop = time_peer("torch written out", "torch loop", written.run);
      }
      bench::set_blas_threads(threads);
      row.loop = time_peer("loop -O3 + sgemm", "loop -O3", [&] { loop.run(threads); });
      summary.push_back(row);
    }
  }
}

void print_summary(const std::vector<SummaryRow>& rows) {
  std::printf("\n-- summary: medians in ms; ratios = peer time / cgvm time (> 1: cgvm faster) --\n");
  std::printf("%-16s %3s %9s %9s %10s %9s %9s %10s %9s\n", "problem", "thr", "cgvm", "torch nn",
              "torch loop", "loop -O3", "vs nn", "vs t.loop", "vs loop");
  // "-" where a peer was not measured (no libtorch in this build).
  auto text = [](const char* format, double value, bool measured) {
    char buf[32] = "-";
    if (measured) std::snprintf(buf, sizeof buf, format, value);
    return std::string(buf);
  };
  auto ms = [&](double s) { return text("%.2f", s * 1e3, s > 0); };
  auto ratio = [&](double peer, double cg) { return text("%.2fx", peer / cg, peer > 0); };
  for (const SummaryRow& r : rows)
    std::printf("%-16s %3d %9s %9s %10s %9s %9s %10s %9s\n", r.problem.c_str(), r.threads,
                ms(r.cgvm).c_str(), ms(r.torch_nn).c_str(), ms(r.torch_loop).c_str(),
                ms(r.loop).c_str(), ratio(r.torch_nn, r.cgvm).c_str(),
                ratio(r.torch_loop, r.cgvm).c_str(), ratio(r.loop, r.cgvm).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--compile-child") == 0) {
    options().cache_dir = argv[2];
    const bench::RnnProblem p = make_problem(true, std::atoi(argv[3]));
    bench::latency::print_child_result(compile_once(p, call_args(p)));
    return 0;
  }
  bench::Config config = bench::parse_args(argc, argv);
  int compile_reps = config.quick ? 3 : 5;
  bool compile = true;
  for (std::size_t i = 0; i < config.rest.size(); ++i) {
    if (config.rest[i] == "--compile-reps" && i + 1 < config.rest.size())
      compile_reps = std::max(1, std::atoi(config.rest[++i].c_str()));
    else if (config.rest[i] == "--no-compile")
      compile = false;
  }
  const std::int64_t steps = config.quick ? 10 : 50;
  bench::print_environment("rnn: LSTM and tanh RNN over a sequence, float32", config);
  std::printf("problem:            input 128, hidden 256, batch 32, %lld steps, zero initial "
              "states\n", static_cast<long long>(steps));
  std::printf("peer:               %s\n", bench::torch_peer::description().c_str());
  std::printf("rate:               FLOP/s of the matrix products only\n");
  bench::torch_peer::set_threads(config.threads.front());  // also fixes interop threads at 1
  if (!bench::loop::honours_threads())
    std::printf("note:               loops built without OpenMP: their elementwise part runs "
                "on 1 thread\n");

  // First, so that "first in process" is this process's first function().
  if (compile) compile_latency(make_problem(true, steps), compile_reps);
  std::vector<SummaryRow> summary;
  run_layer(true, config, steps, summary);
  run_layer(false, config, steps, summary);
  print_summary(summary);
  return 0;
}
