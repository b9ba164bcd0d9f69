// Does the prelude's float math vectorize? Times `y[i] = cgm::F(x[i])` over 2^16 floats,
// compiled through the JIT exactly as generated code is, against the scalar libm function in
// a plain loop, and against the JIT's own mapping of libm calls to glibc's libmvec.
//
//   vector_math_bench [path/to/codegen/prelude/math.hpp]
//
// The path defaults to CGVM_MATH_HPP (a compile definition) when given. Prints the median
// ns/element of >= 11 repetitions and the speedups. No assertions: it is a measurement.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "jit/jit.hpp"

namespace {

constexpr long kN = 1 << 16;
constexpr int kRepetitions = 15;

using Unary = void (*)(const float*, float*, long);
using Binary = void (*)(const float*, const float*, float*, long);

struct Case {
  const char* name;
  float lo, hi;          // input range of x
  const char* libm_expr; // the same function written with libm calls, for libmvec
  Binary scalar;          // the libm loop (second input used by pow only)
};

// Plain scalar loops: the compiler cannot vectorize these calls (no -ffast-math, so no
// glibc SIMD declarations), which is what "libm" means in the table.
float libm_exp(float x, float) { return std::exp(x); }
float libm_log(float x, float) { return std::log(x); }
float libm_tanh(float x, float) { return std::tanh(x); }
float libm_sigmoid(float x, float) { return 1.0f / (1.0f + std::exp(-x)); }
float libm_erf(float x, float) { return std::erf(x); }
float libm_pow(float x, float y) { return std::pow(x, y); }
template <float (*F)(float, float)>
void scalar_loop(const float* x, const float* y, float* z, long n) {
  for (long i = 0; i < n; ++i) z[i] = F(x[i], y[i]);  // F inlines: a direct libm call
}

const Case kCases[] = {
    {"exp", -10, 10, "expf(x[i])", scalar_loop<libm_exp>},
    {"log", 1e-3f, 100, "logf(x[i])", scalar_loop<libm_log>},
    {"tanh", -5, 5, "tanhf(x[i])", scalar_loop<libm_tanh>},
    {"sigmoid", -10, 10, "1.0f / (1.0f + expf(-x[i]))", scalar_loop<libm_sigmoid>},
    {"erf", -3, 3, "erff(x[i])", scalar_loop<libm_erf>},
    {"pow", 1e-3f, 10, "powf(x[i], y[i])", scalar_loop<libm_pow>},
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One translation unit with every loop, in both flavours.
std::string bench_source(const std::string& math_hpp) {
  std::ostringstream s;
  s << math_hpp << "\nextern \"C\" {\nfloat expf(float) noexcept;\nfloat logf(float) noexcept;\n"
    << "float tanhf(float) noexcept;\nfloat erff(float) noexcept;\n"
    << "float powf(float, float) noexcept;\n}\n";
  for (const Case& c : kCases) {
    const bool pow = std::string(c.name) == "pow";
    const char* args = pow ? "const float* x, const float* y, float* z, long n"
                           : "const float* x, float* z, long n";
    const char* loop = ") {\n  for (long i = 0; i < n; ++i) z[i] = ";
    s << "extern \"C\" void cgm_" << c.name << "(" << args << loop << "cgm::" << c.name
      << (pow ? "(x[i], y[i]);\n}\n" : "(x[i]);\n}\n");
    s << "extern \"C\" void libmvec_" << c.name << "(" << args << loop << c.libm_expr << ";\n}\n";
  }
  return s.str();
}

// Median over repetitions of the ns per element of `run` (which processes kN elements);
// each repetition repeats the call until it lasts >= 2 ms, to rise above timer noise.
template <class Run>
double median_ns_per_element(Run run) {
  using Clock = std::chrono::steady_clock;
  run();  // warm-up: page faults, code
  int inner = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) run();
    if (Clock::now() - t0 > std::chrono::milliseconds(2)) break;
    inner *= 2;
  }
  std::vector<double> ns;
  for (int r = 0; r < kRepetitions; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) run();
    const double total = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    ns.push_back(total / (double(inner) * kN));
  }
  std::sort(ns.begin(), ns.end());
  return ns[ns.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
#ifdef CGVM_MATH_HPP
  std::string path = CGVM_MATH_HPP;
#else
  std::string path;
#endif
  if (argc > 1) path = argv[1];
  if (path.empty()) {
    std::fprintf(stderr, "usage: %s path/to/codegen/prelude/math.hpp\n", argv[0]);
    return 2;
  }
  cgvm::JitOptions options;
  options.use_disk_cache = false;
  cgvm::CompileReport report;
  auto module = cgvm::compile_cpp(bench_source(read_file(path)), options, &report);
  std::printf("compiled %s in %.1f ms; N = %ld floats, median of %d repetitions\n", path.c_str(),
              report.total_ms, kN, kRepetitions);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("OPENBLAS_CORETYPE=%s (no BLAS here)\n\n", coretype ? coretype : "(unset)");
  std::printf("%-8s %12s %12s %14s %10s %12s\n", "function", "cgm ns/el", "libm ns/el",
              "libmvec ns/el", "cgm/libm", "cgm/libmvec");

  std::mt19937 rng(7);
  for (const Case& c : kCases) {
    std::uniform_real_distribution<float> dist(c.lo, c.hi), exponent(-4, 4);
    const bool pow = std::string(c.name) == "pow";
    std::vector<float> x(kN), y(kN), z(kN);
    for (long i = 0; i < kN; ++i) x[i] = dist(rng), y[i] = exponent(rng);

    double t_cgm, t_vec;
    if (pow) {
      auto f = module->function<void(const float*, const float*, float*, long)>("cgm_pow");
      auto g = module->function<void(const float*, const float*, float*, long)>("libmvec_pow");
      t_cgm = median_ns_per_element([&] { f(x.data(), y.data(), z.data(), kN); });
      t_vec = median_ns_per_element([&] { g(x.data(), y.data(), z.data(), kN); });
    } else {
      auto f = module->function<void(const float*, float*, long)>(std::string("cgm_") + c.name);
      auto g = module->function<void(const float*, float*, long)>(std::string("libmvec_") + c.name);
      t_cgm = median_ns_per_element([&] { f(x.data(), z.data(), kN); });
      t_vec = median_ns_per_element([&] { g(x.data(), z.data(), kN); });
    }
    const double t_libm =
        median_ns_per_element([&] { c.scalar(x.data(), y.data(), z.data(), kN); });
    std::printf("%-8s %12.3f %12.3f %14.3f %9.1fx %11.2fx\n", c.name, t_cgm, t_libm, t_vec,
                t_libm / t_cgm, t_vec / t_cgm);
  }
  return 0;
}
