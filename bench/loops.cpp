// The hand-written baselines: what a careful user writes in plain C++, compiled by
// bench/CMakeLists.txt with -O3 -march=native and without -ffast-math.
//
// Fairness notes (also in BENCHMARKS.md):
//   - Math comes from libm (std::tanh, std::exp). Without -ffast-math glibc declares no
//     vector variants, so these calls stay scalar: that is the practical limit of a loop
//     a user writes, not the limit of the hardware.
//   - The only reassociation allowed is on the two reductions of softmax, through
//     `#pragma omp simd reduction(...)` (what a user who knows about it would write; plain
//     -O3 keeps a float reduction sequential).
//   - Threads: `#pragma omp parallel for` with a static schedule when built with OpenMP.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "peers.hpp"

namespace bench::loop {

bool honours_threads() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

void elementwise(const float* x, const float* y, float a, float b, float* out, std::int64_t n,
                 int threads) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (std::int64_t i = 0; i < n; ++i) {
    float xi = x[i];
    float sig = 1.0f / (1.0f + std::exp(-y[i]));
    out[i] = std::tanh(a * xi + b) * sig + xi * xi;
  }
}

// Three passes per row: max, exp(x - max) stored and summed, scale by 1/sum.
void softmax_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                  int threads) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* o = out + r * cols;
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (std::int64_t j = 0; j < cols; ++j) m = std::max(m, in[j]);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < cols; ++j) {
      float e = std::exp(in[j] - m);
      o[j] = e;
      sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (std::int64_t j = 0; j < cols; ++j) o[j] *= inv;
  }
}

}  // namespace bench::loop
