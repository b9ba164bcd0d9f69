#include "runtime/random.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "runtime/error.hpp"

namespace cgvm {

namespace {

// Constants from Random123 (philox.h): round multipliers and the Weyl key increments.
constexpr std::uint32_t multiplier_0 = 0xD2511F53u;
constexpr std::uint32_t multiplier_1 = 0xCD9E8D57u;
constexpr std::uint32_t weyl_0 = 0x9E3779B9u;
constexpr std::uint32_t weyl_1 = 0xBB67AE85u;
constexpr int rounds = 10;

inline void mul_hi_lo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}

}  // namespace

std::array<std::uint32_t, 4> Generator::philox(std::array<std::uint32_t, 4> counter,
                                               std::array<std::uint32_t, 2> key) {
  for (int r = 0; r < rounds; ++r) {
    // The key is bumped between rounds, not before the first one.
    if (r > 0) {
      key[0] += weyl_0;
      key[1] += weyl_1;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(multiplier_0, counter[0], hi0, lo0);
    mul_hi_lo(multiplier_1, counter[2], hi1, lo1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
  }
  return counter;
}

std::array<std::uint32_t, 4> Generator::next_block() {
  const std::array<std::uint32_t, 4> counter = {static_cast<std::uint32_t>(counter_),
                                                static_cast<std::uint32_t>(counter_ >> 32), 0, 0};
  const std::array<std::uint32_t, 2> key = {static_cast<std::uint32_t>(key_),
                                            static_cast<std::uint32_t>(key_ >> 32)};
  ++counter_;
  return philox(counter, key);
}

std::uint32_t Generator::next_u32() {
  if (buffered_ == 0) {
    buffer_ = next_block();
    buffered_ = 4;
  }
  return buffer_[4 - buffered_--];
}

float Generator::next_float() {
  return static_cast<float>(next_u32() >> 8) * 0x1p-24f;
}

double Generator::next_double() {
  // The first word supplies the high bits.
  const std::uint64_t hi = next_u32();
  const std::uint64_t bits = (hi << 32 | next_u32()) >> 11;
  return static_cast<double>(bits) * 0x1p-53;
}

double Generator::next_normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double u1 = 1.0 - next_double();  // (0, 1]: log never sees 0
  const double u2 = next_double();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::int64_t Generator::next_integer(std::int64_t low, std::int64_t high) {
  if (high <= low)
    throw Error(fmt::format("Generator::next_integer: empty range [{}, {})", low, high));
  const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  std::uint64_t draw;
  if (range <= 0xFFFFFFFFu) {
    // Lemire, "Fast random integer generation in an interval" (2019), 32-bit form.
    const std::uint32_t s = static_cast<std::uint32_t>(range);
    std::uint64_t m = static_cast<std::uint64_t>(next_u32()) * s;
    if (static_cast<std::uint32_t>(m) < s) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(-s) % s;
      while (static_cast<std::uint32_t>(m) < threshold)
        m = static_cast<std::uint64_t>(next_u32()) * s;
    }
    draw = m >> 32;
  } else {
    // The same method on 64-bit draws made of two words (first word high).
    auto next_u64 = [&] {
      const std::uint64_t hi = next_u32();
      return hi << 32 | next_u32();
    };
    unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * range;
    if (static_cast<std::uint64_t>(m) < range) {
      const std::uint64_t threshold = (0 - range) % range;
      while (static_cast<std::uint64_t>(m) < threshold)
        m = static_cast<unsigned __int128>(next_u64()) * range;
    }
    draw = static_cast<std::uint64_t>(m >> 64);
  }
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + draw);
}

void Generator::set_counter(std::uint64_t counter) {
  counter_ = counter;
  buffered_ = 0;
  has_spare_normal_ = false;
}

}  // namespace cgvm
