// Accuracy of codegen/prelude/math.hpp: every float function against libm's float function
// and against the exactly rounded value (the double function), natively and compiled through
// the JIT the way generated code is (host CPU, FMA contraction, vectorized). The bounds are
// the ones math.hpp's table states; CGVM_VECTOR_MATH_REPORT=1 prints what was measured.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/prelude/math.hpp"
#include "jit/jit.hpp"

namespace {

using Loop = void (*)(const float* x, float* y, long n);
using Loop2 = void (*)(const float* x, const float* y, float* z, long n);

// The order of floats as integers, so a distance is a count of ulps (-0 and +0 coincide).
std::int64_t ordered(float f) {
  const std::int32_t i = std::bit_cast<std::int32_t>(f);
  return i < 0 ? std::int64_t(INT32_MIN) - i : i;
}
double ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : 1e30;
  return double(std::llabs(ordered(a) - ordered(b)));
}
// |ours - truth| in ulps of the float the truth rounds to; overflow compared as floats.
double ulp_error(float ours, double truth) {
  const float tf = float(truth);
  if (std::isnan(truth) || std::isinf(tf) || std::isinf(ours) || std::isnan(ours))
    return ulp_distance(ours, tf);
  int e = 0;
  std::frexp(std::fabs(truth), &e);
  const double ulp = std::ldexp(1.0, std::max(e - 1, -126) - 23);
  return std::fabs(double(ours) - truth) / ulp;
}

double sigmoid_d(double x) {
  const double e = std::exp(-std::fabs(x));
  return (x >= 0 ? 1.0 : e) / (1.0 + e);
}
double softplus_d(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

struct Unary {
  const char* name;
  Loop native;
  float (*libm)(float);  // nullptr: no libm counterpart
  double (*truth)(double);
  double bound_libm, bound_truth;  // max ulps allowed
  std::vector<std::pair<double, double>> ranges;  // dense sweeps
  std::vector<float> edges;                       // tested with their +-3 ulp neighbours
  double accurate_below = INFINITY;  // finite |x| beyond: only |y| <= 1 is required
};

template <float (*F)(float)>
void native_loop(const float* x, float* y, long n) {
  for (long i = 0; i < n; ++i) y[i] = F(x[i]);
}
void native_pow(const float* x, const float* y, float* z, long n) {
  for (long i = 0; i < n; ++i) z[i] = cgm::pow(x[i], y[i]);
}

#define CGVM_UNARY(name, libm, truth) #name, native_loop<cgm::name>, libm, truth
std::vector<Unary> unary_table() {
  const float ln_max = 88.7228394f, ln_min = -87.3365479f, ln_denorm = -103.972084f;
  // name, libm, truth | max ulps vs libm, vs truth | dense ranges | edges | accurate below
  return {
      {CGVM_UNARY(exp, ::expf, ::exp), 1, 1.1, {{-105, 90}, {-1, 1}},
       {ln_max, ln_min, ln_denorm, -103.278931f, 0.34657359f}},
      {CGVM_UNARY(exp2, ::exp2f, ::exp2), 1, 1.25, {{-152, 130}, {-1, 1}},
       {128, 127, -126, -149, -150, -151}},
      {CGVM_UNARY(expm1, ::expm1f, ::expm1), 2, 1.6, {{-20, 90}, {-1, 1}},
       {ln_max, -17.3286800f, 0.34657359f, 1e-7f}},
      {CGVM_UNARY(log, ::logf, ::log), 1, 1, {{0, 4}, {0.5, 2}},
       {1, 1.41421354f, 0.70710677f, FLT_MIN}},
      {CGVM_UNARY(log2, ::log2f, ::log2), 2, 1.5, {{0, 4}, {0.5, 2}},
       {1, 1.41421354f, 0.70710677f, FLT_MIN}},
      {CGVM_UNARY(log10, ::log10f, ::log10), 3, 2, {{0, 4}, {0.5, 2}, {1, 1e6}},
       {1, 10, 100, 1000, FLT_MIN}},
      {CGVM_UNARY(log1p, ::log1pf, ::log1p), 1, 1, {{-1, 4}, {-0.01, 0.01}},
       {-1, -0.29289323f, 0.41421354f, 1e-8f}},
      {CGVM_UNARY(tanh, ::tanhf, ::tanh), 2, 1.4, {{-10, 10}, {-1, 1}},
       {0.625f, -0.625f, 9.01f, 1e-5f}},
      {CGVM_UNARY(sigmoid, nullptr, sigmoid_d), 0, 2.5, {{-110, 30}, {-5, 5}},
       {-87.3f, -88.8f, -103.9f, -126, 16.6f}},
      {CGVM_UNARY(softplus, nullptr, softplus_d), 0, 1.7, {{-110, 30}, {-5, 5}},
       {-87.3f, -103.9f, 16.6f, 0}},
      {CGVM_UNARY(erf, ::erff, ::erf), 1, 1.35, {{-5, 5}, {-1, 1}}, {0.5f, -0.5f, 3.92f, 1e-20f}},
      {CGVM_UNARY(erfc, ::erfcf, ::erfc), 5, 4, {{-5, 11}, {-1, 1}, {8, 10.1}},
       {0.5f, -0.5f, 9.19f, 10.05f, 10.0601f}},
      {CGVM_UNARY(sin, ::sinf, ::sin), 1, 1.05, {{-1e4, 1e4}, {-4, 4}},
       {1.57079637f, 3.14159274f, 1e-20f}, 0x1p40},
      {CGVM_UNARY(cos, ::cosf, ::cos), 1, 1.05, {{-1e4, 1e4}, {-4, 4}},
       {1.57079637f, 3.14159274f, 1e-20f}, 0x1p40},
  };
}
#undef CGVM_UNARY

std::vector<float> unary_inputs(const Unary& u) {
  std::vector<float> x;
  const int dense = (1 << 20) / int(u.ranges.size());
  for (auto [lo, hi] : u.ranges)
    for (int i = 0; i < dense; ++i) x.push_back(float(lo + (hi - lo) * i / (dense - 1)));
  // Every binade from denormals to inf, both signs.
  const std::uint32_t steps = 1 << 18, stride = 0x7f800000u / steps;
  for (std::uint32_t i = 0; i <= steps; ++i)
    for (std::uint32_t sign : {0u, 0x80000000u})
      x.push_back(std::bit_cast<float>(i * stride | sign));
  std::vector<float> edges = u.edges;
  for (float s : {0.0f, FLT_TRUE_MIN, FLT_MIN, FLT_MAX, 0.5f, 1.0f, 2.0f, 3.0f, 100.0f})
    edges.push_back(s);
  if (u.accurate_below < INFINITY)  // sin, cos: the floats nearest to multiples of pi/2
    for (int k = 1; k < 20000; ++k) edges.push_back(float(k * 1.5707963267948966));
  for (float e : edges)
    for (float s : {e, -e}) {
      float lo = s, hi = s;
      x.push_back(s);
      for (int i = 0; i < 3; ++i) {
        lo = std::nextafter(lo, -INFINITY);
        hi = std::nextafter(hi, INFINITY);
        x.push_back(lo);
        x.push_back(hi);
      }
    }
  for (float s : {INFINITY, -INFINITY, NAN}) x.push_back(s);
  return x;
}

// The JIT-compiled loops, from the very text generated code gets.
const cgvm::CompiledModule& jit_module() {
  static std::shared_ptr<const cgvm::CompiledModule> module = [] {
    // tests/codegen/this_file.cpp -> codegen/prelude/math.hpp
    const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path() / "../..";
    std::ifstream in(root / "codegen/prelude/math.hpp");
    REQUIRE(in.good());
    std::stringstream source;
    source << in.rdbuf() << "\n";
    for (const Unary& u : unary_table())
      source << "extern \"C\" void loop_" << u.name << "(const float* x, float* y, long n) {\n"
             << "  for (long i = 0; i < n; ++i) y[i] = cgm::" << u.name << "(x[i]);\n}\n";
    source << "extern \"C\" void loop_pow(const float* x, const float* y, float* z, long n) {\n"
           << "  for (long i = 0; i < n; ++i) z[i] = cgm::pow(x[i], y[i]);\n}\n";
    cgvm::JitOptions options;
    options.use_disk_cache = false;
    return cgvm::compile_cpp(source.str(), options);
  }();
  return *module;
}

struct Measured {
  double libm = 0, truth = 0;
  float worst_x = 0;
};

// Max errors of `loop` over x; special results (NaN, +-inf, +-0 from libm) must match exactly.
Measured measure(const Unary& u, Loop loop, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  loop(x.data(), y.data(), long(x.size()));
  Measured m;
  for (std::size_t i = 0; i < x.size(); ++i) {
    CAPTURE(x[i]);
    CAPTURE(y[i]);
    if (std::fabs(x[i]) > u.accurate_below && std::isfinite(x[i])) {
      REQUIRE(std::fabs(y[i]) <= 1.0f);
      continue;
    }
    const double t = u.truth(double(x[i]));
    // Exact specials: NaN, and zeros and infinities (sign included) of the true result.
    if (std::isnan(t)) REQUIRE(std::isnan(y[i]));
    if (t == 0 || std::isinf(t))
      REQUIRE(std::bit_cast<std::uint32_t>(y[i]) == std::bit_cast<std::uint32_t>(float(t)));
    const double et = ulp_error(y[i], t);
    if (et > m.truth) m.truth = et, m.worst_x = x[i];
    if (u.libm) m.libm = std::max(m.libm, ulp_distance(y[i], u.libm(x[i])));
  }
  return m;
}

bool report() { return std::getenv("CGVM_VECTOR_MATH_REPORT") != nullptr; }

}  // namespace

TEST_CASE("vector math: float functions stay within their ulp bounds, natively and jitted") {
  const cgvm::CompiledModule& module = jit_module();
  for (const Unary& u : unary_table()) {
    CAPTURE(std::string(u.name));
    const std::vector<float> x = unary_inputs(u);
    const Measured native = measure(u, u.native, x);
    const Loop jit_loop =
        module.function<void(const float*, float*, long)>(std::string("loop_") + u.name);
    const Measured jitted = measure(u, jit_loop, x);
    if (report())
      std::printf("%-9s native: %.3f ulp vs truth (x=%a), %.0f vs libm;  jit: %.3f (x=%a), %.0f\n",
                  u.name, native.truth, native.worst_x, native.libm, jitted.truth, jitted.worst_x,
                  jitted.libm);
    for (const Measured& m : {native, jitted}) {
      CHECK(m.truth <= u.bound_truth);
      if (u.libm) CHECK(m.libm <= u.bound_libm);
    }
  }
}

TEST_CASE("vector math: pow against powf and the exact value") {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> unit(0, 1);
  std::vector<float> xs, ys;
  const int n = 1 << 20;
  for (int i = 0; i < n; ++i) {
    const int kind = i % 4;
    float x, y;
    if (kind == 0) {
      x = 4 * unit(rng), y = 60 * unit(rng) - 30;
    } else if (kind == 1) {  // any positive float
      x = std::bit_cast<float>(std::uint32_t(rng()) & 0x7f7fffffu), y = 4 * unit(rng) - 2;
    } else if (kind == 2) {  // negative bases, integer exponents: signed results
      x = -(8 * unit(rng)), y = std::round(80 * unit(rng) - 40);
    } else {  // near overflow and underflow: y log2 x close to 128 or -149
      x = 0.25f + 8 * unit(rng);
      const double target = (i % 8 < 4 ? 128.0 : -149.0) + 4 * unit(rng) - 2;
      y = float(target / std::log2(double(x)));
    }
    xs.push_back(x), ys.push_back(y);
  }
  const cgvm::CompiledModule& module = jit_module();
  Loop2 jitted = module.function<void(const float*, const float*, float*, long)>("loop_pow");
  for (Loop2 loop : {Loop2(native_pow), jitted}) {
    std::vector<float> z(xs.size());
    loop(xs.data(), ys.data(), z.data(), long(xs.size()));
    double max_truth = 0, max_libm = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      max_truth = std::max(max_truth, ulp_error(z[i], std::pow(double(xs[i]), double(ys[i]))));
      max_libm = std::max(max_libm, ulp_distance(z[i], std::pow(xs[i], ys[i])));
    }
    if (report()) std::printf("pow       %.3f ulp vs truth, %.0f vs libm\n", max_truth, max_libm);
    CHECK(max_truth <= 0.6);
    CHECK(max_libm <= 1);
  }

  // C99 F.9.4.4, every combination of special operands: bit-identical to powf (NaN: NaN).
  const std::vector<float> v = {0.0f, -0.0f, FLT_TRUE_MIN, -FLT_TRUE_MIN, 0.5f, -0.5f, 1.0f,
                                -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, 2.5f, -2.5f, 1e10f, -1e10f,
                                FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, 16777217.0f,
                                -16777215.0f, 1.0000001f, 0.99999994f};
  std::vector<float> sx, sy;
  for (float a : v)
    for (float b : v) sx.push_back(a), sy.push_back(b);
  for (Loop2 loop : {Loop2(native_pow), jitted}) {
    std::vector<float> z(sx.size());
    loop(sx.data(), sy.data(), z.data(), long(sx.size()));
    for (std::size_t i = 0; i < sx.size(); ++i) {
      CAPTURE(sx[i]);
      CAPTURE(sy[i]);
      const float want = std::pow(sx[i], sy[i]);
      CHECK(std::isnan(z[i]) == std::isnan(want));
      if (!std::isnan(want)) CHECK(ulp_distance(z[i], want) <= 1);
      if (want == 0 || std::isinf(want) || want == 1 || want == -1)
        CHECK(std::bit_cast<std::uint32_t>(z[i]) == std::bit_cast<std::uint32_t>(want));
    }
  }
}

TEST_CASE("vector math: odd functions keep -0, and the libm forwards are libm") {
  for (Loop f : {native_loop<cgm::expm1>, native_loop<cgm::log1p>, native_loop<cgm::tanh>,
                 native_loop<cgm::erf>, native_loop<cgm::sin>}) {
    float x = -0.0f, y = 1;
    f(&x, &y, 1);
    CHECK(std::bit_cast<std::uint32_t>(y) == 0x80000000u);
  }
  CHECK(cgm::cos(-0.0f) == 1.0f);
  CHECK(cgm::sigmoid(0.0f) == 0.5f);
  CHECK(cgm::softplus(-0.0f) == std::log(2.0f));
  for (float x : {-2.5f, -0.3f, 0.0f, 0.7f, 3.0f}) {
    CAPTURE(x);
    CHECK(cgm::tan(x) == std::tan(x));
    CHECK(cgm::atan(x) == std::atan(x));
    CHECK(cgm::sinh(x) == std::sinh(x));
    CHECK(cgm::cosh(x) == std::cosh(x));
    CHECK(cgm::atan2(x, 1.5f) == std::atan2(x, 1.5f));
    CHECK(cgm::fmod(x, 0.75f) == std::fmod(x, 0.75f));
    const double d = x * 1.1;
    CHECK(cgm::exp(d) == std::exp(d));
    CHECK(cgm::tanh(d) == std::tanh(d));
    CHECK(cgm::pow(std::fabs(d), d) == std::pow(std::fabs(d), d));
    CHECK(cgm::erfc(d) == std::erfc(d));
    CHECK(cgm::sigmoid(d) == doctest::Approx(1 / (1 + std::exp(-d))).epsilon(1e-15));
    CHECK(cgm::softplus(d) == doctest::Approx(std::log1p(std::exp(d))).epsilon(1e-15));
  }
  CHECK(cgm::asin(0.5f) == std::asin(0.5f));
  CHECK(cgm::acos(0.5f) == std::acos(0.5f));
  CHECK(cgm::sigmoid(-800.0) == 0.0);
  CHECK(cgm::sigmoid(-700.0) > 0.0);  // exp(-700) / (1 + ...), not 1 / inf
  CHECK(cgm::softplus(800.0) == 800.0);
}
