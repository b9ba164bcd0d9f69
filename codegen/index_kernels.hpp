#pragma once
// Index lookups on a device: the kernels behind DeviceContext::gather and ::scatter
// (runtime/device.hpp), which take and inc_take call there (embeddings and their
// gradients).
//
// A fused loop kernel reads each operand at the loop point, so a lookup through an index
// array has no form in it; these kernels are written once here, as one CUDA unit that a
// GPU compiles with NVRTC and the tests run on the CUDA emulator. The arrays are
// C-contiguous and seen as [outer, n, inner] (the dims before the axis, the axis, the dims
// after); the host has checked the indices, so they are in range.
//
//   cgvm_gather_<bytes>   out[o, j, i] = x[o, rows[j], i]; by element size, as a copy
//   cgvm_scatter_<dtype>  for each slot targets[u]: out[o, slot, i] gets y[o, order[k], i]
//                         for k in [starts[u], starts[u+1]), added in that order (the
//                         dtype's add: integers wrap, bool is or), or the last replaces
//                         it ("set"). A thread owns each slot element, so the sum does not
//                         depend on timing and matches the host's bit for bit.
//
// Each kernel takes one parameter by value, `struct <name>_params { long long w[W]; }`
// (emit_cuda's convention), a grid-stride loop over `total` points, and any grid.
#include <string>
#include <vector>

#include "codegen/emit_cuda.hpp"
#include "runtime/array.hpp"
#include "runtime/device.hpp"

namespace cgvm {

// The unit with every gather and scatter kernel (no prelude; compile with
// cuda_compile_options()).
std::string index_kernels_source();
// The name of each kernel and the words of its parameter, for emulators.
std::vector<std::pair<std::string, int>> index_kernels();

// One launch of an index kernel: which kernel, its parameter, and how many points it runs.
struct IndexLaunch {
  std::string kernel;
  std::vector<long long> words;  // the first `address_words`: out, x or y, the index rows
  static constexpr int address_words = 3;
  long long total = 0;  // 0: nothing to run
  // Grid and block for `device`: blocks of 256 threads (fewer where the device allows
  // fewer), at most 16 blocks per multiprocessor; the kernels stride over the rest.
  long long grid(const CudaDeviceShape& device) const;
  int block(const CudaDeviceShape& device) const;
};

// take(x, rows, axis) into out, rows at device address `rows` (int64, out.shape()[axis] of
// them). out and x: C-contiguous, one dtype, device addresses in their raw_data().
IndexLaunch gather_launch(const Array& out, const Array& x, long long rows, int axis);

// ScatterRows as one int64 array: targets, starts, order one after another.
std::vector<std::int64_t> packed_scatter_rows(const ScatterRows& rows);
// The scatter of y into out, `packed` (packed_scatter_rows) at device address `packed`.
IndexLaunch scatter_launch(const Array& out, const Array& y, const ScatterRows& rows,
                           long long packed, int axis, bool set);

}  // namespace cgvm
