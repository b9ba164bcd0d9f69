#pragma once
// The random number generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC'11), a counter-based generator. Its whole state is a 64-bit key (the
// seed) and a 128-bit counter, so the same seed gives the same numbers on every machine and
// every backend, a stream can be split by key, and any position can be jumped to.
//
// Conversions (fixed, part of the reproducibility contract):
//   - uniform float32: the top 24 bits of one 32-bit word, (u >> 8) * 2^-24, in [0, 1);
//   - uniform float64: 53 bits from two words, in [0, 1);
//   - normal: Box-Muller on two uniforms (u1 mapped to (0, 1] so log never sees 0);
//   - integers in [low, high): Lemire's unbiased multiply-shift rejection on 32-bit words
//     (64-bit range: two words).
#include <array>
#include <cstdint>

namespace cgvm {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0, std::uint64_t counter = 0)
      : key_(seed), counter_(counter) {}

  // The next block of four 32-bit words; advances the counter by one.
  std::array<std::uint32_t, 4> next_block();
  std::uint32_t next_u32();  // consumes words from blocks in order
  double next_double();      // uniform [0, 1), 53 bits
  float next_float();        // uniform [0, 1), 24 bits
  double next_normal();      // standard normal (Box-Muller, caches the second value)
  std::int64_t next_integer(std::int64_t low, std::int64_t high);  // [low, high)

  std::uint64_t seed() const { return key_; }
  std::uint64_t counter() const { return counter_; }
  // Jumps to a block position (drops buffered words).
  void set_counter(std::uint64_t counter);

  // The raw Philox4x32-10 bijection, exposed for tests against published vectors.
  static std::array<std::uint32_t, 4> philox(std::array<std::uint32_t, 4> counter,
                                             std::array<std::uint32_t, 2> key);

 private:
  std::uint64_t key_;
  std::uint64_t counter_;
  std::array<std::uint32_t, 4> buffer_{};
  int buffered_ = 0;  // words left in buffer_
  double spare_normal_ = 0;
  bool has_spare_normal_ = false;
};

}  // namespace cgvm
