#pragma once
// The device's own kernels: what DeviceContext::gather, ::scatter, ::arg_reduce, ::draw and
// ::step_copies run (runtime/device.hpp) for take, inc_take (embeddings and their
// gradients), argmax, argmin and random draws on a GPU, and for the rows of a scan step
// replayed from a recording.
//
// A fused loop kernel reads each operand at the loop point and computes each point from
// its operands alone, and its reductions carry no position, so an index lookup, an
// argmax, and a draw that must repeat the host's generator have no form in it; these
// kernels are written once, as CUDA that a GPU compiles with NVRTC and the tests run on the
// CUDA emulator, in three units: a common part (device_kernels.cpp), and the index
// kernels and the random draws (device_index_kernels.cpp, device_random_kernels.cpp), each
// after the common part's text. A context compiles a unit when one of its kernels first
// runs, so a function that looks nothing up and draws nothing pays for neither (a cold
// compile costs by the kernel; BENCHMARKS.md, cuda_compile_bench).
//
// Index kernels see C-contiguous arrays as [outer, n, inner] (the dims before the axis,
// the axis, the dims after). Indices come from the host (checked there) or from the
// device (DeviceIndexFault): negative ones count from the end, and one out of range is
// noted in the caller's fault note (the first: site, index, n, position) and reads zeros
// or writes nothing.
//   cgvm_gather_<bytes>   out[o, j, i] = x[o, rows[j], i]; by element size, as a copy
//   cgvm_scatter_<dtype>  host rows, grouped there (ScatterRows): for each slot targets[u],
//                         out[o, slot, i] gets y[o, order[k], i] for k in [starts[u],
//                         starts[u+1]), added in that order (the dtype's add: integers
//                         wrap, bool is or), or the last replaces it ("set"). A thread owns
//                         each slot element, so the sum does not depend on timing and
//                         matches the host's bit for bit.
//   cgvm_scatter_links    device rows: each row's next row of the same slot and whether it
//                         is the slot's first, by comparing it with the others (a thread
//                         per row, count^2 comparisons in all)
//   cgvm_sort_*, cgvm_sorted_links  the same links for many rows, from the rows sorted by
//                         slot (a stable radix sort on the device)
//   cgvm_scatter_chains_<dtype>  the thread of each first row's element follows the links:
//                         the same sums as cgvm_scatter, in the same order
//   cgvm_arg_reduce_<dtype>  out[o] = argmax or argmin of x's row o, a warp per row: the
//                         host's answer (the first NaN, else the first extreme value)
// Draw kernels repeat runtime/random.hpp's Generator: a thread per Philox block
// (runtime/philox.hpp, embedded), the block's words converted as the host converts them;
// the generator's [key, counter] come with the launch, or from a state on the device, the
// advanced state then written by the first thread.
//   cgvm_uniform_<dtype>  low + span * u, the product rounded before the sum as on the
//                         host (no fused multiply-add): the host's bits
//   cgvm_normal_<dtype>   mean + stddev * Box-Muller of the block's two uniforms: the host's
//                         values up to the device's log, sin and cos
//   cgvm_integers         int64 in [low, low + range), Lemire's rejection as the host draws
//                         them: one block walks the word stream, a prefix sum of the
//                         accepted draws placing the values (from a device state only)
//   cgvm_integers_count, _place  many integers: the draws the values likely need tried at
//                         once, in tiles; cgvm_integers walks on for any still missing
//   cgvm_exclusive_scan   one block: a prefix sum of counts (the sort's, the integers')
//
// A replayed scan step (DeviceContext::record, ::step_copies) moves its rows with
//   cgvm_step_copies_<unit>  (t, end) = counter; if t < end, each copy c of table[t]
//                         (destination, source, size in units of 1, 4 or 16 bytes) done
//   cgvm_step_advance     if t < end, t += 1; and if the loop's condition (a scalar of
//                         any dtype) is nonzero, end = t and the counter's third word
//                         (stopped) = 1
//
// Each kernel takes one parameter by value, `struct <name>_params { long long w[W]; }`
// (emit_cuda's convention), runs a grid-stride loop over `total` points, and takes any grid.
#include <string>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codegen/emit_cuda.hpp"
#include "runtime/array.hpp"
#include "runtime/device.hpp"

namespace cgvm {

// One unit of the device's kernels (compile with cuda_compile_options()).
struct DeviceKernelUnit {
  std::string name;  // "cgvm_device_common", "cgvm_device_index", "cgvm_device_random"
  std::string source;
  std::vector<std::pair<std::string, int>> kernels;  // each kernel's name and parameter words
};
// The three units; each kernel is in exactly one.
const std::vector<DeviceKernelUnit>& device_kernel_units();
// The unit that has the kernel `name` (an InternalError if none has).
const DeviceKernelUnit& device_kernel_unit(std::string_view name);
// The units whose kernels `work` may launch (DeviceContext::prepare).
std::vector<const DeviceKernelUnit*> device_kernel_units_for(const DeviceWork& work);

// One launch: which kernel, its parameter, and how many points it runs.
struct DeviceKernelLaunch {
  std::string kernel;
  std::vector<long long> words;
  int addresses = 0;   // words[0 .. addresses): device addresses
  // Where the launch was made with rows (or packed rows) at address 0: the word the caller
  // fills with the address of its device copy of the host's rows (-1: none).
  int rows_word = -1;
  long long total = 0;   // 0: nothing to run
  // Grid and block for `device`: blocks of 256 threads (fewer where the device allows
  // fewer), at most 16 blocks per multiprocessor; the kernels stride over the rest.
  long long grid(const CudaDeviceShape& device) const;
  int block(const CudaDeviceShape& device) const;
};

// Where an index kernel notes an index out of range (DeviceFaultNote's words), and the
// site it names (DeviceIndexFault).
struct IndexCheck {
  long long fault = 0;
  std::uint64_t site = 0;
};

// take(x, rows, axis) into out, rows at device address `rows` (int64, out.shape()[axis] of
// them). out and x: C-contiguous, one dtype, device addresses in their raw_data().
DeviceKernelLaunch gather_launch(const Array& out, const Array& x, long long rows, int axis,
                                 const IndexCheck& check);

// ScatterRows as one int64 array: targets, starts, order one after another.
std::vector<std::int64_t> packed_scatter_rows(const ScatterRows& rows);
// The scatter of y into out, `packed` (packed_scatter_rows) at device address `packed`.
DeviceKernelLaunch scatter_launch(const Array& out, const Array& y, const ScatterRows& rows,
                                  long long packed, int axis, bool set);

// Up to this many device rows a scatter finds each row's next of the same slot by
// comparing it with the others (cgvm_scatter_links: one kernel, count^2 comparisons); past
// it, by sorting the rows by slot (cgvm_sort_*: about three kernels a pass, a pass per 4
// bits of the axis's size, each linear in the rows). The same links either way.
constexpr std::int64_t scatter_compare_rows = 8192;

// The scatter of y into out by `rows` on the device (int64 [count], C-contiguous): the
// kernels that link each row to the next of its slot, then the chains kernel, to run in
// order; `scratch` is the device address of device_scatter_scratch_bytes(count) bytes for
// them to share.
std::size_t device_scatter_scratch_bytes(std::int64_t count);
std::vector<DeviceKernelLaunch> device_scatter_launches(const Array& out, const Array& y,
                                                        const Array& rows, long long scratch,
                                                        int axis, bool set,
                                                        const IndexCheck& check);

// argmax (max) or argmin of each row of x (C-contiguous [outer, inner], inner >= 1) into
// out (int64 [outer]).
DeviceKernelLaunch arg_reduce_launch(const Array& out, const Array& x, bool max);

// The uniform or normal draw into out (C-contiguous float32 or float64, its device address
// in raw_data()):
// from draw.key and draw.counter, or from `state` (int64 [2] on the device), writing the
// advanced state to `next`.
DeviceKernelLaunch draw_launch(const Array& out, const DeviceDraw& draw,
                               const Array* state = nullptr, const Array* next = nullptr);

// Up to this many integers one block walks the word stream (one kernel); past it, the
// draws they likely take (integers_tried: count / (1 - the chance of a rejection)) are
// tried at once, over the whole device, and the block walks on only for what is missing.
constexpr std::int64_t integers_walked = 4096;
std::int64_t integers_tried(const DeviceDraw& draw, std::int64_t count);  // 0: walked
// The draw of integers (DeviceDraw::Kind::Integers) into out (C-contiguous int64) from
// `state`, writing the advanced state to `next` (int64 [2] on the device): the launches to
// run in order, sharing integers_scratch_bytes(draw, out.size()) bytes at `scratch`.
std::size_t integers_scratch_bytes(const DeviceDraw& draw, std::int64_t count);
std::vector<DeviceKernelLaunch> integers_launches(const Array& out, const DeviceDraw& draw,
                                                  const Array& state, const Array& next,
                                                  long long scratch);

// One step's copies and the step's end (DeviceContext::step_copies, ::step_advance):
// `table` int64 [steps, copies, 3], no size above `longest` units, the counter int64 [3]
// and the loop's condition (a scalar, or none) on the device.
DeviceKernelLaunch step_copies_launch(const Array& table, const Array& counter, int unit,
                                      long long longest);
DeviceKernelLaunch step_advance_launch(const Array& counter, const Array* stop);

}  // namespace cgvm
