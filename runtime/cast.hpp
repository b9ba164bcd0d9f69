#pragma once
// The one element conversion rule every runtime copy uses (astype, assign, fill, the
// npy reader), so that a value converts the same way everywhere:
//   - to bool: value != 0 (NaN is true, as in numpy);
//   - float to integer: truncate toward zero through int64, then wrap to the target width
//     (-1.0 -> uint8 255, like numpy on x86); NaN and values outside int64 give INT64_MIN
//     wrapped, which is what x86 conversion instructions produce, instead of C++'s UB;
//   - everything else: the C++ conversion (integer narrowing wraps, since C++20 defined).
//
// Header-free on purpose: generated code embeds this file verbatim (codegen/prelude.cpp), so
// compiled functions convert exactly like the runtime. Hence the small traits below instead
// of <type_traits>.

namespace cgvm {
namespace element_traits {

template <class A, class B> inline constexpr bool same = false;
template <class A> inline constexpr bool same<A, A> = true;
template <class T> inline constexpr bool is_floating = same<T, float> || same<T, double>;
// The integer dtypes (bool is not one).
template <class T> inline constexpr bool is_integer = !is_floating<T> && !same<T, bool>;
// Signed integers and floats.
template <class T> inline constexpr bool is_signed = !same<T, bool> && T(-1) < T(0);

}  // namespace element_traits

template <class To, class From>
constexpr To cast_value(From value) {
  if constexpr (element_traits::same<To, bool>) {
    return value != From(0);
  } else if constexpr (element_traits::is_floating<From> && !element_traits::is_floating<To>) {
    // 2^63 is exactly representable; anything at or beyond it does not fit int64.
    constexpr From limit = From(9223372036854775808.0);
    if (!(value > -limit && value < limit)) return static_cast<To>(-9223372036854775807LL - 1);
    return static_cast<To>(static_cast<long long>(value));
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace cgvm
