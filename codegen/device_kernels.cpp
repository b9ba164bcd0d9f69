#include "codegen/device_kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "codegen/kernel_writer.hpp"
#include "codegen/prelude.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace {

constexpr int kGatherWords = 9;   // out, x, rows, fault, n, count, inner, total, site
constexpr int kScatterWords = 9;  // out, y, packed rows, n, slots, count, inner, total, set
constexpr int kLinksWords = 6;    // rows, links, fault, n, count, site
constexpr int kSortKeysWords = 7;     // rows, keys, positions, fault, n, count, site
constexpr int kSortCountWords = 5;    // keys, counts, count, shift, tiles
constexpr int kScanWords = 2;         // counts, entries
constexpr int kSortPlaceWords = 8;    // keys, positions, starts, keys out, positions out,
                                      // count, shift, tiles
constexpr int kSortedLinksWords = 5;  // keys, positions, links, n, count
// The radix sort's bits a pass and pairs a tile, and the most threads a block has
// (DeviceKernelLaunch::block): the unit's CGVM_DIGITS, CGVM_TILE and CGVM_MAX_BLOCK.
constexpr int kDigitBits = 4, kDigits = 1 << kDigitBits;
constexpr long long kTile = 1024, kMaxBlock = 256;
constexpr long long tiles_of(long long points) { return (points + kTile - 1) / kTile; }
constexpr int kChainsWords = 9;   // out, y, rows, links, n, count, inner, total, set
constexpr int kArgWords = 5;      // out, x, outer, inner, max
constexpr int kDrawWords = 8;     // out, state, next, count, key, counter, a, b (bits)
constexpr int kIntegersWords = 8;       // out, state, next, progress, count, low, range, units
constexpr int kIntegersCountWords = 5;  // state, counts, units, range, tiles
constexpr int kIntegersPlaceWords = 9;  // out, state, starts, progress, count, low, range,
                                        // units, tiles
constexpr int kStepWords = 4;     // table, counter, copies, longest

constexpr const char* kTemplates = R"(
// The device's own kernels (codegen/device_kernels.hpp)
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

#define CGVM_POINTS(total) \
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < (total); \
       t += (long long)gridDim.x * blockDim.x)

// The row `index` names on an axis of n, unchecked.
__device__ inline long long cgvm_row_of(long long index, long long n) {
  return index < 0 ? index + n : index;
}

// The row `index` (at `position` among the rows) names on an axis of n (negative: from the
// end), or -1 where it is out of range; the first such index a device meets is noted in
// `fault` (noted, site, index, n, position).
__device__ long long cgvm_row(long long index, long long n, long long* fault, long long site,
                              long long position) {
  const long long row = cgvm_row_of(index, n);
  if (row >= 0 && row < n) return row;
  if (atomicCAS((unsigned long long*)fault, 0ull, 1ull) == 0ull) {
    fault[1] = site;
    fault[2] = index;
    fault[3] = n;
    fault[4] = position;
  }
  return -1;
}

template <class T>
__device__ void cgvm_gather(const long long* w) {
  T* out = (T*)w[0];
  const T* x = (const T*)w[1];
  const long long* rows = (const long long*)w[2];
  long long* fault = (long long*)w[3];
  const long long n = w[4], count = w[5], inner = w[6], site = w[8];
  CGVM_POINTS(w[7]) {
    const long long i = t % inner, r = t / inner, j = r % count, o = r / count;
    const long long row = cgvm_row(rows[j], n, fault, site, j);
    out[t] = row < 0 ? (T)0 : x[(o * n + row) * inner + i];
  }
}

template <class T>
__device__ T cgvm_scatter_add(T a, T b) { return (T)(a + b); }
__device__ inline bool cgvm_scatter_add(bool a, bool b) { return a || b; }

template <class T>
__device__ void cgvm_scatter(const long long* w) {
  T* out = (T*)w[0];
  const T* y = (const T*)w[1];
  const long long* targets = (const long long*)w[2];
  const long long n = w[3], slots = w[4], count = w[5], inner = w[6];
  const bool set = w[8] != 0;
  const long long* starts = targets + slots;
  const long long* order = starts + slots + 1;
  CGVM_POINTS(w[7]) {
    const long long i = t % inner, r = t / inner, u = r % slots, o = r / slots;
    T* slot = out + (o * n + targets[u]) * inner + i;
    const T* rows = y + o * count * inner + i;
    const long long first = starts[u], last = starts[u + 1];
    if (set) {
      *slot = rows[order[last - 1] * inner];
      continue;
    }
    T acc = *slot;
    for (long long k = first; k < last; ++k) acc = cgvm_scatter_add(acc, rows[order[k] * inner]);
    *slot = acc;
  }
}

// Device rows grouped on the device, in two kernels. cgvm_scatter_links: per row j,
// links[j] = the next row naming the same slot (-1: none) and links[count + j] = 1 where j
// is the first to name it; a row out of range (noted) is in no chain.
__device__ void cgvm_scatter_links(const long long* w) {
  const long long* rows = (const long long*)w[0];
  long long* links = (long long*)w[1];
  long long* fault = (long long*)w[2];
  const long long n = w[3], count = w[4], site = w[5];
  CGVM_POINTS(count) {
    const long long row = cgvm_row(rows[t], n, fault, site, t);
    long long next = -1, first = row >= 0;
    if (row >= 0) {
      for (long long k = 0; k < t && first; ++k) first = cgvm_row_of(rows[k], n) != row;
      for (long long k = t + 1; k < count && next < 0; ++k)
        if (cgvm_row_of(rows[k], n) == row) next = k;
    }
    links[t] = next;
    links[count + t] = first;
  }
}

// The sum of v over the block's threads up to this one (inclusive), and in *total over all
// of them, through `scratch` (a shared array of blockDim entries). Every thread calls it.
__device__ long long cgvm_block_scan(long long v, long long* scratch, long long* total) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int offset = 1; offset < (int)blockDim.x; offset *= 2) {
    const long long add = (int)threadIdx.x >= offset ? scratch[threadIdx.x - offset] : 0;
    __syncthreads();
    scratch[threadIdx.x] += add;
    __syncthreads();
  }
  const long long sum = scratch[threadIdx.x];
  *total = scratch[blockDim.x - 1];
  __syncthreads();  // scratch is free again
  return sum;
}

// Past scatter_compare_rows rows the links come from the rows sorted by slot: a stable
// least-significant-digit radix sort of (slot, position) pairs, log2(CGVM_DIGITS) bits a
// pass, in tiles of CGVM_TILE pairs, then the links read off neighbours.
//   cgvm_sort_keys     pairs (slot, j) for each row j; a row out of range (noted) sorts last
//                      with slot n, in no chain
//   cgvm_sort_count    per tile, how many of its keys have each digit: counts[digit, tile]
//   cgvm_exclusive_scan  one block: counts turned into where each (digit, tile) group starts
//                      (an exclusive prefix sum, digit-major)
//   cgvm_sort_place    per tile, each pair to its group's start plus the pairs of the tile
//                      before it with its digit: the order of equal digits is kept
//   cgvm_sorted_links  links[j] = the row after j in the sorted order where it has j's slot
__device__ void cgvm_sort_keys(const long long* w) {
  const long long* rows = (const long long*)w[0];
  long long* keys = (long long*)w[1];
  long long* positions = (long long*)w[2];
  long long* fault = (long long*)w[3];
  const long long n = w[4], count = w[5], site = w[6];
  CGVM_POINTS(count) {
    const long long row = cgvm_row(rows[t], n, fault, site, t);
    keys[t] = row < 0 ? n : row;
    positions[t] = t;
  }
}

// The points [*first, *last) of `tile` (of CGVM_TILE points, out of `total`) that this
// thread owns: consecutive, the block's threads in order.
__device__ void cgvm_tile_share(long long total, long long tile, long long* first,
                                long long* last) {
  const long long per = (CGVM_TILE + blockDim.x - 1) / blockDim.x;
  const long long end = (tile + 1) * CGVM_TILE < total ? (tile + 1) * CGVM_TILE : total;
  *first = tile * CGVM_TILE + threadIdx.x * per;
  *last = *first + per < end ? *first + per : end;
}

// The keys this thread owns in `tile`, and how many of them have each digit: in `digits`
// and, for the block, in `owned` ([digit, thread], shared), ready once it returns.
__device__ void cgvm_tile_digits(const long long* keys, long long count, long long tile,
                                 int shift, long long* first, long long* last, int* digits,
                                 int* owned) {
  cgvm_tile_share(count, tile, first, last);
  for (int d = 0; d < CGVM_DIGITS; ++d) digits[d] = 0;
  for (long long k = *first; k < *last; ++k) ++digits[(keys[k] >> shift) & (CGVM_DIGITS - 1)];
  for (int d = 0; d < CGVM_DIGITS; ++d) owned[d * blockDim.x + threadIdx.x] = digits[d];
  __syncthreads();
}

__device__ void cgvm_sort_count(const long long* w) {
  const long long* keys = (const long long*)w[0];
  long long* counts = (long long*)w[1];
  const long long count = w[2], tiles = w[4];
  const int shift = (int)w[3];
  __shared__ int owned[CGVM_DIGITS * CGVM_MAX_BLOCK];  // [digit, thread]
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    long long first, last;
    int digits[CGVM_DIGITS];
    cgvm_tile_digits(keys, count, tile, shift, &first, &last, digits, owned);
    if (threadIdx.x < CGVM_DIGITS) {
      long long sum = 0;
      for (unsigned k = 0; k < blockDim.x; ++k) sum += owned[threadIdx.x * blockDim.x + k];
      counts[threadIdx.x * tiles + tile] = sum;
    }
    __syncthreads();
  }
}

// counts[k] = the sum of counts[0 .. k), in one block.
__device__ void cgvm_exclusive_scan(const long long* w) {
  long long* counts = (long long*)w[0];
  const long long entries = w[1];
  __shared__ long long scratch[CGVM_MAX_BLOCK];
  if (blockIdx.x != 0) return;
  const long long per = (entries + blockDim.x - 1) / blockDim.x;
  const long long first = threadIdx.x * per < entries ? threadIdx.x * per : entries;
  const long long last = first + per < entries ? first + per : entries;
  long long sum = 0, total = 0;
  for (long long k = first; k < last; ++k) sum += counts[k];
  long long at = cgvm_block_scan(sum, scratch, &total) - sum;
  for (long long k = first; k < last; ++k) {
    const long long c = counts[k];
    counts[k] = at;
    at += c;
  }
}

__device__ void cgvm_sort_place(const long long* w) {
  const long long* keys = (const long long*)w[0];
  const long long* positions = (const long long*)w[1];
  const long long* starts = (const long long*)w[2];
  long long* keys_out = (long long*)w[3];
  long long* positions_out = (long long*)w[4];
  const long long count = w[5], tiles = w[7];
  const int shift = (int)w[6];
  __shared__ int before[CGVM_DIGITS * CGVM_MAX_BLOCK];  // [digit, thread]
  __shared__ long long scratch[CGVM_MAX_BLOCK];
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    long long first, last;
    int digits[CGVM_DIGITS];
    cgvm_tile_digits(keys, count, tile, shift, &first, &last, digits, before);
    // An exclusive prefix sum over `before`, digit-major: each thread sums CGVM_DIGITS
    // entries in a row, the block adds up the threads' sums.
    int* mine = before + threadIdx.x * CGVM_DIGITS;
    long long sum = 0, total = 0;
    for (int e = 0; e < CGVM_DIGITS; ++e) sum += mine[e];
    long long at = cgvm_block_scan(sum, scratch, &total) - sum;
    for (int e = 0; e < CGVM_DIGITS; ++e) {
      const int c = mine[e];
      mine[e] = (int)at;
      at += c;
    }
    __syncthreads();
    // before[d, thread] - before[d, 0]: the tile's pairs with digit d owned by the threads
    // before this one.
    for (int d = 0; d < CGVM_DIGITS; ++d) digits[d] = 0;
    for (long long k = first; k < last; ++k) {
      const int d = (int)((keys[k] >> shift) & (CGVM_DIGITS - 1));
      const long long to = starts[d * tiles + tile] + before[d * blockDim.x + threadIdx.x] -
                           before[d * blockDim.x] + digits[d]++;
      keys_out[to] = keys[k];
      positions_out[to] = positions[k];
    }
    __syncthreads();
  }
}

__device__ void cgvm_sorted_links(const long long* w) {
  const long long* keys = (const long long*)w[0];
  const long long* positions = (const long long*)w[1];
  long long* links = (long long*)w[2];
  const long long n = w[3], count = w[4];
  CGVM_POINTS(count) {
    const long long key = keys[t], j = positions[t];
    const bool in_range = key < n;
    links[j] = in_range && t + 1 < count && keys[t + 1] == key ? positions[t + 1] : -1;
    links[count + j] = in_range && (t == 0 || keys[t - 1] != key);
  }
}

// cgvm_scatter_chains: the thread of each first row's element follows its chain, adding the
// rows in index order (or keeping the last, "set"), as cgvm_scatter does for host rows.
template <class T>
__device__ void cgvm_scatter_chains(const long long* w) {
  T* out = (T*)w[0];
  const T* y = (const T*)w[1];
  const long long* rows = (const long long*)w[2];
  const long long* links = (const long long*)w[3];
  const long long n = w[4], count = w[5], inner = w[6];
  const bool set = w[8] != 0;
  CGVM_POINTS(w[7]) {
    const long long i = t % inner, r = t / inner, j = r % count, o = r / count;
    if (!links[count + j]) continue;
    T* slot = out + (o * n + cgvm_row_of(rows[j], n)) * inner + i;
    const T* ys = y + o * count * inner + i;
    if (set) {
      long long last = j;
      while (links[last] >= 0) last = links[last];
      *slot = ys[last * inner];
      continue;
    }
    T acc = *slot;
    for (long long k = j; k >= 0; k = links[k]) acc = cgvm_scatter_add(acc, ys[k * inner]);
    *slot = acc;
  }
}

// Whether (v, i) comes before (best, at) in an argmax (max) or argmin: NaN first, then the
// extreme value, then the smaller position; the host's running rule, made associative.
template <class T>
__device__ bool cgvm_arg_before(T v, long long i, T best, long long at, bool max) {
  const bool v_nan = v != v, best_nan = best != best;
  if (v_nan || best_nan) return v_nan && (!best_nan || i < at);
  if (v != best) return max ? v > best : v < best;
  return i < at;
}

// A warp per row: each lane runs over its share of the row, then the lanes combine.
// Values travel through shuffles as W (the shuffle takes 4- and 8-byte types).
template <class T, class W>
__device__ void cgvm_arg_reduce(const long long* w) {
  long long* out = (long long*)w[0];
  const T* x = (const T*)w[1];
  const long long outer = w[2], inner = w[3];
  const bool max = w[4] != 0;
  const int lane = threadIdx.x % 32;
  const long long warps = (long long)gridDim.x * blockDim.x / 32;
  for (long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32; row < outer;
       row += warps) {
    const T* values = x + row * inner;
    W best = lane < inner ? (W)values[lane] : (W)values[0];
    long long at = lane < inner ? lane : inner;  // past the end: loses every comparison
    for (long long i = lane + 32; i < inner; i += 32)
      if (cgvm_arg_before((W)values[i], i, best, at, max)) best = (W)values[i], at = i;
    for (int offset = 16; offset > 0; offset /= 2) {
      const W other = __shfl_down_sync(0xffffffffu, best, offset);
      const long long other_at = __shfl_down_sync(0xffffffffu, at, offset);
      if (other_at < inner && (at >= inner || cgvm_arg_before(other, other_at, best, at, max)))
        best = other, at = other_at;
    }
    if (lane == 0) out[row] = at;
  }
}

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

struct alignas(16) cgvm_unit16 { unsigned long long lo, hi; };

template <class U>
__device__ void cgvm_step_copies(const long long* w) {
  const long long* counter = (const long long*)w[1];
  const long long step = counter[0], copies = w[2], longest = w[3];
  if (step >= counter[1]) return;  // past the loop's end
  const long long* entries = (const long long*)w[0] + step * copies * 3;
  CGVM_POINTS(copies * longest) {
    const long long* e = entries + t / longest * 3;
    const long long u = t % longest;
    if (u < e[2]) ((U*)e[0])[u] = ((const U*)e[1])[u];
  }
}

// Whether a scalar of `bytes` bytes (a float when `is_float`) is nonzero: its value as a
// bool, as Array::astype gives it (NaN holds).
__device__ bool cgvm_holds(const void* p, long long bytes, bool is_float) {
  if (is_float) return bytes == 4 ? *(const float*)p != 0.0f : *(const double*)p != 0.0;
  switch (bytes) {
    case 1: return *(const unsigned char*)p != 0;
    case 2: return *(const unsigned short*)p != 0;
    case 4: return *(const unsigned int*)p != 0;
    default: return *(const unsigned long long*)p != 0;
  }
}

__device__ void cgvm_step_advance(const long long* w) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  long long* counter = (long long*)w[0];
  if (counter[0] >= counter[1]) return;
  counter[0] += 1;
  if (w[1] && cgvm_holds((const void*)w[1], w[2], w[3] != 0)) {
    counter[1] = counter[0];
    counter[2] = 1;
  }
}
)";

// The types a step's copies move, by unit size.
constexpr std::pair<int, const char*> kStepUnits[] = {
    {1, "unsigned char"}, {4, "unsigned int"}, {16, "cgvm_unit16"}};

// The unsigned type of each element size: a gather copies elements, whatever they hold.
constexpr std::pair<int, const char*> kElementTypes[] = {
    {1, "unsigned char"}, {2, "unsigned short"}, {4, "unsigned int"}, {8, "unsigned long long"}};

std::string gather_name(std::size_t bytes) { return fmt::format("cgvm_gather_{}", bytes); }
std::string scatter_name(DType dtype) { return fmt::format("cgvm_scatter_{}", dtype_name(dtype)); }
std::string chains_name(DType dtype) {
  return fmt::format("cgvm_scatter_chains_{}", dtype_name(dtype));
}
std::string arg_name(DType dtype) { return fmt::format("cgvm_arg_reduce_{}", dtype_name(dtype)); }
std::string draw_name(DeviceDraw::Kind kind, DType dtype) {
  return fmt::format("cgvm_{}_{}", kind == DeviceDraw::Kind::Normal ? "normal" : "uniform",
                     dtype_name(dtype));
}
std::string step_copies_name(int unit) { return fmt::format("cgvm_step_copies_{}", unit); }
constexpr DType kFloats[] = {DType::Float32, DType::Float64};
constexpr DeviceDraw::Kind kDraws[] = {DeviceDraw::Kind::Uniform, DeviceDraw::Kind::Normal};

struct KernelEntry {
  std::string name;
  int words;
  std::string body;  // the template instance the kernel calls
};
std::vector<KernelEntry> kernel_list() {
  std::vector<KernelEntry> list;
  for (auto [bytes, type] : kElementTypes)
    list.push_back({gather_name(static_cast<std::size_t>(bytes)), kGatherWords,
                    fmt::format("cgvm_gather<{}>", type)});
  for (DType dtype : all_dtypes)
    list.push_back({scatter_name(dtype), kScatterWords,
                    fmt::format("cgvm_scatter<{}>", cpp_type(dtype))});
  list.push_back({"cgvm_scatter_links", kLinksWords, "cgvm_scatter_links"});
  list.push_back({"cgvm_sort_keys", kSortKeysWords, "cgvm_sort_keys"});
  list.push_back({"cgvm_sort_count", kSortCountWords, "cgvm_sort_count"});
  list.push_back({"cgvm_exclusive_scan", kScanWords, "cgvm_exclusive_scan"});
  list.push_back({"cgvm_sort_place", kSortPlaceWords, "cgvm_sort_place"});
  list.push_back({"cgvm_sorted_links", kSortedLinksWords, "cgvm_sorted_links"});
  for (DType dtype : all_dtypes)
    list.push_back({chains_name(dtype), kChainsWords,
                    fmt::format("cgvm_scatter_chains<{}>", cpp_type(dtype))});
  for (DType dtype : all_dtypes)
    list.push_back({arg_name(dtype), kArgWords,
                    fmt::format("cgvm_arg_reduce<{}, {}>", cpp_type(dtype),
                                is_float(dtype) ? cpp_type(dtype) : "long long")});
  for (DeviceDraw::Kind kind : kDraws)
    for (DType dtype : kFloats)
      list.push_back({draw_name(kind, dtype), kDrawWords,
                      fmt::format("cgvm_draw<{}, {}>", cpp_type(dtype),
                                  kind == DeviceDraw::Kind::Normal)});
  list.push_back({"cgvm_integers", kIntegersWords, "cgvm_integers"});
  list.push_back({"cgvm_integers_count", kIntegersCountWords, "cgvm_integers_count"});
  list.push_back({"cgvm_integers_place", kIntegersPlaceWords, "cgvm_integers_place"});
  for (auto [unit, type] : kStepUnits)
    list.push_back({step_copies_name(unit), kStepWords, fmt::format("cgvm_step_copies<{}>", type)});
  list.push_back({"cgvm_step_advance", 4, "cgvm_step_advance"});
  return list;
}

// The dims before `axis` as one, the axis, the dims after as one.
struct AxisView {
  long long outer = 1, n = 0, inner = 1;
};
AxisView around(const Array& a, int axis) {
  CGVM_ASSERT(a.is_contiguous(), "an index kernel's arrays are contiguous");
  AxisView v;
  for (int d = 0; d < a.rank(); ++d) {
    if (d < axis) v.outer *= a.shape()[d];
    if (d > axis) v.inner *= a.shape()[d];
  }
  v.n = a.shape()[axis];
  return v;
}

long long address(const Array& a) {
  return static_cast<long long>(reinterpret_cast<std::uintptr_t>(a.raw_data()));
}

void check_step_counter(const Array& counter) {
  CGVM_ASSERT(counter.dtype() == DType::Int64 && counter.shape() == Shape{3} &&
                  counter.is_contiguous(),
              "a replayed loop's counter is int64 [3]: (step, end, stopped)");
}

}  // namespace

std::string device_kernels_source() {
  std::string source(philox_source());
  source += fmt::format("#define CGVM_MAX_BLOCK {}\n#define CGVM_DIGITS {}\n#define CGVM_TILE {}\n",
                        kMaxBlock, kDigits, kTile);
  source += kTemplates;
  for (const auto& [name, words, body] : kernel_list())
    source += fmt::format(
        "struct {0}_params {{ long long w[{1}]; }};\n"
        "extern \"C\" __global__ void {0}(const {0}_params p) {{ {2}(p.w); }}\n",
        name, words, body);
  return source;
}

std::vector<std::pair<std::string, int>> device_kernels() {
  std::vector<std::pair<std::string, int>> names;
  for (const auto& [name, words, body] : kernel_list()) names.emplace_back(name, words);
  return names;
}

int DeviceKernelLaunch::block(const CudaDeviceShape& device) const {
  return static_cast<int>(
      std::max(32LL, std::min<long long>(kMaxBlock, device.max_threads_per_block) / 32 * 32));
}

long long DeviceKernelLaunch::grid(const CudaDeviceShape& device) const {
  const long long b = block(device);
  return std::min<long long>((total + b - 1) / b, 16LL * device.multiprocessors);
}

DeviceKernelLaunch gather_launch(const Array& out, const Array& x, long long rows, int axis,
                                 const IndexCheck& check) {
  CGVM_ASSERT(out.dtype() == x.dtype() && out.rank() == x.rank(), "a gather keeps x's type");
  const AxisView o = around(out, axis), v = around(x, axis);
  CGVM_ASSERT(o.outer == v.outer && o.inner == v.inner, "a gather keeps x's other dims");
  return {.kernel = gather_name(dtype_size(x.dtype())),
          .words = {address(out), address(x), rows, check.fault, v.n, o.n, v.inner, out.size(),
                    static_cast<long long>(check.site)},
          .addresses = 4,
          .rows_word = rows == 0 ? 2 : -1,
          .total = out.size()};
}

std::vector<std::int64_t> packed_scatter_rows(const ScatterRows& rows) {
  std::vector<std::int64_t> packed = rows.targets;
  packed.insert(packed.end(), rows.starts.begin(), rows.starts.end());
  packed.insert(packed.end(), rows.order.begin(), rows.order.end());
  return packed;
}

DeviceKernelLaunch scatter_launch(const Array& out, const Array& y, const ScatterRows& rows,
                                  long long packed, int axis, bool set) {
  CGVM_ASSERT(out.dtype() == y.dtype() && out.rank() == y.rank(), "a scatter keeps out's type");
  const AxisView o = around(out, axis), v = around(y, axis);
  CGVM_ASSERT(o.outer == v.outer && o.inner == v.inner, "a scatter keeps out's other dims");
  CGVM_ASSERT(v.n == static_cast<long long>(rows.order.size()), "a scatter writes y's rows");
  const long long slots = static_cast<long long>(rows.targets.size());
  const long long total = o.outer * slots * o.inner;
  return {.kernel = scatter_name(out.dtype()),
          .words = {address(out), address(y), packed, o.n, slots, v.n, o.inner, total,
                    set ? 1 : 0},
          .addresses = 3,
          .rows_word = packed == 0 ? 2 : -1,
          .total = total};
}

namespace {
// Where device_scatter_launches's scratch holds what, in long longs: the links (next,
// first: per row), and past scatter_compare_rows rows the sort's two buffers of pairs
// (keys, positions) and its counts (a digit's per tile).
struct ScatterScratch {
  long long count, tiles;
  explicit ScatterScratch(long long rows)
      : count(rows), tiles(rows > scatter_compare_rows ? tiles_of(rows) : 0) {}
  bool sorts() const { return tiles > 0; }
  long long links() const { return 0; }
  long long keys(int buffer) const { return 2 * count + 2 * count * buffer; }
  long long positions(int buffer) const { return keys(buffer) + count; }
  long long counts() const { return sorts() ? keys(2) : 2 * count; }
  long long words() const { return counts() + kDigits * tiles; }
};
}  // namespace

std::size_t device_scatter_scratch_bytes(std::int64_t count) {
  return static_cast<std::size_t>(ScatterScratch(count).words()) * sizeof(long long);
}

std::vector<DeviceKernelLaunch> device_scatter_launches(const Array& out, const Array& y,
                                                        const Array& rows, long long scratch,
                                                        int axis, bool set,
                                                        const IndexCheck& check) {
  CGVM_ASSERT(out.dtype() == y.dtype() && out.rank() == y.rank(), "a scatter keeps out's type");
  CGVM_ASSERT(rows.dtype() == DType::Int64 && rows.rank() == 1 && rows.is_contiguous(),
              "a scatter's device rows are a contiguous int64 vector");
  const AxisView o = around(out, axis), v = around(y, axis);
  CGVM_ASSERT(o.outer == v.outer && o.inner == v.inner, "a scatter keeps out's other dims");
  CGVM_ASSERT(v.n == rows.size(), "a scatter writes y's rows");
  const ScatterScratch at(v.n);
  auto word = [&](long long offset) {
    return scratch + offset * static_cast<long long>(sizeof(long long));
  };
  const long long links = word(at.links()), site = static_cast<long long>(check.site);
  std::vector<DeviceKernelLaunch> launches;
  if (!at.sorts()) {
    launches.push_back({.kernel = "cgvm_scatter_links",
                        .words = {address(rows), links, check.fault, o.n, v.n, site},
                        .addresses = 3,
                        .total = v.n});
  } else {
    // Keys run to n (rows out of range): bit_width(n) bits, the passes alternating buffers.
    const int bits = std::bit_width(static_cast<std::uint64_t>(o.n));
    const int passes = (bits + kDigitBits - 1) / kDigitBits;
    launches.push_back({.kernel = "cgvm_sort_keys",
                        .words = {address(rows), word(at.keys(0)), word(at.positions(0)),
                                  check.fault, o.n, v.n, site},
                        .addresses = 4,
                        .total = v.n});
    const long long counts = word(at.counts()), tile_threads = at.tiles * kMaxBlock;
    for (int pass = 0; pass < passes; ++pass) {
      const int from = pass % 2, to = 1 - from;
      const long long shift = pass * kDigitBits;
      launches.push_back({.kernel = "cgvm_sort_count",
                          .words = {word(at.keys(from)), counts, v.n, shift, at.tiles},
                          .addresses = 2,
                          .total = tile_threads});
      launches.push_back({.kernel = "cgvm_exclusive_scan",
                          .words = {counts, kDigits * at.tiles},
                          .addresses = 1,
                          .total = 1});  // one block
      launches.push_back({.kernel = "cgvm_sort_place",
                          .words = {word(at.keys(from)), word(at.positions(from)), counts,
                                    word(at.keys(to)), word(at.positions(to)), v.n, shift,
                                    at.tiles},
                          .addresses = 5,
                          .total = tile_threads});
    }
    const int sorted = passes % 2;
    launches.push_back({.kernel = "cgvm_sorted_links",
                        .words = {word(at.keys(sorted)), word(at.positions(sorted)), links, o.n,
                                  v.n},
                        .addresses = 3,
                        .total = v.n});
  }
  const long long total = o.outer * v.n * o.inner;
  launches.push_back({.kernel = chains_name(out.dtype()),
                      .words = {address(out), address(y), address(rows), links, o.n, v.n,
                                o.inner, total, set ? 1 : 0},
                      .addresses = 4,
                      .total = total});
  return launches;
}

DeviceKernelLaunch arg_reduce_launch(const Array& out, const Array& x, bool max) {
  CGVM_ASSERT(x.rank() == 2 && x.is_contiguous() && x.shape()[1] > 0 &&
                  out.dtype() == DType::Int64 && out.size() == x.shape()[0],
              "an argmax reduces the rows of a contiguous matrix into int64");
  return {.kernel = arg_name(x.dtype()),
          .words = {address(out), address(x), x.shape()[0], x.shape()[1], max ? 1 : 0},
          .addresses = 2,
          .total = 32 * x.shape()[0]};  // a warp per row
}

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

DeviceKernelLaunch step_copies_launch(const Array& table, const Array& counter, int unit,
                                      long long longest) {
  CGVM_ASSERT(table.dtype() == DType::Int64 && table.rank() == 3 && table.shape()[2] == 3 &&
                  table.is_contiguous(),
              "a step's copies come from an int64 [steps, copies, 3] table");
  CGVM_ASSERT(std::any_of(std::begin(kStepUnits), std::end(kStepUnits),
                          [&](const auto& u) { return u.first == unit; }),
              "a step copies units of 1, 4 or 16 bytes");
  check_step_counter(counter);
  const long long copies = table.shape()[1];
  return {.kernel = step_copies_name(unit),
          .words = {address(table), address(counter), copies, longest},
          .addresses = 2,
          .total = copies * longest};
}

DeviceKernelLaunch step_advance_launch(const Array& counter, const Array* stop) {
  check_step_counter(counter);
  CGVM_ASSERT(!stop || stop->rank() == 0, "a loop's condition is a scalar");
  return {.kernel = "cgvm_step_advance",
          .words = {address(counter), stop ? address(*stop) : 0,
                    stop ? static_cast<long long>(dtype_size(stop->dtype())) : 0,
                    stop && is_float(stop->dtype()) ? 1 : 0},
          .addresses = stop ? 2 : 1,
          .total = 1};
}

}  // namespace cgvm
