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
//   - Matrix products (the recurrent layers) call OpenBLAS's cblas_sgemm, as a user would;
//     its thread count is set by the caller (the same OpenBLAS serves cgvm and libtorch).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

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

// --- recurrent layers ------------------------------------------------------------------
// The forward pass keeps what backpropagation needs: every step's activated gates, c_t and
// tanh(c_t), and the states h_{-1} = 0, h_0 ... h_{T-1} in one buffer, so that the states
// before each step are its first T*B rows. The backward pass computes each step's gradient
// w.r.t. the pre-activations (dpre) and only the recurrent product dh_{t-1} = dpre_t Wh^T
// inside the loop; dWx = X^T dpre and dWh = Hprev^T dpre are one product each, after it.
namespace {

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// C[m, n] = A[m, k] B[k, n] (+ C when accumulate), row-major; `ta`/`tb`: A or B transposed.
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          const float* b, float* c, bool accumulate) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(ta ? m : k), b, static_cast<int>(tb ? k : n),
              accumulate ? 1.0f : 0.0f, c, static_cast<int>(n));
}

struct RnnState {
  RnnProblem p;
  std::int64_t T, B, H, G;          // steps, batch, hidden, gates * hidden
  std::vector<float> act;           // [T, B, G]: pre-activations, then activated gates
  std::vector<float> states;        // [T + 1, B, H]: h_{-1} = 0, then h_0 .. h_{T-1}
  std::vector<float> cells, tanhc;  // LSTM: [T + 1, B, H] c (c_{-1} = 0), [T, B, H] tanh(c)
  std::vector<float> dpre;          // [T, B, G]
  std::vector<float> dh, dh_rec, dc;  // [B, H]
  std::vector<float> dwx, dwh, db;
  float loss = 0;

  explicit RnnState(const RnnProblem& problem)
      : p(problem), T(p.steps), B(p.batch), H(p.hidden), G(p.gates() * p.hidden),
        act(T * B * G), states((T + 1) * B * H, 0.0f), dpre(T * B * G), dh(B * H),
        dh_rec(B * H), dc(B * H), dwx(p.input * G), dwh(H * G), db(G) {
    if (p.lstm) {
      cells.assign((T + 1) * B * H, 0.0f);
      tanhc.assign(T * B * H, 0.0f);
    }
  }

  void forward(int threads) {
    // Every step's input projection at once: act = X Wx + b.
    for (std::int64_t r = 0; r < T * B; ++r) std::copy_n(p.b.data(), G, &act[r * G]);
    gemm(false, false, T * B, G, p.input, p.x.data(), p.wx.data(), act.data(), true);
    for (std::int64_t t = 0; t < T; ++t) {
      float* a = &act[t * B * G];
      gemm(false, false, B, G, H, &states[t * B * H], p.wh.data(), a, true);
      float* h = &states[(t + 1) * B * H];
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
      for (std::int64_t r = 0; r < B; ++r) {
        float* ar = a + r * G;
        float* hr = h + r * H;
        if (!p.lstm) {
          for (std::int64_t j = 0; j < H; ++j) hr[j] = std::tanh(ar[j]);
          continue;
        }
        const float* c_prev = &cells[(t * B + r) * H];
        float* c = &cells[((t + 1) * B + r) * H];
        float* tc = &tanhc[(t * B + r) * H];
        for (std::int64_t j = 0; j < H; ++j) {
          float i = sigmoid(ar[j]), f = sigmoid(ar[H + j]);
          float g = std::tanh(ar[2 * H + j]), o = sigmoid(ar[3 * H + j]);
          ar[j] = i;  // kept for the backward pass
          ar[H + j] = f;
          ar[2 * H + j] = g;
          ar[3 * H + j] = o;
          c[j] = f * c_prev[j] + i * g;
          tc[j] = std::tanh(c[j]);
          hr[j] = o * tc[j];
        }
      }
    }
  }

  // loss = sum(hs): every h_t gets gradient 1 from the loss, plus the recurrent part.
  void backward(int threads) {
    double sum = 0;
    for (std::int64_t k = B * H; k < (T + 1) * B * H; ++k) sum += states[k];
    loss = static_cast<float>(sum);
    std::fill(dh_rec.begin(), dh_rec.end(), 0.0f);
    std::fill(dc.begin(), dc.end(), 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const float* a = &act[t * B * G];
      float* d = &dpre[t * B * G];
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
      for (std::int64_t r = 0; r < B; ++r) {
        const float* ar = a + r * G;
        float* dr = d + r * G;
        const float* dhr = &dh_rec[r * H];
        if (!p.lstm) {
          const float* hr = &states[((t + 1) * B + r) * H];
          for (std::int64_t j = 0; j < H; ++j) dr[j] = (1.0f + dhr[j]) * (1.0f - hr[j] * hr[j]);
          continue;
        }
        const float* c_prev = &cells[(t * B + r) * H];
        const float* tc = &tanhc[(t * B + r) * H];
        float* dcr = &dc[r * H];
        for (std::int64_t j = 0; j < H; ++j) {
          float i = ar[j], f = ar[H + j], g = ar[2 * H + j], o = ar[3 * H + j];
          float dh_total = 1.0f + dhr[j];
          float dct = dcr[j] + dh_total * o * (1.0f - tc[j] * tc[j]);
          dr[j] = dct * g * i * (1.0f - i);
          dr[H + j] = dct * c_prev[j] * f * (1.0f - f);
          dr[2 * H + j] = dct * i * (1.0f - g * g);
          dr[3 * H + j] = dh_total * tc[j] * o * (1.0f - o);
          dcr[j] = dct * f;  // to step t - 1
        }
      }
      if (t > 0) gemm(false, true, B, H, G, d, p.wh.data(), dh_rec.data(), false);
    }
    gemm(true, false, p.input, G, T * B, p.x.data(), dpre.data(), dwx.data(), false);
    gemm(true, false, H, G, T * B, states.data(), dpre.data(), dwh.data(), false);
    std::fill(db.begin(), db.end(), 0.0f);
    for (std::int64_t r = 0; r < T * B; ++r)
      for (std::int64_t j = 0; j < G; ++j) db[j] += dpre[r * G + j];
  }

  std::vector<float> hs() const { return {states.begin() + B * H, states.end()}; }
  std::vector<float> gradients() const {
    std::vector<float> all{loss};
    for (const std::vector<float>* v : {&dwx, &dwh, &db}) all.insert(all.end(), v->begin(), v->end());
    return all;
  }
};

}  // namespace

RnnRunner rnn(const RnnProblem& problem, bool training) {
  auto s = std::make_shared<RnnState>(problem);
  if (!training) return {[s](int threads) { s->forward(threads); }, [s] { return s->hs(); }};
  return {[s](int threads) {
            s->forward(threads);
            s->backward(threads);
          },
          [s] { return s->gradients(); }};
}

}  // namespace bench::loop
