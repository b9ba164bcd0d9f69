#include "codegen/emit_cuda.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

#include "codegen/kernel_writer.hpp"
#include "codegen/prelude.hpp"
#include "runtime/error.hpp"

namespace cgvm {
namespace {

// The C++ prelude calls Clang builtins that NVRTC does not know; these names map them to
// CUDA's device math (same results: the IEEE operations, and C99's fmin/fmax/fmod).
// __builtin_isnan, __builtin_isinf, __builtin_copysign and __builtin_bit_cast exist there.
constexpr std::string_view kDeviceBuiltins = R"(// cgvm generated code: CUDA
#define __builtin_fabsf fabsf
#define __builtin_fabs fabs
#define __builtin_floorf floorf
#define __builtin_floor floor
#define __builtin_ceilf ceilf
#define __builtin_ceil ceil
#define __builtin_truncf truncf
#define __builtin_trunc trunc
#define __builtin_roundevenf rintf
#define __builtin_roundeven rint
#define __builtin_sqrtf sqrtf
#define __builtin_sqrt sqrt
#define __builtin_fmodf fmodf
#define __builtin_fmod fmod
#define __builtin_fminf fminf
#define __builtin_fmin fmin
#define __builtin_fmaxf fmaxf
#define __builtin_fmax fmax
#define __builtin_fmaf fmaf
#define __builtin_fma fma
#define __builtin_nanf(tag) __int_as_float(0x7fc00000)
#define __builtin_nan(tag) __longlong_as_double(0x7ff8000000000000ll)
#define __builtin_huge_valf() __int_as_float(0x7f800000)
#define __builtin_huge_val() __longlong_as_double(0x7ff0000000000000ll)
)";

// Shuffles move 32-bit and 64-bit values; narrower types travel as int.
constexpr std::string_view kWarpHelpers = R"(
template <class T> __forceinline__ T cgvm_shfl_down(T v, int offset) {
  return __shfl_down_sync(0xffffffffu, v, offset);
}
__forceinline__ bool cgvm_shfl_down(bool v, int offset) {
  return __shfl_down_sync(0xffffffffu, (int)v, offset) != 0;
}
__forceinline__ signed char cgvm_shfl_down(signed char v, int offset) {
  return (signed char)__shfl_down_sync(0xffffffffu, (int)v, offset);
}
__forceinline__ unsigned char cgvm_shfl_down(unsigned char v, int offset) {
  return (unsigned char)__shfl_down_sync(0xffffffffu, (int)v, offset);
}
__forceinline__ short cgvm_shfl_down(short v, int offset) {
  return (short)__shfl_down_sync(0xffffffffu, (int)v, offset);
}
)";

constexpr int kWarp = 32;
// Column mode's block (and the shared slots each reduction has): 8 rows of a warp.
constexpr int kColumnBlock = 256;

long long product(std::span<const long long> size, const std::vector<int>& dims) {
  long long n = 1;
  for (int d : dims) n *= size[d];
  return n;
}

// Emits one kernel as a CUDA __global__ function (emit_cuda.hpp has its parameter).
class CudaKernelEmitter : public KernelWriter {
 public:
  using KernelWriter::KernelWriter;

  std::string emit() {
    line("struct {}_params {{ long long w[{}]; }};", k_.name, cuda_param_words(k_));
    open_block(fmt::format("extern \"C\" __global__ void {}(const {}_params params)", k_.name,
                           k_.name));
    declare_args();
    if (k_.reduces) reduction_kernel();
    else map_kernel();
    close_all();
    return out_;
  }

 private:
  int size_word(int d) const { return 1 + d; }
  int data_word(int a) const { return 1 + k_.num_dims + a; }
  int stride_word(int a, int d) const { return 1 + k_.num_dims + num_args_ + a * k_.num_dims + d; }
  int splits_word() const { return cuda_param_words(k_) - 2; }
  int scratch_word() const { return cuda_param_words(k_) - 1; }

  void declare_args() {
    declare_sizes([this](int d) { return fmt::format("params.w[{}]", size_word(d)); });
    for (int a = 0; a < num_args_; ++a) {
      const char* qualifier = is_result(a) ? "" : "const ";
      line("{}{}* __restrict__ p{} = ({}{}*)params.w[{}];", qualifier, arg_type(a), a,
           qualifier, arg_type(a), data_word(a));
      for (int d : arg(a).dims)
        if (d >= 0) line("const long long s{}_{} = params.w[{}];", a, d, stride_word(a, d));
    }
  }

  std::string extent(const std::vector<int>& dims) const {
    if (dims.empty()) return "1";
    std::string text;
    for (int d : dims) text += fmt::format("{}n{}", text.empty() ? "" : " * ", d);
    return text;
  }

  // Splits the flat index `flat` (last dim fastest) into `const long long i<d>`.
  void split_index(const std::string& flat, const std::vector<int>& dims) {
    if (dims.empty()) return;
    if (dims.size() == 1) {
      line("const long long i{} = {};", dims[0], flat);
      return;
    }
    line("long long rest = {};", flat);
    for (std::size_t j = dims.size() - 1; j > 0; --j) {
      line("const long long i{} = rest % n{};", dims[j], dims[j]);
      line("rest /= n{};", dims[j]);
    }
    line("const long long i{} = rest;", dims[0]);
  }

  // At outer point `flat`: the outer indices, each arg's offset there and the operands read
  // once per outer point.
  void enter_outer_point(const std::string& flat) {
    split_index(flat, k_.outer);
    for (int a = 0; a < num_args_; ++a)
      line("const long long b{} = {};", a, offset_expr(a, "0", k_.outer));
    load_outer_operands();
  }

  // One inner point (flat index `flat`): its indices, then `body(index)`.
  void at_inner_point(const std::string& flat, const std::function<void(const IndexFn&)>& body) {
    split_index(flat, k_.inner);
    body([this](int a) { return offset_expr(a, fmt::format("b{}", a), k_.inner); });
  }

  // Stores the outer-level results; `guard` says which threads write them.
  void store_outer_results(const std::string& guard) {
    const std::vector<int> results = outer_results();
    if (results.empty()) return;
    for (int r : results) ensure_outer(result_node(r));
    open_block(fmt::format("if ({})", guard));
    for (int r : results)
      line("p{}[b{}] = v{};", num_operands() + r, num_operands() + r, result_node(r));
    close_block();
  }

  void store_full_results(const std::vector<int>& results, const IndexFn& index) {
    std::vector<int> roots;
    for (int r : results) roots.push_back(result_node(r));
    emit_points(full_closure(roots), index);
    for (std::size_t j = 0; j < results.size(); ++j) {
      int a = num_operands() + results[j];
      line("p{}[{}] = v{};", a, index(a), roots[j]);
    }
  }

  void map_kernel() {
    line("const long long outer_total = {};", extent(k_.outer));
    line("const long long inner_total = {};", extent(k_.inner));
    line("const long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x;");
    line("const long long step = (long long)gridDim.x * blockDim.x;");
    // No division per point (a 64-bit one costs tens of instructions): where there are both
    // outer and inner points, a thread divides its first point and the step once, and
    // moves its (outer, inner) by the step's quotient and remainder each round.
    const bool both = !k_.outer.empty() && !k_.inner.empty();
    if (both) {
      line("const long long step_outer = step / inner_total;");
      line("const long long step_inner = step - step_outer * inner_total;");
      line("long long outer = first / inner_total, inner = first - outer * inner_total;");
    }
    open_block("for (long long t = first; t < outer_total * inner_total; t += step)");
    if (k_.outer.empty()) line("const long long outer = 0, inner = t;");
    else if (k_.inner.empty()) line("const long long outer = t, inner = 0;");
    enter_outer_point("outer");
    const std::vector<int> full = full_results();
    if (!full.empty())
      at_inner_point("inner", [&](const IndexFn& index) { store_full_results(full, index); });
    // A result that walks no inner dim is written once per outer point.
    store_outer_results("inner == 0");
    if (both) {
      line("inner += step_inner;");
      line("outer += step_outer + (inner >= inner_total ? 1 : 0);");
      line("if (inner >= inner_total) inner -= inner_total;");
    }
  }

  void reduction_kernel() {
    // Shared slots, one per warp in block mode and one per thread in column mode (blocks of
    // at most kColumnBlock threads): one array serves every reduction of the kernel, each
    // seeing it as its own type, since each pass ends with a barrier after its last read
    // of them. (One array each would pass ptxas's 48 KB of static shared memory at 24
    // float64 reductions, and hold more of it per block.)
    line("__shared__ unsigned long long cgvm_slots[{}];", kColumnBlock);
    bool any_nan = false;
    int reductions = 0;
    for (std::size_t i = 0; i < k_.nodes.size(); ++i)
      if (is_reduction(static_cast<int>(i))) {
        const std::string_view type = node_type(static_cast<int>(i));
        CGVM_ASSERT(dtype_size(k_.nodes[i]->output(0).dtype()) <= 8, "a shared slot holds 8 bytes");
        line("{0}* const shared{1} = ({0}*)cgvm_slots;", type, i);
        if (k_.nodes[i]->op().emit_reduce(*k_.nodes[i]).propagate_nan) {
          if (!any_nan) line("__shared__ bool cgvm_nan_slots[{}];", kColumnBlock);
          any_nan = true;
          line("bool* const shared_nan{} = cgvm_nan_slots;", i);
        }
        partial_slot_[static_cast<int>(i)] = reductions++;
      }
    // Per mode: the work items (outer points; in mode 3 an outer point's share of the
    // reduced points), how many a block takes per round, which of them this thread has,
    // and which reduced points it reduces (emit_cuda.hpp).
    line("const int mode = (int)params.w[0];");
    line("const long long outer_total = {};", extent(k_.outer));
    line("const long long inner_total = {};", extent(k_.inner));
    line("const long long splits = params.w[{}];", splits_word());
    line("char* const scratch = (char*)params.w[{}];", scratch_word());
    line("const long long chunk = (inner_total + splits - 1) / splits;");
    line("const long long items = mode == 3 ? outer_total * splits : outer_total;");
    line("const long long group = mode == 0 || mode == 4 ? (long long)blockDim.x : "
         "mode == 2 ? {} : 1;", kWarp);
    line("const long long member = mode == 0 || mode == 4 ? (long long)threadIdx.x : "
         "mode == 2 ? threadIdx.x % {} : 0;", kWarp);
    // Every thread of a block runs the same rounds, so the barriers of the block reductions
    // are reached by all of them; a thread past the last item computes item 0 again (valid
    // memory) and stores nothing.
    open_block("for (long long round = blockIdx.x; round * group < items; round += gridDim.x)");
    line("const bool active = round * group + member < items;");
    line("const long long item = active ? round * group + member : 0;");
    line("const long long outer = mode == 3 ? item / splits : item;");
    line("const long long split = mode == 3 ? item - outer * splits : 0;");
    line("const long long inner_first = mode == 0 ? 0 : mode == 1 ? (long long)threadIdx.x : "
         "mode == 2 ? threadIdx.x / {} : mode == 3 ? split * chunk + threadIdx.x : 0;", kWarp);
    line("const long long split_end = (split + 1) * chunk;");
    line("const long long inner_end = mode == 3 ? (split_end < inner_total ? split_end : "
         "inner_total) : mode == 4 ? 0 : inner_total;");
    line("const long long inner_step = mode == 0 ? 1 : mode == 1 || mode == 3 ? "
         "(long long)blockDim.x : blockDim.x / {};", kWarp);
    enter_outer_point("outer");
    for (std::size_t i = 0; i < k_.nodes.size(); ++i)
      if (is_reduction(static_cast<int>(i))) reduction_pass(static_cast<int>(i));
    // Mode 3 only leaves its partials in the scratch memory.
    open_block("if (mode != 3)");
    const std::vector<int> full = full_results();
    if (!full.empty()) {
      open_block("if (active)");
      open_block("for (long long inner = inner_first; inner < inner_total; inner += inner_step)");
      at_inner_point("inner", [&](const IndexFn& index) { store_full_results(full, index); });
      close_block();
      close_block();
    }
    // One thread per outer point writes it: any in modes 0 and 4, the first in mode 1, the
    // first row in mode 2.
    store_outer_results(fmt::format(
        "active && (mode == 0 || mode == 4 || (mode == 1 ? threadIdx.x == 0 : threadIdx.x < {}))",
        kWarp));
    close_block();
  }

  // `acc` (and `nan`) combined across the warp: lane 0 ends with the warp's value.
  void warp_combine(const ReduceEmit& e, std::string_view type, const std::string& acc,
                    const std::string& nan) {
    // Every lane shuffles exactly once per round (a step may name its operand twice).
    open_block(fmt::format("for (int offset = {}; offset > 0; offset /= 2)", kWarp / 2));
    line("const {} other = cgvm_shfl_down({}, offset);", type, acc);
    line("{} = {};", acc, reduce_step(e, acc, "other"));
    if (e.propagate_nan) line("{} = {} | cgvm_shfl_down({}, offset);", nan, nan, nan);
    close_block();
  }

  void reduction_pass(int r) {
    const Node* n = k_.nodes[r];
    const ReduceEmit e = n->op().emit_reduce(*n);
    const std::string acc = fmt::format("acc{}", r), nan = fmt::format("nan{}", r);
    const std::string shared = fmt::format("shared{}", r), shared_nan = fmt::format("shared_nan{}", r);
    const std::string_view type = node_type(r);
    const std::string init = fmt::format("({})({})", type, e.init);
    const int src = k_.sources[r][0];
    std::vector<int> nodes = src >= 0 ? full_closure({src}) : std::vector<int>{};
    const std::string x = input_expr(r, 0);
    line("{} {} = {};", type, acc, init);
    if (e.propagate_nan) line("bool {} = false;", nan);
    open_block("for (long long inner = inner_first; inner < inner_end; inner += inner_step)");
    at_inner_point("inner", [&](const IndexFn& index) {
      emit_points(nodes, index);
      if (src < 0) {  // the reduction reads an operand directly
        int a = -1 - src;
        line("const {} x{} = p{}[{}];", arg_type(a), a, a, index(a));
      }
      line("{} = {};", acc, reduce_step(e, acc, x));
      if (e.propagate_nan) line("{} |= {} != {};", nan, x, x);
    });
    close_block();
    // Mode 3's partial, and mode 4's combination of them: 16 bytes per reduction and item,
    // the accumulator first, its NaN flag at byte 8.
    auto partial = [&](const std::string& item) {
      return fmt::format("(scratch + ({} * outer_total * splits + {}) * 16)", partial_slot_.at(r), item);
    };
    open_block("if (mode == 4)");
    open_block("for (long long s = 0; s < splits; ++s)");
    line("const char* const slot = {};", partial("outer * splits + s"));
    line("const {} other = *(const {}*)slot;", type, type);
    line("{} = {};", acc, reduce_step(e, acc, "other"));
    if (e.propagate_nan) line("{} = {} | *(const bool*)(slot + 8);", nan, nan);
    close_block();
    close_block();
    open_block("if (mode == 1 || mode == 3)");
    // Each warp's value to shared memory, the first warp combines them, and every thread
    // reads the block's value.
    warp_combine(e, type, acc, nan);
    open_block(fmt::format("if (threadIdx.x % {} == 0)", kWarp));
    line("{}[threadIdx.x / {}] = {};", shared, kWarp, acc);
    if (e.propagate_nan) line("{}[threadIdx.x / {}] = {};", shared_nan, kWarp, nan);
    close_block();
    line("__syncthreads();");
    open_block(fmt::format("if (threadIdx.x < {})", kWarp));
    line("const bool has = threadIdx.x < blockDim.x / {};", kWarp);
    line("{} = has ? {}[threadIdx.x] : {};", acc, shared, init);
    if (e.propagate_nan) line("{} = has && {}[threadIdx.x];", nan, shared_nan);
    warp_combine(e, type, acc, nan);
    close_block();
    // The barrier before thread 0 overwrites what the first warp reads.
    line("__syncthreads();");
    open_block("if (threadIdx.x == 0)");
    line("{}[0] = {};", shared, acc);
    if (e.propagate_nan) line("{}[0] = {};", shared_nan, nan);
    close_block();
    line("__syncthreads();");
    line("{} = {}[0];", acc, shared);
    if (e.propagate_nan) line("{} = {}[0];", nan, shared_nan);
    // The next outer point writes the shared slots again.
    line("__syncthreads();");
    open_block("if (mode == 3 && active && threadIdx.x == 0)");
    line("char* const slot = {};", partial("item"));
    line("*({}*)slot = {};", type, acc);
    if (e.propagate_nan) line("*(bool*)(slot + 8) = {};", nan);
    close_block();
    close_block();
    open_block("if (mode == 2)");
    // Each row's partial to shared memory; the first row folds the others in and every
    // row reads its column's value.
    line("{}[threadIdx.x] = {};", shared, acc);
    if (e.propagate_nan) line("{}[threadIdx.x] = {};", shared_nan, nan);
    line("__syncthreads();");
    open_block(fmt::format("if (threadIdx.x < {})", kWarp));
    open_block(fmt::format("for (unsigned row = 1; row < blockDim.x / {}; ++row)", kWarp));
    line("const {} other = {}[threadIdx.x + row * {}];", type, shared, kWarp);
    line("{} = {};", acc, reduce_step(e, acc, "other"));
    if (e.propagate_nan) line("{} = {} | {}[threadIdx.x + row * {}];", nan, nan, shared_nan, kWarp);
    close_block();
    line("{}[threadIdx.x] = {};", shared, acc);
    if (e.propagate_nan) line("{}[threadIdx.x] = {};", shared_nan, nan);
    close_block();
    line("__syncthreads();");
    line("{} = {}[threadIdx.x % {}];", acc, shared, kWarp);
    if (e.propagate_nan) line("{} = {}[threadIdx.x % {}];", nan, shared_nan, kWarp);
    line("__syncthreads();");
    close_block();
    define_reduction(r, e, acc, nan);
  }

  std::map<int, int> partial_slot_;  // reduction node -> its place among the kernel's reductions
};

}  // namespace

std::string_view cuda_prelude() {
  static const std::string text =
      std::string(kDeviceBuiltins) + std::string(prelude_source()) + std::string(kWarpHelpers);
  return text;
}

std::string_view cuda_device_builtins() { return kDeviceBuiltins; }

std::vector<std::string> cuda_compile_options() {
  // 177: a function of the prelude that no kernel calls. --split-compile=0: NVRTC optimizes
  // the kernels (and ptxas compiles them) on every core, for the same code (register
  // numbering aside); cuda_compile_bench in BENCHMARKS.md has what it saves. NVRTC's own
  // defaults stay: no flush of denormals to zero, IEEE division and square root, which the
  // prelude's float math assumes (its denormal paths); no --use_fast_math.
  return {"-std=c++20", "--device-as-default-execution-space", "--diag-suppress=177",
          "--split-compile=0"};
}

int cuda_param_words(const LoopKernel& kernel) {
  const int args = static_cast<int>(kernel.operands.size() + kernel.results.size());
  return 1 + kernel.num_dims + args + args * kernel.num_dims + 2;
}

std::string emit_cuda(const Program& program) {
  std::string source(cuda_prelude());
  std::function<void(const Program&)> emit_all = [&](const Program& p) {
    for (const LoopKernel& k : p.kernels) source += "\n" + CudaKernelEmitter(p, k).emit();
    for (const ScanLoop& l : p.loops) emit_all(l.body);
  };
  emit_all(program);
  return source;
}

std::vector<long long> cuda_kernel_parameter(const LoopKernel& kernel, const CudaLaunch& launch,
                                             std::span<const long long> size,
                                             std::span<const long long> address,
                                             std::span<const long long> stride,
                                             long long scratch) {
  std::vector<long long> words{launch.mode};
  words.insert(words.end(), size.begin(), size.end());
  words.insert(words.end(), address.begin(), address.end());
  words.insert(words.end(), stride.begin(), stride.end());
  words.push_back(launch.splits);
  words.push_back(scratch);
  if (static_cast<int>(words.size()) != cuda_param_words(kernel))
    throw InternalError(fmt::format("{}: {} parameter words, the kernel takes {}", kernel.name,
                                    words.size(), cuda_param_words(kernel)));
  return words;
}

std::vector<CudaLaunch> cuda_passes(const CudaLaunch& plan) {
  if (plan.mode != 3) return {plan};
  CudaLaunch final_pass = plan;
  final_pass.mode = 4;
  final_pass.grid = plan.final_grid;
  final_pass.block = plan.final_block;
  return {plan, final_pass};
}

std::vector<CudaPassLaunch> cuda_call_launches(const KernelCall& call, const CudaLaunch& plan,
                                               std::span<const long long> address,
                                               long long scratch) {
  std::vector<CudaPassLaunch> out;
  for (const CudaLaunch& pass : cuda_passes(plan))
    out.push_back({pass, cuda_kernel_parameter(call.kernel, pass, call.size, address,
                                               call.stride, scratch)});
  return out;
}

std::vector<long long> cuda_call_addresses(const KernelCall& call) {
  std::vector<long long> address;
  for (char* p : call.data)
    address.push_back(static_cast<long long>(reinterpret_cast<std::uintptr_t>(p)));
  return address;
}

bool cuda_splittable(const LoopKernel& kernel) {
  if (!kernel.reduces) return false;
  auto walks_inner = [&](const KernelArg& a) {
    return std::ranges::any_of(a.dims, [&](int d) { return std::ranges::find(kernel.inner, d) != kernel.inner.end(); });
  };
  if (std::ranges::any_of(kernel.results, walks_inner)) return false;
  // Reduction i reads reduction j when j is among the nodes i's inputs come from.
  const int n = static_cast<int>(kernel.nodes.size());
  auto is_reduction = [&](int i) { return static_cast<bool>(kernel.nodes[i]->op().emit_reduce); };
  for (int i = 0; i < n; ++i) {
    if (!is_reduction(i)) continue;
    std::vector<int> stack(kernel.sources[i].begin(), kernel.sources[i].end());
    std::vector<bool> seen(static_cast<std::size_t>(n), false);
    while (!stack.empty()) {
      const int j = stack.back();
      stack.pop_back();
      if (j < 0 || seen[j]) continue;
      seen[j] = true;
      if (is_reduction(j)) return false;
      stack.insert(stack.end(), kernel.sources[j].begin(), kernel.sources[j].end());
    }
  }
  return true;
}

CudaLaunch plan_cuda_launch(const LoopKernel& kernel, std::span<const long long> size,
                            std::span<const long long> stride, const CudaDeviceShape& device) {
  const long long outer = product(size, kernel.outer), inner = product(size, kernel.inner);
  const int max_block = std::max(kWarp, device.max_threads_per_block / kWarp * kWarp);
  // Enough blocks to fill every multiprocessor several times; the kernels loop past that.
  const long long max_grid = 32LL * std::max(1, device.multiprocessors);
  auto grid_for = [&](long long points, int block) {
    return std::min(max_grid, (points + block - 1) / block);
  };
  CudaLaunch launch;
  if (outer == 0 || (!kernel.reduces && inner == 0)) return launch;
  if (!kernel.reduces) {
    launch.block = std::min(256, max_block);
    launch.grid = grid_for(outer * inner, launch.block);
    return launch;
  }
  // Which layout reads memory in order: the innermost reduced dim contiguous (rows: a block
  // per outer point, threads side by side along the row), or the innermost outer dim
  // contiguous (columns: threads side by side across outer points). Judged on the first
  // operand that walks the dim.
  auto unit_stride = [&](int dim) {
    for (std::size_t a = 0; a < kernel.operands.size(); ++a)
      if (std::ranges::find(kernel.operands[a].dims, dim) != kernel.operands[a].dims.end())
        return stride[a * kernel.num_dims + dim] == 1 || size[dim] == 1;
    return false;
  };
  const bool rows = !kernel.inner.empty() && unit_stride(kernel.inner.back());
  const bool columns = !kernel.outer.empty() && unit_stride(kernel.outer.back());
  const bool few_outputs = outer < 4LL * kWarp * std::max(1, device.multiprocessors);
  const int sms = std::max(1, device.multiprocessors);
  const int split_block = std::min(256, max_block);
  // Each block of a split takes at least 4 points per thread; enough splits for 4 blocks
  // per multiprocessor in all.
  const long long splits = std::min((inner + 4LL * split_block - 1) / (4LL * split_block),
                                    std::max(1LL, 4LL * sms / outer));
  if (outer < 2LL * sms && splits >= 2 && cuda_splittable(kernel)) {
    launch.mode = 3;
    launch.block = split_block;
    launch.splits = splits;
    launch.grid = std::min(max_grid, outer * splits);
    int reductions = 0;
    for (const Node* n : kernel.nodes) reductions += n->op().emit_reduce ? 1 : 0;
    launch.scratch_bytes = static_cast<std::size_t>(reductions * outer * splits * 16);
    launch.final_block = static_cast<int>(std::min<long long>(split_block, (outer + kWarp - 1) / kWarp * kWarp));
    launch.final_grid = (outer + launch.final_block - 1) / launch.final_block;
  } else if (inner > kWarp && !rows && columns && outer >= kWarp) {
    // Columns: a warp of neighbouring outer points, rows of threads splitting the reduced
    // points between them.
    launch.mode = 2;
    launch.block = std::min(kColumnBlock, max_block);
    launch.grid = std::min(max_grid, (outer + kWarp - 1) / kWarp);
  } else if (inner > kWarp && (rows || few_outputs)) {
    // A block per outer point (also when there are too few to keep the device busy with a
    // thread each), no more threads than the reduced extent can use.
    launch.mode = 1;
    launch.block = static_cast<int>(std::min<long long>(
        std::min(256, max_block), (inner + kWarp - 1) / kWarp * kWarp));
    launch.grid = std::min(max_grid, outer);
  } else {
    launch.block = std::min(256, max_block);
    launch.grid = grid_for(outer, launch.block);
  }
  return launch;
}

}  // namespace cgvm
