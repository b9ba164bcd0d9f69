#include "runtime/random.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "runtime/error.hpp"
#include "runtime/philox.hpp"

namespace cgvm {

namespace rng = cgvm::philox;  // apart from Generator::philox

std::array<std::uint32_t, 4> Generator::philox(std::array<std::uint32_t, 4> counter,
                                               std::array<std::uint32_t, 2> key) {
  const rng::Words out = rng::bijection(
      rng::Words{{counter[0], counter[1], counter[2], counter[3]}}, key[0], key[1]);
  return {out.w[0], out.w[1], out.w[2], out.w[3]};
}

std::array<std::uint32_t, 4> Generator::next_block() {
  const rng::Words out = rng::block(key_, counter_);
  ++counter_;
  return {out.w[0], out.w[1], out.w[2], out.w[3]};
}

std::uint32_t Generator::next_u32() {
  if (buffered_ == 0) {
    buffer_ = next_block();
    buffered_ = 4;
  }
  return buffer_[4 - buffered_--];
}

float Generator::next_float() { return rng::uniform_float(next_u32()); }

double Generator::next_double() {
  const std::uint32_t high = next_u32();
  return rng::uniform_double(high, next_u32());
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
