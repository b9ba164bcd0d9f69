#include "codegen/device_kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "codegen/device_kernels_parts.hpp"
#include "codegen/kernel_writer.hpp"
#include "codegen/prelude.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace device_kernel_parts {

long long address(const Array& a) {
  return static_cast<long long>(reinterpret_cast<std::uintptr_t>(a.raw_data()));
}

namespace {

constexpr int kScanWords = 2;  // counts, entries
constexpr int kArgWords = 5;   // out, x, outer, inner, max
constexpr int kStepWords = 4;  // table, counter, copies, longest

constexpr const char* kTemplates = R"(
// The device's own kernels (codegen/device_kernels.hpp)
#define CGVM_POINTS(total) \
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < (total); \
       t += (long long)gridDim.x * blockDim.x)

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

// The points [*first, *last) of `tile` (of CGVM_TILE points, out of `total`) that this
// thread owns: consecutive, the block's threads in order.
__device__ void cgvm_tile_share(long long total, long long tile, long long* first,
                                long long* last) {
  const long long per = (CGVM_TILE + blockDim.x - 1) / blockDim.x;
  const long long end = (tile + 1) * CGVM_TILE < total ? (tile + 1) * CGVM_TILE : total;
  *first = tile * CGVM_TILE + threadIdx.x * per;
  *last = *first + per < end ? *first + per : end;
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

std::string arg_name(DType dtype) { return fmt::format("cgvm_arg_reduce_{}", dtype_name(dtype)); }
std::string step_copies_name(int unit) { return fmt::format("cgvm_step_copies_{}", unit); }

// The common part: the Philox core, the constants, the shared templates, and its kernels.
KernelFamily common_kernels() {
  KernelFamily family{std::string(philox_source()), {}};
  family.source += fmt::format("#define CGVM_MAX_BLOCK {}\n#define CGVM_DIGITS {}\n"
                               "#define CGVM_TILE {}\n",
                               kMaxBlock, kDigits, kTile);
  family.source += kTemplates;
  std::vector<KernelEntry>& list = family.kernels;
  list.push_back({"cgvm_exclusive_scan", kScanWords, "cgvm_exclusive_scan"});
  for (DType dtype : all_dtypes)
    list.push_back({arg_name(dtype), kArgWords,
                    fmt::format("cgvm_arg_reduce<{}, {}>", cpp_type(dtype),
                                is_float(dtype) ? cpp_type(dtype) : "long long")});
  for (auto [unit, type] : kStepUnits)
    list.push_back({step_copies_name(unit), kStepWords, fmt::format("cgvm_step_copies<{}>", type)});
  list.push_back({"cgvm_step_advance", 4, "cgvm_step_advance"});
  return family;
}

void check_step_counter(const Array& counter) {
  CGVM_ASSERT(counter.dtype() == DType::Int64 && counter.shape() == Shape{3} &&
                  counter.is_contiguous(),
              "a replayed loop's counter is int64 [3]: (step, end, stopped)");
}

}  // namespace
}  // namespace device_kernel_parts

using namespace device_kernel_parts;

const std::vector<DeviceKernelUnit>& device_kernel_units() {
  static const std::vector<DeviceKernelUnit> units = [] {
    const KernelFamily common = common_kernels();
    const std::pair<const char*, KernelFamily> families[] = {
        {"cgvm_device_common", KernelFamily{"", common.kernels}},
        {"cgvm_device_index", index_kernels()},
        {"cgvm_device_random", random_kernels()}};
    std::vector<DeviceKernelUnit> out;
    for (const auto& [name, family] : families) {
      DeviceKernelUnit unit{name, common.source + family.source, {}};
      for (const auto& [kernel, words, body] : family.kernels) {
        unit.source += fmt::format(
            "struct {0}_params {{ long long w[{1}]; }};\n"
            "extern \"C\" __global__ void {0}(const {0}_params p) {{ {2}(p.w); }}\n",
            kernel, words, body);
        unit.kernels.emplace_back(kernel, words);
      }
      out.push_back(std::move(unit));
    }
    return out;
  }();
  return units;
}

const DeviceKernelUnit& device_kernel_unit(std::string_view name) {
  for (const DeviceKernelUnit& unit : device_kernel_units())
    if (std::any_of(unit.kernels.begin(), unit.kernels.end(),
                    [&](const auto& kernel) { return kernel.first == name; }))
      return unit;
  throw InternalError(fmt::format("no unit of the device's kernels has {}", name));
}

std::vector<const DeviceKernelUnit*> device_kernel_units_for(const DeviceWork& work) {
  if (!work.any()) return {};
  const auto named = [](std::string_view name) {
    const auto& units = device_kernel_units();
    return &*std::ranges::find(units, name, &DeviceKernelUnit::name);
  };
  // Any of the work may launch a kernel of the common unit: argmax, a replayed step's
  // copies, and the prefix sums that a scatter's sort and a draw of integers run.
  std::vector<const DeviceKernelUnit*> out{named("cgvm_device_common")};
  if (work.lookups) out.push_back(named("cgvm_device_index"));
  if (work.draws) out.push_back(named("cgvm_device_random"));
  return out;
}

int DeviceKernelLaunch::block(const CudaDeviceShape& device) const {
  return static_cast<int>(
      std::max(32LL, std::min<long long>(kMaxBlock, device.max_threads_per_block) / 32 * 32));
}

long long DeviceKernelLaunch::grid(const CudaDeviceShape& device) const {
  const long long b = block(device);
  return std::min<long long>((total + b - 1) / b, 16LL * device.multiprocessors);
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
