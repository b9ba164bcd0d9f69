#include <cmath>
#include <set>

#include "runtime/array.hpp"
#include "runtime/random.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
using Words = std::array<std::uint32_t, 4>;
}

TEST_CASE("random: Philox4x32-10 known-answer vectors (Random123 kat_vectors)") {
  CHECK(Generator::philox({0, 0, 0, 0}, {0, 0}) ==
        Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(Generator::philox({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                          {0xffffffff, 0xffffffff}) ==
        Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(Generator::philox({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                          {0xa4093822, 0x299f31d0}) ==
        Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("random: the generator maps seed and counter onto key and counter words") {
  const std::uint64_t seed = 0x299f31d0a4093822ull;
  Generator g(seed, 0x85a308d3243f6a88ull);
  CHECK(g.next_block() ==
        Generator::philox({0x243f6a88, 0x85a308d3, 0, 0}, {0xa4093822, 0x299f31d0}));
  CHECK(g.counter() == 0x85a308d3243f6a89ull);
  CHECK(g.seed() == seed);

  Generator zero;
  const Words first = Generator::philox({0, 0, 0, 0}, {0, 0});
  for (std::uint32_t w : first) CHECK(zero.next_u32() == w);
  CHECK(zero.next_u32() == Generator::philox({1, 0, 0, 0}, {0, 0})[0]);
  // Jumping back replays the stream.
  zero.set_counter(0);
  CHECK(zero.next_u32() == first[0]);
}

TEST_CASE("random: conversions follow the documented bit recipes") {
  Generator g(7);
  Generator raw(7);
  const Words w = raw.next_block();
  CHECK(g.next_float() == static_cast<float>(w[0] >> 8) * 0x1p-24f);
  const std::uint64_t bits = ((static_cast<std::uint64_t>(w[1]) << 32) | w[2]) >> 11;
  CHECK(g.next_double() == static_cast<double>(bits) * 0x1p-53);

  Generator h(123);
  for (int i = 0; i < 10000; ++i) {
    const double d = h.next_double();
    const float f = h.next_float();
    REQUIRE(d >= 0.0);
    REQUIRE(d < 1.0);
    REQUIRE(f >= 0.0f);
    REQUIRE(f < 1.0f);
  }
}

TEST_CASE("random: next_integer is in range and covers it") {
  Generator g(5);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t v = g.next_integer(-3, 4);
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    seen.insert(v);
  }
  CHECK(seen.size() == 7);
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  bool negative = false, positive = false;
  for (int i = 0; i < 200; ++i) {
    const std::int64_t v = g.next_integer(lo, hi);  // a 64-bit range: two words per draw
    REQUIRE(v < hi);
    negative |= v < 0;
    positive |= v > 0;
  }
  CHECK(negative);
  CHECK(positive);
  CHECK(g.next_integer(10, 11) == 10);
  const std::int64_t big = g.next_integer(0, std::int64_t(1) << 32);
  CHECK(big >= 0);
  CHECK(big < (std::int64_t(1) << 32));
  CHECK_ERROR(g.next_integer(3, 3), {"[3, 3)"});
}

TEST_CASE("random: same seed gives the same arrays, different seeds differ") {
  Array a = Array::uniform(42, {3, 4});
  Array b = Array::uniform(42, {3, 4});
  Array c = Array::uniform(43, {3, 4});
  CHECK(array_equal(a, b));
  CHECK(!array_equal(a, c));
  CHECK(array_equal(Array::normal(9, {100}, 0, 1, DType::Float64),
                    Array::normal(9, {100}, 0, 1, DType::Float64)));
  // The float32 uniform array is exactly the documented conversion of the stream.
  Generator g(42);
  std::vector<float> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(g.next_float());
  CHECK(a.to_vector<float>() == expected);

  Array u = Array::uniform(1, {1000}, -2, 3, DType::Float64);
  for (double v : u.to_double_vector()) {
    REQUIRE(v >= -2);
    REQUIRE(v < 3);
  }
  CHECK_ERROR(Array::uniform(1, {2}, 0, 1, DType::Int32), {"int32", "float"});
  CHECK_ERROR(Array::normal(1, {2}, 0, 1, DType::Bool), {"bool", "float"});
}

TEST_CASE("random: normal samples have the requested mean and standard deviation") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Array x = Array::normal(2024, {100000}, 3.0, 2.0, dtype);
    CHECK(x.dtype() == dtype);
    double sum = 0, sum_sq = 0;
    for (double v : x.to_double_vector()) {
      sum += v;
      sum_sq += v * v;
    }
    const double mean = sum / 1e5;
    const double stddev = std::sqrt(sum_sq / 1e5 - mean * mean);
    // Standard error of the mean is 2 / sqrt(1e5) ~ 0.0063; allow about 5 of them.
    CHECK(mean == doctest::Approx(3.0).epsilon(0.011));
    CHECK(stddev == doctest::Approx(2.0).epsilon(0.02));
  }
  Array u = Array::uniform(77, {100000}, 0, 1, DType::Float64);
  double sum = 0;
  for (double v : u.to_double_vector()) sum += v;
  CHECK(sum / 1e5 == doctest::Approx(0.5).epsilon(0.01));
}
