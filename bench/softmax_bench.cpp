// Row softmax of a 4096 x 1024 float32 matrix: cgvm softmax(x) (last axis) in a function()
// (default mode) vs torch::softmax(x, 1) vs the hand-written three-pass loop (loops.cpp).
//
//   softmax_bench [--quick] [--threads 1,2] [--reps 11]
//
// --quick uses 1024 x 1024. Target (issue): cgvm at least as fast as libtorch.
#include <cgvm.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

using namespace cgvm;

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  bench::print_environment("softmax: row softmax, float32", config);
  std::printf("peer:               %s\n", bench::torch_peer::description().c_str());
  bench::torch_peer::set_threads(config.threads.front());  // also fixes interop threads at 1
  if (!bench::loop::honours_threads())
    std::printf("note:               loops built without OpenMP: the loop runs on 1 thread\n");

  const std::int64_t rows = config.quick ? 1024 : 4096, cols = 1024, n = rows * cols;
  const std::string problem = std::to_string(rows) + "x" + std::to_string(cols);
  Var vx = matrix("x");
  Function f = function({vx}, {softmax(vx)}, {.name = "softmax"});

  Array x = Array::normal(3, {rows, cols}, 0, 3);
  const float* px = x.data<float>();
  std::vector<float> out(static_cast<std::size_t>(n));

  bench::loop::softmax_rows(px, out.data(), rows, cols, 1);
  Array got = f(x);
  bench::torch_peer::Runner torch_run;
  std::vector<float> torch_got = bench::torch_peer::first_result(
      torch_run, [&] { return bench::torch_peer::softmax(px, rows, cols); });
  bench::print_agreement(problem, got.data<float>(), out.data(), n,
                         torch_got.empty() ? nullptr : torch_got.data());

  bench::print_header();
  const double elems = static_cast<double>(n);
  for (int threads : config.threads) {
    bench::set_cgvm_threads(threads);
    bench::Stats cg = bench::measure([&] { (void)f(x); }, config);
    bench::print_row({"cgvm", problem, threads, cg, elems / cg.median, "elem/s"});

    bench::time_peer("loop -O3", "loop",
                     [&] { bench::loop::softmax_rows(px, out.data(), rows, cols, threads); },
                     problem, threads, cg, elems, "elem/s", 0, config);
    if (bench::torch_peer::available()) {
      bench::torch_peer::set_threads(threads);
      bench::time_peer("libtorch", "libtorch", torch_run.run, problem, threads, cg, elems,
                       "elem/s", 1.0, config);
    }
  }
  return 0;
}
