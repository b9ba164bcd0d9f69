#pragma once
// The one element conversion rule every runtime copy uses (astype, assign, fill, the
// npy reader), so that a value converts the same way everywhere:
//   - to bool: value != 0 (NaN is true, as in numpy);
//   - float to integer: truncate toward zero through int64, then wrap to the target width
//     (-1.0 -> uint8 255, like numpy on x86); NaN and values outside int64 give INT64_MIN
//     wrapped, which is what x86 conversion instructions produce, instead of C++'s UB;
//   - everything else: the C++ conversion (integer narrowing wraps, since C++20 defined).
#include <cstdint>
#include <limits>
#include <type_traits>

namespace cgvm {

template <class To, class From>
constexpr To cast_value(From value) {
  if constexpr (std::is_same_v<To, bool>) {
    return value != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // 2^63 is exactly representable; anything at or beyond it does not fit int64.
    constexpr From limit = From(9223372036854775808.0);
    if (!(value > -limit && value < limit))
      return static_cast<To>(std::numeric_limits<std::int64_t>::min());
    return static_cast<To>(static_cast<std::int64_t>(value));
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace cgvm
