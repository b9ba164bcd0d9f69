// The index kernels of the device (device_kernels.hpp): take's gathers, inc_take's scatters
// of host rows, and of device rows (linked by comparison or by a radix sort, then chained).
#include <fmt/format.h>

#include <bit>
#include <cstdint>

#include "codegen/device_kernels_parts.hpp"
#include "codegen/kernel_writer.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace device_kernel_parts {
namespace {

constexpr int kGatherWords = 9;       // out, x, rows, fault, n, count, inner, total, site
constexpr int kScatterWords = 9;      // out, y, packed rows, n, slots, count, inner, total, set
constexpr int kLinksWords = 6;        // rows, links, fault, n, count, site
constexpr int kSortKeysWords = 7;     // rows, keys, positions, fault, n, count, site
constexpr int kSortCountWords = 5;    // keys, counts, count, shift, tiles
constexpr int kSortPlaceWords = 8;    // keys, positions, starts, keys out, positions out,
                                      // count, shift, tiles
constexpr int kSortedLinksWords = 5;  // keys, positions, links, n, count
constexpr int kChainsWords = 9;       // out, y, rows, links, n, count, inner, total, set

constexpr const char* kTemplates = R"(
// The index kernels (codegen/device_index_kernels.cpp)

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

)";

// The unsigned type of each element size: a gather copies elements, whatever they hold.
constexpr std::pair<int, const char*> kElementTypes[] = {
    {1, "unsigned char"}, {2, "unsigned short"}, {4, "unsigned int"}, {8, "unsigned long long"}};

std::string gather_name(std::size_t bytes) { return fmt::format("cgvm_gather_{}", bytes); }
std::string scatter_name(DType dtype) { return fmt::format("cgvm_scatter_{}", dtype_name(dtype)); }
std::string chains_name(DType dtype) {
  return fmt::format("cgvm_scatter_chains_{}", dtype_name(dtype));
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

KernelFamily index_kernels() {
  KernelFamily family{kTemplates, {}};
  std::vector<KernelEntry>& list = family.kernels;
  for (auto [bytes, type] : kElementTypes)
    list.push_back({gather_name(static_cast<std::size_t>(bytes)), kGatherWords,
                    fmt::format("cgvm_gather<{}>", type)});
  for (DType dtype : all_dtypes)
    list.push_back({scatter_name(dtype), kScatterWords,
                    fmt::format("cgvm_scatter<{}>", cpp_type(dtype))});
  list.push_back({"cgvm_scatter_links", kLinksWords, "cgvm_scatter_links"});
  list.push_back({"cgvm_sort_keys", kSortKeysWords, "cgvm_sort_keys"});
  list.push_back({"cgvm_sort_count", kSortCountWords, "cgvm_sort_count"});
  list.push_back({"cgvm_sort_place", kSortPlaceWords, "cgvm_sort_place"});
  list.push_back({"cgvm_sorted_links", kSortedLinksWords, "cgvm_sorted_links"});
  for (DType dtype : all_dtypes)
    list.push_back({chains_name(dtype), kChainsWords,
                    fmt::format("cgvm_scatter_chains<{}>", cpp_type(dtype))});
  return family;
}

}  // namespace device_kernel_parts

using namespace device_kernel_parts;

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

}  // namespace cgvm
