#include "codegen/index_kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "codegen/kernel_writer.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace {

constexpr int kGatherWords = 7;   // out, x, rows, n, count, inner, total
constexpr int kScatterWords = 9;  // out, y, packed rows, n, slots, count, inner, total, set

constexpr const char* kTemplates = R"(// Index lookups on a device (codegen/index_kernels.hpp)
#define CGVM_POINTS(total) \
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < (total); \
       t += (long long)gridDim.x * blockDim.x)

template <class T>
__device__ void cgvm_gather(const long long* w) {
  T* out = (T*)w[0];
  const T* x = (const T*)w[1];
  const long long* rows = (const long long*)w[2];
  const long long n = w[3], count = w[4], inner = w[5];
  CGVM_POINTS(w[6]) {
    const long long i = t % inner, r = t / inner, j = r % count, o = r / count;
    out[t] = x[(o * n + rows[j]) * inner + i];
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
)";

// The unsigned type of each element size: a gather copies elements, whatever they hold.
constexpr std::pair<int, const char*> kElementTypes[] = {
    {1, "unsigned char"}, {2, "unsigned short"}, {4, "unsigned int"}, {8, "unsigned long long"}};

std::string gather_name(std::size_t bytes) { return fmt::format("cgvm_gather_{}", bytes); }
std::string scatter_name(DType dtype) { return fmt::format("cgvm_scatter_{}", dtype_name(dtype)); }

std::string kernel(const std::string& name, int words, const std::string& body) {
  return fmt::format(
      "struct {0}_params {{ long long w[{1}]; }};\n"
      "extern \"C\" __global__ void {0}(const {0}_params p) {{ {2}(p.w); }}\n",
      name, words, body);
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

}  // namespace

std::string index_kernels_source() {
  std::string source = kTemplates;
  for (auto [bytes, type] : kElementTypes)
    source += kernel(gather_name(bytes), kGatherWords, fmt::format("cgvm_gather<{}>", type));
  for (DType dtype : all_dtypes)
    source += kernel(scatter_name(dtype), kScatterWords,
                     fmt::format("cgvm_scatter<{}>", cpp_type(dtype)));
  return source;
}

std::vector<std::pair<std::string, int>> index_kernels() {
  std::vector<std::pair<std::string, int>> names;
  for (auto [bytes, type] : kElementTypes) names.emplace_back(gather_name(bytes), kGatherWords);
  for (DType dtype : all_dtypes) names.emplace_back(scatter_name(dtype), kScatterWords);
  return names;
}

int IndexLaunch::block(const CudaDeviceShape& device) const {
  return std::max(32, std::min(256, device.max_threads_per_block) / 32 * 32);
}

long long IndexLaunch::grid(const CudaDeviceShape& device) const {
  const long long b = block(device);
  return std::min<long long>((total + b - 1) / b, 16LL * device.multiprocessors);
}

IndexLaunch gather_launch(const Array& out, const Array& x, long long rows, int axis) {
  CGVM_ASSERT(out.dtype() == x.dtype() && out.rank() == x.rank(), "a gather keeps x's type");
  const AxisView o = around(out, axis), v = around(x, axis);
  CGVM_ASSERT(o.outer == v.outer && o.inner == v.inner, "a gather keeps x's other dims");
  return {gather_name(dtype_size(x.dtype())),
          {address(out), address(x), rows, v.n, o.n, v.inner, out.size()},
          out.size()};
}

std::vector<std::int64_t> packed_scatter_rows(const ScatterRows& rows) {
  std::vector<std::int64_t> packed = rows.targets;
  packed.insert(packed.end(), rows.starts.begin(), rows.starts.end());
  packed.insert(packed.end(), rows.order.begin(), rows.order.end());
  return packed;
}

IndexLaunch scatter_launch(const Array& out, const Array& y, const ScatterRows& rows,
                           long long packed, int axis, bool set) {
  CGVM_ASSERT(out.dtype() == y.dtype() && out.rank() == y.rank(), "a scatter keeps out's type");
  const AxisView o = around(out, axis), v = around(y, axis);
  CGVM_ASSERT(o.outer == v.outer && o.inner == v.inner, "a scatter keeps out's other dims");
  CGVM_ASSERT(v.n == static_cast<long long>(rows.order.size()), "a scatter writes y's rows");
  const long long slots = static_cast<long long>(rows.targets.size());
  const long long total = o.outer * slots * o.inner;
  return {scatter_name(out.dtype()),
          {address(out), address(y), packed, o.n, slots, v.n, o.inner, total, set ? 1 : 0},
          total};
}

}  // namespace cgvm
