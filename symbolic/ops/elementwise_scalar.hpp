#pragma once
// Private to the elementwise family: the scalar functions behind the reference evals whose
// semantics need more than one C++ expression. Each works on every C++ type of its op's
// domain and returns that type; float32 math stays in float.
//
// Integer arithmetic wraps (two's complement, like numpy) instead of C++'s overflow UB:
// it is done in uint64 and truncated back. Integer division and mod by zero give 0 instead
// of trapping; Python's floor/mod semantics otherwise (elementwise.hpp documents both).
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace cgvm::ops::detail {

template <class T>
inline constexpr bool is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <class T>
std::uint64_t bits(T v) {
  return static_cast<std::uint64_t>(v);
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
  if constexpr (std::is_unsigned_v<T>) return x;
  else return x < 0 ? neg_of(x) : x;
}
// -1, 0 or 1; NaN stays NaN.
template <class T> T sign_of(T x) {
  if (x > 0) return T(1);
  if constexpr (std::is_signed_v<T>)
    if (x < 0) return T(-1);
  return x == 0 ? T(0) : x;
}

// Python's a // b: the quotient rounded toward minus infinity.
template <class T> T floor_div_of(T a, T b) {
  if constexpr (is_int<T>) {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
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
    T rem = std::fmod(a, b);
    T div = (a - rem) / b;
    if (rem != 0 && ((b < 0) != (rem < 0))) div -= T(1);
    if (div == 0) return std::copysign(T(0), a / b);
    T floor_div = std::floor(div);
    if (div - floor_div > T(0.5)) floor_div += T(1);
    return floor_div;
  }
}

// Python's a % b: the result takes the sign of the divisor.
template <class T> T mod_of(T a, T b) {
  if constexpr (is_int<T>) {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return T(0);  // INT_MIN % -1 would trap
      T r = static_cast<T>(a % b);
      if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else {
      return static_cast<T>(a % b);
    }
  } else {
    T r = std::fmod(a, b);  // NaN when b == 0
    if (r == 0) return std::copysign(T(0), b);
    if ((r < 0) != (b < 0)) r += b;
    return r;
  }
}

// Integer powers by repeated squaring (wrapping); a negative exponent gives 0 except for the
// bases 1 and -1, whose powers stay exact.
template <class T> T pow_of(T base, T exponent) {
  if constexpr (is_int<T>) {
    if constexpr (std::is_signed_v<T>) {
      if (exponent < 0) {
        if (base == 1) return T(1);
        if (base == -1) return (exponent % 2 == 0) ? T(1) : T(-1);
        return T(0);
      }
    }
    std::uint64_t result = 1, b = bits(base);
    for (auto e = static_cast<std::uint64_t>(exponent); e != 0; e >>= 1) {
      if (e & 1) result *= b;
      b *= b;
    }
    return static_cast<T>(result);
  } else {
    return std::pow(base, exponent);
  }
}

// NaN wins, as in numpy's minimum/maximum (std::min would depend on argument order).
template <class T> T minimum_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? a : b;
  }
  return b < a ? b : a;
}
template <class T> T maximum_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? a : b;
  }
  return a < b ? b : a;
}

// Ties go to the even neighbour, like numpy; independent of the FPU rounding mode.
template <class T> T round_half_even(T x) {
  T r = std::round(x);  // ties away from zero
  if (std::fabs(x - r) == T(0.5)) r = T(2) * std::round(x / T(2));
  return r;
}

// Never evaluates exp of a large positive number, so no overflow for any x.
template <class T> T sigmoid_of(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); NaN stays NaN.
template <class T> T softplus_of(T x) {
  return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

}  // namespace cgvm::ops::detail
