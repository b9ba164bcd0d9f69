// Fused elementwise expression: tanh(a*x + b) * sigmoid(y) + x*x over float32 vectors, with
// a and b scalar inputs. cgvm function() (default mode) vs the hand-written loop
// (loops.cpp, -O3 -march=native) vs libtorch eager.
//
//   elementwise_bench [--quick] [--threads 1,2] [--reps 11]
//
// N = 2^16 (fits in cache) and 2^24 (64 MiB per array; --quick: 2^20). Targets (issue):
// cgvm >= 0.8x the loop's speed, >= 3x libtorch's.
#include <cgvm.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

using namespace cgvm;

int main(int argc, char** argv) {
  bench::Config config = bench::parse_args(argc, argv);
  bench::print_environment("elementwise: tanh(a*x+b) * sigmoid(y) + x*x, float32", config);
  std::printf("peer:               %s\n", bench::torch_peer::description().c_str());
  bench::torch_peer::set_threads(config.threads.front());  // also fixes interop threads at 1
  if (!bench::loop::honours_threads())
    std::printf("note:               loops built without OpenMP: the loop runs on 1 thread\n");

  const float a = 0.75f, b = 0.25f;
  Var va = scalar("a"), vb = scalar("b"), vx = vector("x"), vy = vector("y");
  Var expr = tanh(va * vx + vb) * sigmoid(vy) + vx * vx;
  Function f = function({va, vb, vx, vy}, {expr}, {.name = "elementwise"});

  std::vector<std::int64_t> sizes{std::int64_t(1) << 16,
                                  std::int64_t(1) << (config.quick ? 20 : 24)};
  for (std::int64_t n : sizes) {
    const std::string problem = "N=" + bench::pow2_label(n);
    Array x = Array::uniform(1, {n}, -2, 2), y = Array::normal(2, {n});
    std::vector<float> out(static_cast<std::size_t>(n));
    const float* px = x.data<float>();
    const float* py = y.data<float>();

    // Same answers first: cgvm and libtorch against the loop.
    bench::loop::elementwise(px, py, a, b, out.data(), n, 1);
    Array got = f(a, b, x, y);
    bench::torch_peer::Runner torch_run;
    std::vector<float> torch_got = bench::torch_peer::first_result(
        torch_run, [&] { return bench::torch_peer::elementwise(px, py, a, b, n); });
    bench::print_agreement(problem, got.data<float>(), out.data(), n,
                           torch_got.empty() ? nullptr : torch_got.data());

    bench::print_header();
    const double elems = static_cast<double>(n);
    for (int threads : config.threads) {
      bench::set_cgvm_threads(threads);
      bench::Stats cg = bench::measure([&] { (void)f(a, b, x, y); }, config);
      bench::print_row({"cgvm", problem, threads, cg, elems / cg.median, "elem/s"});

      bench::time_peer("loop -O3", "loop",
                       [&] { bench::loop::elementwise(px, py, a, b, out.data(), n, threads); },
                       problem, threads, cg, elems, "elem/s", 0.8, config);
      if (bench::torch_peer::available()) {
        bench::torch_peer::set_threads(threads);
        bench::time_peer("libtorch", "libtorch", torch_run.run, problem, threads, cg, elems,
                         "elem/s", 3.0, config);
      }
    }
  }
  return 0;
}
