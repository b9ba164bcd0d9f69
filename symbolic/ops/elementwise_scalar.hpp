#pragma once
// The scalar functions behind the elementwise ops whose semantics need more than one C++
// operator. The reference evals call them, and generated code embeds this very file
// (codegen/prelude.cpp), so compiled and interpreted results agree by construction. Hence it
// includes nothing and uses compiler builtins instead of <cmath>. Each works on every C++
// type of its op's domain and returns that type; float32 math stays in float.
//
// Integer arithmetic wraps (two's complement, like numpy) instead of C++'s overflow UB:
// it is done in uint64 and truncated back. Integer division and mod by zero give 0 instead
// of trapping; Python's floor/mod semantics otherwise (elementwise.hpp documents both).
//
// The transcendental functions are not here: the interpreter uses libm (elementwise_math.cpp)
// and generated code the vectorizable versions of codegen/prelude/math.hpp.
#include "runtime/cast.hpp"  // element_traits:: traits (the prelude embeds it first)

namespace cgvm::ops::detail {

template <class T> inline constexpr bool is_int = element_traits::is_integer<T>;

template <class T> unsigned long long bits(T v) { return static_cast<unsigned long long>(v); }

// Exact float operations, overloaded for float and double.
inline float fmod_(float a, float b) { return __builtin_fmodf(a, b); }
inline double fmod_(double a, double b) { return __builtin_fmod(a, b); }
inline float copysign_(float a, float b) { return __builtin_copysignf(a, b); }
inline double copysign_(double a, double b) { return __builtin_copysign(a, b); }
inline float floor_(float x) { return __builtin_floorf(x); }
inline double floor_(double x) { return __builtin_floor(x); }
inline float ceil_(float x) { return __builtin_ceilf(x); }
inline double ceil_(double x) { return __builtin_ceil(x); }
inline float trunc_(float x) { return __builtin_truncf(x); }
inline double trunc_(double x) { return __builtin_trunc(x); }
inline float sqrt_(float x) { return __builtin_sqrtf(x); }
inline double sqrt_(double x) { return __builtin_sqrt(x); }
inline float fmax_(float a, float b) { return __builtin_fmaxf(a, b); }
inline double fmax_(double a, double b) { return __builtin_fmax(a, b); }
inline float fmin_(float a, float b) { return __builtin_fminf(a, b); }
inline double fmin_(double a, double b) { return __builtin_fmin(a, b); }
inline float fabs_(float x) { return __builtin_fabsf(x); }
inline double fabs_(double x) { return __builtin_fabs(x); }
// Ties go to the even neighbour, like numpy; independent of the FPU rounding mode.
inline float round_half_even(float x) { return __builtin_roundevenf(x); }
inline double round_half_even(double x) { return __builtin_roundeven(x); }
template <class T> bool isnan_(T x) {
  if constexpr (element_traits::is_floating<T>) return __builtin_isnan(x);
  else return false;
}
template <class T> bool isinf_(T x) {
  if constexpr (element_traits::is_floating<T>) return __builtin_isinf(x);
  else return false;
}

template <class T> T add_of(T a, T b) {
  if constexpr (is_int<T>) return static_cast<T>(bits(a) + bits(b));
  else return a + b;
}
template <class T> T sub_of(T a, T b) {
  if constexpr (is_int<T>) return static_cast<T>(bits(a) - bits(b));
  else return a - b;
}
template <class T> T mul_of(T a, T b) {
  if constexpr (is_int<T>) return static_cast<T>(bits(a) * bits(b));
  else return a * b;
}
template <class T> T neg_of(T x) { return sub_of(T(0), x); }
// abs(INT_MIN) stays INT_MIN, as in numpy.
template <class T> T abs_of(T x) {
  if constexpr (!element_traits::is_signed<T>) return x;
  else return x < 0 ? neg_of(x) : x;
}
// -1, 0 or 1; NaN stays NaN.
template <class T> T sign_of(T x) {
  if (x > 0) return T(1);
  if constexpr (element_traits::is_signed<T>)
    if (x < 0) return T(-1);
  return x == 0 ? T(0) : x;
}

// Python's a // b: the quotient rounded toward minus infinity.
template <class T> T floor_div_of(T a, T b) {
  if constexpr (is_int<T>) {
    if (b == 0) return T(0);
    if constexpr (element_traits::is_signed<T>) {
      if (b == -1) return neg_of(a);  // INT_MIN / -1 wraps instead of trapping
      T q = static_cast<T>(a / b);
      if (a % b != 0 && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return static_cast<T>(a / b);
    }
  } else {
    // numpy's divmod: exact for every representable pair; division by 0 gives a / b.
    if (b == 0) return a / b;
    T rem = fmod_(a, b);
    T div = (a - rem) / b;
    if (rem != 0 && ((b < 0) != (rem < 0))) div -= T(1);
    if (div == 0) return copysign_(T(0), a / b);
    T floor_div = floor_(div);
    if (div - floor_div > T(0.5)) floor_div += T(1);
    return floor_div;
  }
}

// Python's a % b: the result takes the sign of the divisor.
template <class T> T mod_of(T a, T b) {
  if constexpr (is_int<T>) {
    if (b == 0) return T(0);
    if constexpr (element_traits::is_signed<T>) {
      if (b == -1) return T(0);  // INT_MIN % -1 would trap
      T r = static_cast<T>(a % b);
      if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else {
      return static_cast<T>(a % b);
    }
  } else {
    T r = fmod_(a, b);  // NaN when b == 0
    if (r == 0) return copysign_(T(0), b);
    if ((r < 0) != (b < 0)) r += b;
    return r;
  }
}

// Integer powers by repeated squaring (wrapping); a negative exponent gives 0 except for the
// bases 1 and -1, whose powers stay exact. (Float pow is libm's / the prelude's.)
template <class T> T int_pow_of(T base, T exponent) {
  if constexpr (element_traits::is_signed<T>) {
    if (exponent < 0) {
      if (base == 1) return T(1);
      if (base == -1) return (exponent % 2 == 0) ? T(1) : T(-1);
      return T(0);
    }
  }
  unsigned long long result = 1, b = bits(base);
  for (auto e = static_cast<unsigned long long>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<T>(result);
}

// NaN wins, as in numpy's minimum/maximum (std::min would depend on argument order).
template <class T> T minimum_of(T a, T b) {
  if constexpr (element_traits::is_floating<T>) {
    if (isnan_(a) || isnan_(b)) return isnan_(a) ? a : b;
  }
  return b < a ? b : a;
}
template <class T> T maximum_of(T a, T b) {
  if constexpr (element_traits::is_floating<T>) {
    if (isnan_(a) || isnan_(b)) return isnan_(a) ? a : b;
  }
  return a < b ? b : a;
}

}  // namespace cgvm::ops::detail
