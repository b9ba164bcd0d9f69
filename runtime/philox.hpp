#pragma once
// Philox4x32-10 and the conversions of its words to uniform floats: the part of the random
// number generator (runtime/random.hpp) that a device repeats to draw the same numbers.
//
// Header-free on purpose: the device kernels embed this file verbatim (codegen/prelude.cpp,
// philox_source()), so a GPU's uniform draws equal the host's bit for bit. Hence unsigned
// int / unsigned long long rather than <cstdint> (both are 32 and 64 bits wherever cgvm
// runs, host and device).

namespace cgvm::philox {

struct Words {
  unsigned int w[4];
};

// The bijection: counter -> four words under a 64-bit key (Salmon et al., SC'11; constants
// from Random123's philox.h).
constexpr Words bijection(Words counter, unsigned int key0, unsigned int key1) {
  constexpr unsigned int multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
  constexpr unsigned int weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key is bumped between rounds, not before the first one
      key0 += weyl0;
      key1 += weyl1;
    }
    const unsigned long long p0 = (unsigned long long)multiplier0 * counter.w[0];
    const unsigned long long p1 = (unsigned long long)multiplier1 * counter.w[2];
    counter = Words{{(unsigned int)(p1 >> 32) ^ counter.w[1] ^ key0, (unsigned int)p1,
                     (unsigned int)(p0 >> 32) ^ counter.w[3] ^ key1, (unsigned int)p0}};
  }
  return counter;
}

// Block `block` of the stream `key`: the counter is (block's low word, high word, 0, 0).
constexpr Words block(unsigned long long key, unsigned long long block) {
  return bijection(Words{{(unsigned int)block, (unsigned int)(block >> 32), 0u, 0u}},
                   (unsigned int)key, (unsigned int)(key >> 32));
}

// Uniform in [0, 1) from the top 24 bits of one word.
constexpr float uniform_float(unsigned int word) { return (float)(word >> 8) * 0x1p-24f; }

// Uniform in [0, 1) from 53 bits of two words, the first supplying the high bits.
constexpr double uniform_double(unsigned int high, unsigned int low) {
  return (double)((((unsigned long long)high << 32) | low) >> 11) * 0x1p-53;
}

}  // namespace cgvm::philox
