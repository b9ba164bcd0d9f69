// The random draws of the device (device_kernels.hpp): uniform and normal values, and
// integers, as runtime/random.hpp's Generator draws them.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "codegen/device_kernels_parts.hpp"
#include "codegen/kernel_writer.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace device_kernel_parts {
namespace {

constexpr int kDrawWords = 8;           // out, state, next, count, key, counter, a, b (bits)
constexpr int kIntegersWords = 8;       // out, state, next, progress, count, low, range, units
constexpr int kIntegersCountWords = 5;  // state, counts, units, range, tiles
constexpr int kIntegersPlaceWords = 9;  // out, state, starts, progress, count, low, range,
                                        // units, tiles

constexpr const char* kTemplates = R"(
// The random draws (codegen/device_random_kernels.cpp)

#ifdef __CUDACC__
#define CGVM_LOG log
#define CGVM_SQRT sqrt
#define CGVM_SIN sin
#define CGVM_COS cos
#else  // the CPU emulation: the builtins, and products rounded on their own, as on a device
#define CGVM_LOG __builtin_log
#define CGVM_SQRT __builtin_sqrt
#define CGVM_SIN __builtin_sin
#define CGVM_COS __builtin_cos
inline float __fmul_rn(float a, float b) { volatile float p = a * b; return p; }
inline double __dmul_rn(double a, double b) { volatile double p = a * b; return p; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline double __dadd_rn(double a, double b) { return a + b; }
#endif

__device__ inline double cgvm_double_bits(long long word) {
  union {
    long long i;
    double d;
  } u;
  u.i = word;
  return u.d;
}

// Values per Philox block: uniform float32 4 (a word each), float64 2, normal 2 (a pair).
// The generator's [key, counter] are words of the launch, or (a state on the device) read
// from `state`, the advanced one written to `next`.
template <class T, bool normal>
__device__ void cgvm_draw(const long long* w) {
  namespace rng = cgvm::philox;
  T* out = (T*)w[0];
  const long long* state = (const long long*)w[1];
  long long* next = (long long*)w[2];
  const long long count = w[3];
  const unsigned long long key = (unsigned long long)(state ? state[0] : w[4]);
  const unsigned long long counter = (unsigned long long)(state ? state[1] : w[5]);
  const double a = cgvm_double_bits(w[6]), b = cgvm_double_bits(w[7]);
  const long long per = !normal && sizeof(T) == 4 ? 4 : 2;
  const long long blocks = (count + per - 1) / per;
  if (next && blockIdx.x == 0 && threadIdx.x == 0) {
    next[0] = (long long)key;
    next[1] = (long long)(counter + (unsigned long long)blocks);
  }
  CGVM_POINTS(blocks) {
    const rng::Words r = rng::block(key, counter + (unsigned long long)t);
    T* at = out + t * per;
    const long long left = count - t * per;
    if (normal) {
      const double u1 = 1.0 - rng::uniform_double(r.w[0], r.w[1]);  // (0, 1]
      const double u2 = rng::uniform_double(r.w[2], r.w[3]);
      const double radius = CGVM_SQRT(-2.0 * CGVM_LOG(u1)), angle = 2.0 * 3.141592653589793 * u2;
      at[0] = (T)__dadd_rn(a, __dmul_rn(b, radius * CGVM_COS(angle)));
      if (left > 1) at[1] = (T)__dadd_rn(a, __dmul_rn(b, radius * CGVM_SIN(angle)));
    } else if (sizeof(T) == 4) {
      for (int j = 0; j < 4 && j < left; ++j)
        at[j] = (T)__fadd_rn((float)a, __fmul_rn((float)b, rng::uniform_float(r.w[j])));
    } else {
      for (int j = 0; j < 2 && j < left; ++j)
        at[j] = (T)__dadd_rn(a, __dmul_rn(b, rng::uniform_double(r.w[2 * j], r.w[2 * j + 1])));
    }
  }
}

// Word i of the Philox stream from block `counter` on: block counter + i / 4, word i % 4.
__device__ unsigned long long cgvm_word(unsigned long long key, unsigned long long counter,
                                        long long i) {
  return cgvm::philox::block(key, counter + (unsigned long long)(i / 4)).w[i % 4];
}

// Integers in [low, low + range) as Generator::next_integer draws them one after another:
// Lemire's multiply-shift with rejection on a 32-bit word, or on two (first word high) for
// a range past 32 bits. Draw `unit` of the word stream takes words [unit * words, ...) and
// is accepted where the product's low part is at least `threshold` (2^bits mod range).
struct cgvm_integer_draw {
  bool ok;
  unsigned long long value;  // in [0, range)
};
struct cgvm_integer_range {
  unsigned long long key, counter, range, threshold;
  bool wide;
  long long words;
};
__device__ cgvm_integer_range cgvm_integers_of(const long long* state, unsigned long long range) {
  cgvm_integer_range r;
  r.key = (unsigned long long)state[0];
  r.counter = (unsigned long long)state[1];
  r.range = range;
  r.wide = range > 0xFFFFFFFFull;
  r.words = r.wide ? 2 : 1;
  r.threshold = r.wide ? (0ull - range) % range
                       : (unsigned long long)((0u - (unsigned)range) % (unsigned)range);
  return r;
}
__device__ cgvm_integer_draw cgvm_integer_at(const cgvm_integer_range& r, long long unit) {
  unsigned long long u = cgvm_word(r.key, r.counter, unit * r.words), low_part, value;
  if (r.wide) {
    u = u << 32 | cgvm_word(r.key, r.counter, unit * r.words + 1);
    low_part = u * r.range;
    value = __umul64hi(u, r.range);
  } else {
    const unsigned long long m = u * r.range;
    low_part = m & 0xFFFFFFFFull;
    value = m >> 32;
  }
  cgvm_integer_draw d;
  d.ok = low_part >= r.threshold;
  d.value = value;
  return d;
}

// The units this thread owns in `tile` of a stream of `units` ([*first, *last)), and how
// many of them are accepted.
__device__ long long cgvm_tile_accepted(const cgvm_integer_range& r, long long units,
                                        long long tile, long long* first, long long* last) {
  cgvm_tile_share(units, tile, first, last);
  long long accepted = 0;
  for (long long unit = *first; unit < *last; ++unit) accepted += cgvm_integer_at(r, unit).ok;
  return accepted;
}

// Many integers: the first `units` draws tried at once, in tiles of CGVM_TILE, then
// cgvm_integers walks on from there for any values still missing.
//   cgvm_integers_count  per tile, how many of its draws are accepted
//   (cgvm_exclusive_scan turns the counts into where each tile's values start)
//   cgvm_integers_place  each accepted draw's value to its place, if below count;
//                        progress = [values accepted in all, draws the count-th took]
__device__ void cgvm_integers_count(const long long* w) {
  const long long* state = (const long long*)w[0];
  long long* counts = (long long*)w[1];
  const long long units = w[2], tiles = w[4];
  const cgvm_integer_range r = cgvm_integers_of(state, (unsigned long long)w[3]);
  __shared__ long long scratch[CGVM_MAX_BLOCK];
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    long long first, last, total = 0;
    cgvm_block_scan(cgvm_tile_accepted(r, units, tile, &first, &last), scratch, &total);
    if (threadIdx.x == 0) counts[tile] = total;
  }
}

__device__ void cgvm_integers_place(const long long* w) {
  long long* out = (long long*)w[0];
  const long long* state = (const long long*)w[1];
  const long long* starts = (const long long*)w[2];
  long long* progress = (long long*)w[3];
  const long long count = w[4], units = w[7], tiles = w[8];
  const unsigned long long low = (unsigned long long)w[5];
  const cgvm_integer_range r = cgvm_integers_of(state, (unsigned long long)w[6]);
  __shared__ long long scratch[CGVM_MAX_BLOCK];
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    long long first, last, total = 0;
    const long long mine = cgvm_tile_accepted(r, units, tile, &first, &last);
    long long at = starts[tile] + cgvm_block_scan(mine, scratch, &total) - mine;
    if (tile == tiles - 1 && threadIdx.x == 0) progress[0] = starts[tile] + total;
    for (long long unit = first; unit < last && at < count; ++unit) {
      const cgvm_integer_draw d = cgvm_integer_at(r, unit);
      if (!d.ok) continue;
      out[at] = (long long)(low + d.value);
      if (at == count - 1) progress[1] = unit + 1;
      ++at;
    }
  }
}

// cgvm_integers: one block walks the stream, blockDim draws a round, a block-wide prefix sum
// of the accepted ones placing each value; from the start, or (progress) from draw `units`
// on, after the values cgvm_integers_place placed. The first thread then writes the state
// after the words the values took (the host's generator drops the rest of a block).
__device__ void cgvm_integers(const long long* w) {
  long long* out = (long long*)w[0];
  const long long* state = (const long long*)w[1];
  long long* next = (long long*)w[2];
  const long long* progress = (const long long*)w[3];
  const long long count = w[4];
  const unsigned long long low = (unsigned long long)w[5];
  const cgvm_integer_range r = cgvm_integers_of(state, (unsigned long long)w[6]);
  __shared__ long long scratch[CGVM_MAX_BLOCK];
  __shared__ long long used;  // the draws taken when the last value was placed
  if (blockIdx.x != 0) return;
  long long placed = 0, first = 0;
  if (progress) {
    placed = progress[0] < count ? progress[0] : count;
    first = w[7];
  }
  if (threadIdx.x == 0) used = progress && placed == count ? progress[1] : 0;
  for (; placed < count; first += blockDim.x) {
    const long long unit = first + threadIdx.x;
    const cgvm_integer_draw d = cgvm_integer_at(r, unit);
    long long round = 0;
    const long long at = placed + cgvm_block_scan(d.ok ? 1 : 0, scratch, &round) - 1;
    if (d.ok && at < count) {
      out[at] = (long long)(low + d.value);
      if (at == count - 1) used = unit + 1;
    }
    placed += round;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    next[0] = (long long)r.key;
    next[1] = (long long)(r.counter + (unsigned long long)((used * r.words + 3) / 4));
  }
}

)";

std::string draw_name(DeviceDraw::Kind kind, DType dtype) {
  return fmt::format("cgvm_{}_{}", kind == DeviceDraw::Kind::Normal ? "normal" : "uniform",
                     dtype_name(dtype));
}
constexpr DType kFloats[] = {DType::Float32, DType::Float64};
constexpr DeviceDraw::Kind kDraws[] = {DeviceDraw::Kind::Uniform, DeviceDraw::Kind::Normal};

}  // namespace

KernelFamily random_kernels() {
  KernelFamily family{kTemplates, {}};
  std::vector<KernelEntry>& list = family.kernels;
  for (DeviceDraw::Kind kind : kDraws)
    for (DType dtype : kFloats)
      list.push_back({draw_name(kind, dtype), kDrawWords,
                      fmt::format("cgvm_draw<{}, {}>", cpp_type(dtype),
                                  kind == DeviceDraw::Kind::Normal)});
  list.push_back({"cgvm_integers", kIntegersWords, "cgvm_integers"});
  list.push_back({"cgvm_integers_count", kIntegersCountWords, "cgvm_integers_count"});
  list.push_back({"cgvm_integers_place", kIntegersPlaceWords, "cgvm_integers_place"});
  return family;
}

}  // namespace device_kernel_parts

using namespace device_kernel_parts;

DeviceKernelLaunch draw_launch(const Array& out, const DeviceDraw& draw, const Array* state,
                               const Array* next) {
  CGVM_ASSERT(!state == !next, "a draw from a device state writes the next one");
  for (const Array* s : {state, next})
    CGVM_ASSERT(!s || (s->dtype() == DType::Int64 && s->shape() == Shape{2} && s->is_contiguous()),
                "a generator state on the device is int64 [2]: [key, counter]");
  CGVM_ASSERT(draw.kind != DeviceDraw::Kind::Integers, "integers are drawn by integers_launches");
  CGVM_ASSERT(is_float(out.dtype()) && out.is_contiguous(), "a draw fills a contiguous float array");
  // As Array::uniform computes them: a float32 draw's bounds in float32.
  double a = draw.a, b = draw.b;
  if (draw.kind == DeviceDraw::Kind::Uniform) {
    b = draw.b - draw.a;
    if (out.dtype() == DType::Float32) a = static_cast<float>(a), b = static_cast<float>(b);
  }
  const auto blocks = static_cast<long long>(DeviceDraw::blocks(draw.kind, out.dtype(), out.size()));
  return {.kernel = draw_name(draw.kind, out.dtype()),
          .words = {address(out), state ? address(*state) : 0, next ? address(*next) : 0,
                    out.size(), static_cast<long long>(draw.key),
                    static_cast<long long>(draw.counter), std::bit_cast<long long>(a),
                    std::bit_cast<long long>(b)},
          .addresses = state ? 3 : 1,
          // A draw of nothing from a device state still writes the next one.
          .total = state ? std::max(blocks, 1LL) : blocks};
}

std::int64_t integers_tried(const DeviceDraw& draw, std::int64_t count) {
  CGVM_ASSERT(draw.kind == DeviceDraw::Kind::Integers && draw.range > 0, "a draw of integers");
  if (count <= integers_walked) return 0;
  // The chance that a draw is rejected: (2^bits mod range) / 2^bits.
  const bool wide = draw.range > 0xFFFFFFFFull;
  const double rejected =
      wide ? static_cast<double>((0 - draw.range) % draw.range) / 0x1p64
           : static_cast<double>((0x100000000ull - draw.range) % draw.range) / 0x1p32;
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(count) / (1 - rejected)));
}

std::size_t integers_scratch_bytes(const DeviceDraw& draw, std::int64_t count) {
  const std::int64_t tried = integers_tried(draw, count);
  if (tried == 0) return 0;
  return static_cast<std::size_t>(tiles_of(tried) + 2) * sizeof(long long);  // counts, progress
}

std::vector<DeviceKernelLaunch> integers_launches(const Array& out, const DeviceDraw& draw,
                                                  const Array& state, const Array& next,
                                                  long long scratch) {
  CGVM_ASSERT(out.dtype() == DType::Int64 && out.is_contiguous(),
              "integers are drawn into a contiguous int64 array");
  for (const Array* s : {&state, &next})
    CGVM_ASSERT(s->dtype() == DType::Int64 && s->shape() == Shape{2} && s->is_contiguous(),
                "a generator state on the device is int64 [2]: [key, counter]");
  const long long count = out.size(), tried = integers_tried(draw, count);
  const auto range = static_cast<long long>(draw.range);
  std::vector<DeviceKernelLaunch> launches;
  long long progress = 0;
  if (tried > 0) {
    // Scratch: the tiles' counts (then starts), and the progress words after them.
    const long long tiles = tiles_of(tried), tile_threads = tiles * kMaxBlock;
    progress = scratch + tiles * static_cast<long long>(sizeof(long long));
    launches.push_back({.kernel = "cgvm_integers_count",
                        .words = {address(state), scratch, tried, range, tiles},
                        .addresses = 2,
                        .total = tile_threads});
    launches.push_back({.kernel = "cgvm_exclusive_scan",
                        .words = {scratch, tiles},
                        .addresses = 1,
                        .total = 1});  // one block
    launches.push_back({.kernel = "cgvm_integers_place",
                        .words = {address(out), address(state), scratch, progress, count,
                                  draw.low, range, tried, tiles},
                        .addresses = 4,
                        .total = tile_threads});
  }
  launches.push_back({.kernel = "cgvm_integers",
                      .words = {address(out), address(state), address(next), progress, count,
                                draw.low, range, tried},
                      .addresses = progress ? 4 : 3,
                      .total = 1});  // one block
  return launches;
}

}  // namespace cgvm
