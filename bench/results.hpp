#pragma once
// Checking that contestants agree before timing them: a cgvm function's outputs as one
// float vector (in output order, each flattened row-major), comparable with a peer's
// result().
#include <cgvm.hpp>

#include <vector>

namespace bench {

inline std::vector<float> flatten(const cgvm::Outputs& outs) {
  std::vector<float> all;
  for (const cgvm::Array& a : outs) {
    std::vector<float> part = a.to_vector<float>();
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

}  // namespace bench
