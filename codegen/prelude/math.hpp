#pragma once
// Elementwise math for generated code: cgm::exp, cgm::log, cgm::tanh... for float and double.
//
// This file is pasted verbatim into every generated translation unit (codegen/prelude.hpp),
// which includes no system header (DESIGN.md §5), so it uses only builtins and declares the
// libm functions it forwards to itself. It is also valid ordinary C++ (the tests include it).
//
// float: branch-free polynomial/rational kernels computed in float, so the loop vectorizer
// turns `y[i] = cgm::exp(x[i])` into 8/16-lane code (selects, no early returns; specials are
// patched in with selects at the end). double where float cannot reach the bound: pow's
// log2/exp2 and the argument reduction of sin/cos. Specials follow C99 Annex F like libm:
// NaN in -> NaN out, +-inf, overflow to inf, underflow to 0, log(<0) = NaN, log(0) = -inf,
// -0 kept by odd functions, all of pow's special cases.
// double: forwards to libm (float64 speed matters less; the JIT maps the calls to libmvec).
// tan, asin, acos, atan, atan2, sinh, cosh, fmod forward to libm in both precisions, so the
// code generator can write cgm::NAME for every math op.
//
// Max error of the float functions, in ulps of the float result: "truth" against the exactly
// rounded value (double libm), "libm" as the distance to glibc's float function. Measured on
// every 5th float bit pattern (all binades, both signs) plus the test's sweeps, natively
// (no FMA) and through the JIT (FMA, 16 lanes); tests/codegen/vector_math_test.cpp enforces
// the bounds in brackets.
//   function   truth        libm      function   truth        libm
//   exp        1.01 [1.1]   1 [1]     tanh       1.33 [1.4]   2 [2]
//   exp2       1.22 [1.25]  1 [1]     sigmoid    2.36 [2.5]   -
//   expm1      1.53 [1.6]   2 [2]     softplus   1.62 [1.7]   -
//   log        0.91 [1]     1 [1]     erf        1.32 [1.35]  1 [1]
//   log2       1.47 [1.5]   2 [2]     erfc       3.91 [4]     5 [5]
//   log10      1.90 [2]     3 [3]     sin, cos   1.02 [1.05]  1 [1]
//   log1p      0.91 [1]     1 [1]     pow        0.58 [0.6]   1 [1]  (2^20 random pairs)
// log10 and log2 are under 1 and 1.4 ulp with FMA. sigmoid and softplus have no libm
// counterpart; their truth is the double formula.
// Denormal results (erfc past x ~ 9.2, sigmoid below -87, exp...) meet the same bounds in
// denormal ulps of 2^-149, so their relative error grows as they shrink, as libm's does.
// sin/cos: accurate for |x| <= 2^40 (tested); beyond 2^50, |x| is clamped to 2^50 and the
// result only lies in [-1, 1].

extern "C" {
float tanf(float) noexcept;
float asinf(float) noexcept;
float acosf(float) noexcept;
float atanf(float) noexcept;
float atan2f(float, float) noexcept;
float sinhf(float) noexcept;
float coshf(float) noexcept;
float fmodf(float, float) noexcept;
double exp(double) noexcept;
double exp2(double) noexcept;
double expm1(double) noexcept;
double log(double) noexcept;
double log2(double) noexcept;
double log10(double) noexcept;
double log1p(double) noexcept;
double tanh(double) noexcept;
double erf(double) noexcept;
double erfc(double) noexcept;
double pow(double, double) noexcept;
double sin(double) noexcept;
double cos(double) noexcept;
double tan(double) noexcept;
double asin(double) noexcept;
double acos(double) noexcept;
double atan(double) noexcept;
double atan2(double, double) noexcept;
double sinh(double) noexcept;
double cosh(double) noexcept;
double fmod(double, double) noexcept;
}

#define CGM_INLINE static inline __attribute__((always_inline))

namespace cgm {
namespace detail {

CGM_INLINE unsigned bits(float x) { return __builtin_bit_cast(unsigned, x); }
CGM_INLINE float from_bits(unsigned u) { return __builtin_bit_cast(float, u); }
CGM_INLINE unsigned long long bits(double x) { return __builtin_bit_cast(unsigned long long, x); }
CGM_INLINE double from_bits(unsigned long long u) { return __builtin_bit_cast(double, u); }
// |x| with the sign of s (as copysign; sign bits only, so -0 and NaN pass through).
CGM_INLINE float with_sign_of(float x, float s) {
  return from_bits((bits(x) & 0x7fffffffu) | (bits(s) & 0x80000000u));
}
CGM_INLINE float inf() { return __builtin_huge_valf(); }
CGM_INLINE float nan() { return __builtin_nanf(""); }
// Clamps x to [lo, hi]; NaN becomes lo, so integer conversions downstream stay defined.
CGM_INLINE float clamp(float x, float lo, float hi) {
  return !(x >= lo) ? lo : (x > hi ? hi : x);
}
CGM_INLINE double clamp(double x, double lo, double hi) {
  return !(x >= lo) ? lo : (x > hi ? hi : x);
}
// 2^n for n in [-126, 127].
CGM_INLINE float pow2i(int n) { return from_bits(unsigned(n + 127) << 23); }
// p * 2^n for n in [-152, 254] in two normal steps, so a denormal result is rounded once.
CGM_INLINE float scale(float p, int n) {
  const int half = n >> 1;
  return p * pow2i(half) * pow2i(n - half);
}

// Adding then subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to an integer, and
// leaves that integer in the low mantissa bits (no float->int conversion needed).
constexpr float kShifter = 0x1.8p23f;
constexpr float kLn2Hi = 0x1.62e400p-1f;  // 16 bits: n * kLn2Hi is exact for |n| < 256
constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
constexpr float kLog2e = 0x1.715476p+0f;

// 2^r = 1 + r P(r), near-minimax on [-1/2, 1/2] (1.6e-8 relative).
CGM_INLINE float exp2_kernel(float r) {
  const float p = ((((0x1.41fbbcp-13f * r + 0x1.5f3e54p-10f) * r + 0x1.3b2d4cp-7f) * r +
                    0x1.c6aee8p-5f) * r + 0x1.ebfbdcp-3f) * r + 0x1.62e430p-1f;
  return 1.0f + r * p;
}
// e^r - 1 = r + r^2 P(r), near-minimax on [-ln2/2, ln2/2] (3.8e-9 relative to e^r).
CGM_INLINE float expm1_poly(float r) {
  const float p =
      (((0x1.6a2448p-10f * r + 0x1.1239d6p-7f) * r + 0x1.5558f2p-5f) * r + 0x1.555492p-3f) * r +
      0x1.fffffcp-2f;
  return r + r * r * p;
}
// exp(a + b) = p * 2^n, for a in [-160, 100] and |b| small next to 1 (the low part of a
// split argument). r = a + b - n ln2 is in [-ln2/2, ln2/2].
struct ExpParts {
  float p;
  int n;
};
CGM_INLINE ExpParts exp_parts(float a, float b) {
  const float t = a * kLog2e + kShifter;
  const float nf = t - kShifter;
  const float r = ((a - nf * kLn2Hi) + b) - nf * kLn2Lo;
  return {1.0f + expm1_poly(r), int(bits(t) - bits(kShifter))};
}

// x = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); x > 0 finite, denormals included.
struct LogParts {
  float k;
  float f;
};
CGM_INLINE LogParts log_parts(float x) {
  const bool denormal = x < 0x1p-126f;
  const float xs = denormal ? x * 0x1p23f : x;
  const unsigned u = bits(xs) + (0x3f800000u - 0x3f3504f3u);
  const int k = int(u >> 23) - 127 - (denormal ? 23 : 0);
  const float m = from_bits((u & 0x007fffffu) + 0x3f3504f3u);
  return {float(k), m - 1.0f};
}
// log(1 + f) - f for f in [sqrt(1/2) - 1, sqrt(2) - 1]: -f^2/2 + f^3 P(f), 7.8e-9 relative.
CGM_INLINE float log1p_tail(float f) {
  const float p =
      ((((((-0x1.38b576p-4f * f + 0x1.055b68p-3f) * f - 0x1.0d8542p-3f) * f + 0x1.22da1ep-3f) *
             f - 0x1.547244p-3f) * f + 0x1.99a008p-3f) * f - 0x1.000228p-2f) * f +
      0x1.555554p-2f;
  const float z = f * f;
  return f * z * p - 0.5f * z;
}
// log's specials, patched over the kernel's result r.
CGM_INLINE float log_specials(float x, float r) {
  r = x == inf() ? x : r;
  r = x == 0.0f ? -inf() : r;
  r = x < 0.0f ? nan() : r;
  return __builtin_isnan(x) ? x + x : r;
}

// erfc(a) for a in [0.5, 10.5] as exp(-a^2) * P(t) / (1 + 2a), t = (a - 2)/(a + 2) (P: 1.4e-8
// relative). a^2 is split into an exact high part and a small low part so exp's argument
// carries no rounding error, and P / (1 + 2a) is folded in before the final 2^n scaling so
// a denormal result is rounded once.
CGM_INLINE float erfc_kernel(float a) {
  const float hi = from_bits(bits(a) & 0xfffff000u);  // 12 bits: hi * hi is exact
  const float lo_sq = (a - hi) * (a + hi);
  const ExpParts e = exp_parts(-(hi * hi), -lo_sq);
  const float t = (a - 2.0f) / (a + 2.0f);
  float p = -0x1.def788p-13f;
  p = p * t - 0x1.4bdcfep-10f;
  p = p * t + 0x1.2d42ecp-10f;
  p = p * t + 0x1.1bc070p-7f;
  p = p * t - 0x1.065b7cp-7f;
  p = p * t - 0x1.bc1958p-5f;
  p = p * t + 0x1.4ff8d6p-3f;
  p = p * t - 0x1.5407f8p-3f;
  p = p * t - 0x1.7bf5dcp-4f;
  p = p * t + 0x1.46e80ep+0f;
  return scale(e.p * (p / (1.0f + 2.0f * a)), e.n);
}
// erf(x) = x + x Q(x^2) for |x| <= 1 (3.1e-9 relative).
CGM_INLINE float erf_small_q(float z) {
  return (((((0x1.496a92p-14f * z - 0x1.a3f728p-11f) * z + 0x1.5405b8p-8f) * z - 0x1.b7f90ep-6f) *
               z + 0x1.ce2cf8p-4f) * z - 0x1.81273ep-2f) * z + 0x1.06eba8p-3f;
}

// sin(r) and cos(r) for |r| <= pi/4 (+ a little); r_lo is the part of r below float.
CGM_INLINE float sin_poly(float r, float r_lo) {
  const float z = r * r;
  const float p = (-0x1.993f6ep-13f * z + 0x1.11072ep-7f) * z - 0x1.555546p-3f;
  return r + (r_lo + r * z * p);
}
CGM_INLINE float cos_poly(float r, float r_lo) {
  const float z = r * r;
  const float p = (0x1.99e78ap-16f * z - 0x1.6c0c26p-10f) * z + 0x1.55554ap-5f;
  return 1.0f - (0.5f * z - (z * z * p - r * r_lo));
}
// |x| = k pi/2 + r, |r| <= pi/4, reduced in double: x - k P1 is exact under FMA and the
// second part of pi/2 leaves an error of k 2^-107, so r is good to ~2^-53 relative; k is
// the nearest integer to x 2/pi up to a rounding of x 2/pi (harmless for |x| <= 2^40, the
// tested range). Past 2^50 the shifter stops rounding, so |x| is clamped there: the result
// is then sin/cos of the wrong argument, but stays in [-1, 1].
// Double runs the reduction at half the vector width; that is the price of |x| up to 2^40.
struct SinCosParts {
  float r, r_lo;
  unsigned quadrant;
};
CGM_INLINE SinCosParts sincos_reduce(float ax) {
  const double x = ax > 0x1p50f ? 0x1p50f : ax;
  const double shifter = 0x1.8p52;
  const double t = x * 0x1.45f306dc9c883p-1 + shifter;  // 2/pi
  const double k = t - shifter;
  double r = __builtin_fma(-k, 0x1.921fb54442d18p+0, x);
  r = __builtin_fma(-k, 0x1.1a62633145c07p-54, r);
  const float rf = float(r);
  return {rf, float(r - double(rf)), unsigned(bits(t)) & 3u};
}

}  // namespace detail

// --- float ----------------------------------------------------------------------------

CGM_INLINE float exp(float x) {
  const detail::ExpParts e = detail::exp_parts(detail::clamp(x, -104.0f, 89.0f), 0.0f);
  const float r = detail::scale(e.p, e.n);
  return __builtin_isnan(x) ? x + x : r;
}

CGM_INLINE float exp2(float x) {
  const float xc = detail::clamp(x, -151.0f, 129.0f);
  const float t = xc + detail::kShifter;
  const float r = xc - (t - detail::kShifter);  // exact, in [-1/2, 1/2]
  const int n = int(detail::bits(t) - detail::bits(detail::kShifter));
  const float y = detail::scale(detail::exp2_kernel(r), n);
  return __builtin_isnan(x) ? x + x : y;
}

CGM_INLINE float expm1(float x) {
  const float xc = detail::clamp(x, -18.0f, 89.0f);
  const float t = xc * detail::kLog2e + detail::kShifter;
  const float nf = t - detail::kShifter;
  const float r = (xc - nf * detail::kLn2Hi) - nf * detail::kLn2Lo;
  const float p = detail::expm1_poly(r);
  // e^x - 1 = 2^n p + (2^n - 1). 2^128 is not a float: the top case scales by 2^127 first.
  const int n = int(detail::bits(t) - detail::bits(detail::kShifter));
  const int top = n == 128 ? 1 : 0;
  const float s = detail::pow2i(n - top);
  const float y = (s * p + (s - (top ? 0.5f : 1.0f))) * (top ? 2.0f : 1.0f);
  const float r0 = x == 0.0f ? x : y;  // keeps -0
  return __builtin_isnan(x) ? x + x : r0;
}

CGM_INLINE float log(float x) {
  const detail::LogParts l = detail::log_parts(x);
  // Small terms first; k * ln2 split so that its high part is exact.
  const float y = detail::log1p_tail(l.f) + l.k * -0x1.bd0106p-13f;  // ln2 - 0.693359375
  return detail::log_specials(x, (l.f + y) + l.k * 0.693359375f);
}

CGM_INLINE float log2(float x) {
  const detail::LogParts l = detail::log_parts(x);
  const float y = detail::log1p_tail(l.f);
  const float a = 0x1.c551dap-2f;  // log2(e) - 1: f * log2(e) = f + f a, with f exact
  return detail::log_specials(x, (((y * a + l.f * a) + y) + l.f) + l.k);
}

CGM_INLINE float log10(float x) {
  const detail::LogParts l = detail::log_parts(x);
  const float y = detail::log1p_tail(l.f);
  // log10(e) and log10(2) split into a short high part and the rest.
  const float e_hi = 0.43359375f, e_lo = 0x1.6f62a4p-11f;
  const float t_hi = 0.30078125f, t_lo = 0x1.04d428p-12f;
  const float r = ((((y * e_lo + l.f * e_lo) + l.k * t_lo) + y * e_hi) + l.f * e_hi) + l.k * t_hi;
  return detail::log_specials(x, r);
}

CGM_INLINE float log1p(float x) {
  const float u = 1.0f + x;
  const detail::LogParts l = detail::log_parts(u);
  const int k = int(l.k);
  // u = 1 + x rounded; c / u restores what the rounding lost (log(1 + x) - log(u)).
  const float c = k >= 2 ? 1.0f - (u - x) : x - (u - 1.0f);
  const float corr = (k == 0 || k >= 25 || u == 0.0f) ? 0.0f : c / u;
  const float f = k == 0 ? x : l.f;
  const float y = (detail::log1p_tail(f) + (l.k * -0x1.bd0106p-13f + corr));
  float r = (f + y) + l.k * 0.693359375f;
  r = x == 0.0f ? x : r;  // keeps -0
  r = u == detail::inf() ? u : r;
  r = x == -1.0f ? -detail::inf() : r;
  r = x < -1.0f ? detail::nan() : r;
  return __builtin_isnan(x) ? x + x : r;
}

CGM_INLINE float tanh(float x) {
  const float a = __builtin_fabsf(x);
  const float z = a * a;
  // |x| < 0.625: x + x^3 P(x^2) (8.6e-9 relative); beyond: 1 - 2 / (e^2|x| + 1).
  const float p =
      (((-0x1.75e1cep-8f * z + 0x1.52269cp-6f) * z - 0x1.b83c5ap-5f) * z + 0x1.110726p-3f) * z -
      0x1.555532p-2f;
  const float small = a + a * (z * p);
  // e^2|x| <= e^20 needs neither exp's special cases nor its two-step scaling.
  const detail::ExpParts e = detail::exp_parts(2.0f * detail::clamp(a, 0.0f, 10.0f), 0.0f);
  const float big = 1.0f - 2.0f / (e.p * detail::pow2i(e.n) + 1.0f);
  const float r = detail::with_sign_of(a < 0.625f ? small : big, x);
  return __builtin_isnan(x) ? x + x : r;
}

// 1 / (1 + e^-x), as e^-|x| / (1 + e^-|x|) for x < 0: no overflow, and tiny results keep
// their precision down to the denormals.
CGM_INLINE float sigmoid(float x) {
  const float e = exp(-__builtin_fabsf(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): x for large x, e^x for very negative x.
CGM_INLINE float softplus(float x) {
  return (x > 0.0f ? x : 0.0f) + log1p(exp(-__builtin_fabsf(x)));
}

CGM_INLINE float erf(float x) {
  const float a = __builtin_fabsf(x);
  const float small = a + a * detail::erf_small_q(a * a);
  // Past 1, erfc <= 0.16 and its few-ulp error shrinks to under half an ulp of erf.
  const float big = 1.0f - detail::erfc_kernel(detail::clamp(a, 1.0f, 10.5f));
  const float r = detail::with_sign_of(a <= 1.0f ? small : big, x);
  return __builtin_isnan(x) ? x + x : r;
}

CGM_INLINE float erfc(float x) {
  const float a = __builtin_fabsf(x);
  // |x| <= 0.5: 1 - erf(x) as (0.5 - x) + (0.5 - x Q): 0.5 - x is exact, nothing cancels.
  const float small = (0.5f - x) + (0.5f - x * detail::erf_small_q(x * x));
  const float k = detail::erfc_kernel(detail::clamp(a, 0.5f, 10.5f));
  const float r = a <= 0.5f ? small : (x < 0.0f ? 2.0f - k : k);
  return __builtin_isnan(x) ? x + x : r;
}

// pow in double inside: y log2|x| needs ~40 bits for a float-accurate 2^(y log2|x|).
CGM_INLINE float pow(float x, float y) {
  const float ax = __builtin_fabsf(x);
  const detail::LogParts l = detail::log_parts(ax);
  // log(1 + f) = 2 atanh(s), s = f / (2 + f), |s| < 0.172; the series to s^11 is 5e-11,
  // below the 2.7e-10 that |y log2 x| <= 150 allows. s comes from a float division refined
  // once in double (the residual f - s (2 + f) is exact), cheaper than a double division.
  const float inv = 1.0f / (2.0f + l.f);
  const double f = l.f, s0 = double(l.f * inv);
  const double s = s0 + (f - s0 * (2.0 + f)) * double(inv), z = s * s;
  const double atanh_s =
      s + s * z * (1 / 3.0 + z * (1 / 5.0 + z * (1 / 7.0 + z * (1 / 9.0 + z * (1 / 11.0)))));
  double lg = double(l.k) + 2.0 * atanh_s * 0x1.71547652b82fep+0;  // log2(e)
  lg = ax == 0.0f ? -double(detail::inf()) : lg;
  lg = ax == detail::inf() ? double(detail::inf()) : lg;
  // 2^w, w = y log2|x| = n + r, |r| <= 1/2: Taylor of e^(r ln2) to degree 7 (5e-9), then
  // one rounding from double to float, which also rounds overflow and denormals right.
  const double w = detail::clamp(double(y) * lg, -170.0, 170.0);
  const double shifter = 0x1.8p52, t = w + shifter, n = t - shifter;
  const double u = (w - n) * 0x1.62e42fefa39efp-1;  // ln2
  const double u4 = 1 / 24.0 + u * (1 / 120.0 + u * (1 / 720.0 + u * (1 / 5040.0)));
  const double e = 1 + u * (1 + u * (1 / 2.0 + u * (1 / 6.0 + u * u4)));
  const long long ni = (long long)(detail::bits(t) - detail::bits(shifter));
  float v = float(e * detail::from_bits((unsigned long long)(ni + 1023) << 52));
  // Signs and the special cases of C99 F.9.4.4, in increasing priority.
  const bool y_int = __builtin_floorf(y) == y;  // +-inf counts as an even integer
  const bool y_odd = y_int && __builtin_floorf(y * 0.5f) != y * 0.5f;
  v = (detail::bits(x) >> 31) && y_odd ? -v : v;
  v = x < 0.0f && x != -detail::inf() && !y_int ? detail::nan() : v;
  v = __builtin_isnan(x) || __builtin_isnan(y) ? x + y : v;
  v = x == -1.0f && (y == detail::inf() || y == -detail::inf()) ? 1.0f : v;
  return y == 0.0f || x == 1.0f ? 1.0f : v;
}

CGM_INLINE float sin(float x) {
  const detail::SinCosParts p = detail::sincos_reduce(__builtin_fabsf(x));
  const float v = (p.quadrant & 1u) ? detail::cos_poly(p.r, p.r_lo) : detail::sin_poly(p.r, p.r_lo);
  // sin(-x) = -sin(x); quadrants 2 and 3 negate.
  const unsigned sign = (detail::bits(x) & 0x80000000u) ^ ((p.quadrant & 2u) << 30);
  const float r = detail::from_bits(detail::bits(v) ^ sign);
  return __builtin_isnan(x) || x == detail::inf() || x == -detail::inf() ? x - x : r;
}

CGM_INLINE float cos(float x) {
  const detail::SinCosParts p = detail::sincos_reduce(__builtin_fabsf(x));
  const float v = (p.quadrant & 1u) ? detail::sin_poly(p.r, p.r_lo) : detail::cos_poly(p.r, p.r_lo);
  const unsigned sign = ((p.quadrant + 1u) & 2u) << 30;  // quadrants 1 and 2 negate
  const float r = detail::from_bits(detail::bits(v) ^ sign);
  return __builtin_isnan(x) || x == detail::inf() || x == -detail::inf() ? x - x : r;
}

// libm in float for the rest (the JIT maps these to libmvec where it has them).
CGM_INLINE float tan(float x) { return ::tanf(x); }
CGM_INLINE float asin(float x) { return ::asinf(x); }
CGM_INLINE float acos(float x) { return ::acosf(x); }
CGM_INLINE float atan(float x) { return ::atanf(x); }
CGM_INLINE float atan2(float y, float x) { return ::atan2f(y, x); }
CGM_INLINE float sinh(float x) { return ::sinhf(x); }
CGM_INLINE float cosh(float x) { return ::coshf(x); }
CGM_INLINE float fmod(float x, float y) { return ::fmodf(x, y); }

// --- double: libm ---------------------------------------------------------------------

CGM_INLINE double exp(double x) { return ::exp(x); }
CGM_INLINE double exp2(double x) { return ::exp2(x); }
CGM_INLINE double expm1(double x) { return ::expm1(x); }
CGM_INLINE double log(double x) { return ::log(x); }
CGM_INLINE double log2(double x) { return ::log2(x); }
CGM_INLINE double log10(double x) { return ::log10(x); }
CGM_INLINE double log1p(double x) { return ::log1p(x); }
CGM_INLINE double tanh(double x) { return ::tanh(x); }
CGM_INLINE double erf(double x) { return ::erf(x); }
CGM_INLINE double erfc(double x) { return ::erfc(x); }
CGM_INLINE double pow(double x, double y) { return ::pow(x, y); }
CGM_INLINE double sin(double x) { return ::sin(x); }
CGM_INLINE double cos(double x) { return ::cos(x); }
CGM_INLINE double tan(double x) { return ::tan(x); }
CGM_INLINE double asin(double x) { return ::asin(x); }
CGM_INLINE double acos(double x) { return ::acos(x); }
CGM_INLINE double atan(double x) { return ::atan(x); }
CGM_INLINE double atan2(double y, double x) { return ::atan2(y, x); }
CGM_INLINE double sinh(double x) { return ::sinh(x); }
CGM_INLINE double cosh(double x) { return ::cosh(x); }
CGM_INLINE double fmod(double x, double y) { return ::fmod(x, y); }
CGM_INLINE double sigmoid(double x) {
  const double e = ::exp(-__builtin_fabs(x));
  return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}
CGM_INLINE double softplus(double x) {
  return (x > 0.0 ? x : 0.0) + ::log1p(::exp(-__builtin_fabs(x)));
}

}  // namespace cgm

#undef CGM_INLINE
