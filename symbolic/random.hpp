#pragma once
// Random streams, as Theano's RandomStreams: each draw gets its own generator state, held in
// a shared variable owned by the library. A compiled function that uses a draw advances that
// state on every call (an automatic update), so repeated calls give fresh numbers, and the
// same seed gives the same sequence on every machine (runtime/random.hpp: Philox4x32-10).
#include <cstdint>
#include <source_location>
#include <vector>

#include "symbolic/args.hpp"
#include "symbolic/shared.hpp"

namespace cgvm {

class RandomStreams {
 public:
  explicit RandomStreams(std::uint64_t seed = 0);

  // Uniform in [low, high).
  Var uniform(const Dims& shape, double low = 0, double high = 1, DType dtype = default_float,
              std::source_location loc = std::source_location::current());
  Var normal(const Dims& shape, double mean = 0, double stddev = 1,
             DType dtype = default_float,
             std::source_location loc = std::source_location::current());
  // Integers in [low, high).
  Var integers(const Dims& shape, std::int64_t low, std::int64_t high,
               DType dtype = DType::Int64,
               std::source_location loc = std::source_location::current());
  // 1 with probability p, else 0 (for dropout masks).
  Var bernoulli(const Dims& shape, double p, DType dtype = default_float,
                std::source_location loc = std::source_location::current());

  // Resets every state drawn from this stream as if it had been created with `seed`.
  void seed(std::uint64_t seed);
  // The shared state variables of the draws made so far.
  const std::vector<SharedVar>& states() const { return states_; }

 private:
  SharedVar new_state();
  std::uint64_t seed_;
  std::vector<SharedVar> states_;
};

// The generator state stored in a random state variable: an int64 vector [key, counter].
Array random_state(std::uint64_t key, std::uint64_t counter = 0);

}  // namespace cgvm
