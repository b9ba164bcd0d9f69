#include "cuda_emulator.hpp"

#include <fmt/format.h>

#include <ucontext.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <mutex>
#include <vector>

#include "jit/jit.hpp"
#include "jit/jit_helpers.hpp"

namespace cgvm::test {
namespace {

// What CUDA's names mean on the CPU. The functions are this file's, made visible to the
// JIT with register_jit_symbol.
constexpr const char* kEmulationHeader = R"(// CUDA emulated on the CPU (tests/cuda/cuda_emulator.cpp)
struct cgvm_emu_dim3 { unsigned x, y, z; };
extern "C" const cgvm_emu_dim3* cgvm_emu_index(int which);
extern "C" void cgvm_emu_sync(int line);
extern "C" void cgvm_emu_shfl_down(void* value, int bytes, int offset, unsigned mask, int line);
#define threadIdx (*cgvm_emu_index(0))
#define blockIdx (*cgvm_emu_index(1))
#define blockDim (*cgvm_emu_index(2))
#define gridDim (*cgvm_emu_index(3))
#define __global__
#define __device__
#define __shared__ static
#define __forceinline__ inline
#define __restrict__ __restrict
// Each barrier and shuffle says where it is, so that threads meeting at different ones
// (undefined on a GPU, where it may hang or mix up values) stop the emulation.
#define __syncthreads() cgvm_emu_sync(__LINE__)
template <class T> T cgvm_emu_shfl_down_sync(unsigned mask, T value, int offset, int line) {
  cgvm_emu_shfl_down(&value, sizeof(T), offset, mask, line);
  return value;
}
#define __shfl_down_sync(mask, value, offset) \
  cgvm_emu_shfl_down_sync(mask, value, offset, __LINE__)
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
// A block's fibers switch only at barriers and shuffles: a plain read and write is atomic.
static inline unsigned long long atomicCAS(unsigned long long* at, unsigned long long compare,
                                           unsigned long long value) {
  const unsigned long long old = *at;
  if (old == compare) *at = value;
  return old;
}
)";

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
constexpr int kWarp = 32;
constexpr std::size_t kFiberStack = 256 * 1024;

// The threads of a block are fibers (ucontext) on the launching thread, switched at
// barriers and shuffles: a round-robin that is deterministic and costs no kernel context
// switches. A sweep in which no fiber gets further means some never reach a barrier the
// others wait at: the emitter's bug, reported instead of hanging the test run.
struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack{new char[kFiberStack]};  // not cleared: it is a stack
  Dim3 index;
  bool done = false;
};

struct Scheduler {
  ucontext_t main;
  std::vector<Fiber> fibers;
  int current = -1;
  long long progress = 0;  // arrivals and finishes so far
  std::function<void()> body;
};

Scheduler* scheduler = nullptr;  // of the launch running now (one at a time)
Dim3 block_index, block_dim, grid_dim;

void yield_fiber() {
  Fiber& f = scheduler->fibers[static_cast<std::size_t>(scheduler->current)];
  swapcontext(&f.context, &scheduler->main);
}

void fiber_entry() {
  scheduler->body();
  scheduler->fibers[static_cast<std::size_t>(scheduler->current)].done = true;
  ++scheduler->progress;
}  // returns to uc_link: the scheduler

// Runs `body` on `threads` fibers to the end.
void run_fibers(int threads, const std::function<void()>& body) {
  scheduler->body = body;
  // Fibers (and their stacks) are kept for the next block: a launch of fewer threads uses
  // the first ones.
  if (scheduler->fibers.size() < static_cast<std::size_t>(threads))
    scheduler->fibers.resize(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    Fiber& f = scheduler->fibers[static_cast<std::size_t>(t)];
    f.index = {static_cast<unsigned>(t), 0, 0};
    f.done = false;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kFiberStack;
    f.context.uc_link = &scheduler->main;
    makecontext(&f.context, fiber_entry, 0);
  }
  for (int alive = threads; alive > 0;) {
    const long long before = scheduler->progress;
    alive = 0;
    for (int t = 0; t < threads; ++t) {
      if (scheduler->fibers[static_cast<std::size_t>(t)].done) continue;
      scheduler->current = t;
      swapcontext(&scheduler->main, &scheduler->fibers[static_cast<std::size_t>(t)].context);
      alive += !scheduler->fibers[static_cast<std::size_t>(t)].done;
    }
    if (alive > 0 && scheduler->progress == before) {
      std::fprintf(stderr, "emulated CUDA kernel: %d threads wait at barriers that the other "
                           "threads of block %u never reach\n", alive, block_index.x);
      std::abort();
    }
  }
  scheduler->current = -1;
}

const Dim3& thread_index() {
  return scheduler->fibers[static_cast<std::size_t>(scheduler->current)].index;
}

// __syncthreads for a block, or the lockstep of a warp's shuffle: every thread it waits for
// must arrive at the same one (the line of the unit's source where it is).
class Barrier {
 public:
  Barrier(int count, const char* what) : count_(count), what_(what) {}
  void arrive_and_wait(int line) {
    ++scheduler->progress;
    if (arrived_ == 0) {
      line_ = line;
    } else if (line != line_) {
      std::fprintf(stderr, "emulated CUDA kernel: thread %u of block %u reaches the %s at line "
                           "%d while others wait at the one at line %d\n",
                   thread_index().x, block_index.x, what_, line, line_);
      std::abort();
    }
    const long long generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      return;
    }
    while (generation_ == generation) yield_fiber();
  }

 private:
  const int count_;
  const char* what_;
  int arrived_ = 0;
  int line_ = 0;  // of the arrivals so far
  long long generation_ = 0;
};

struct Block {
  explicit Block(int threads) : barrier(threads, "__syncthreads") {
    for (int w = 0; w < threads / kWarp; ++w) warps.push_back(std::make_unique<Warp>());
  }
  struct Warp {
    Barrier barrier{kWarp, "shuffle"};
    std::array<std::array<unsigned char, 8>, kWarp> lanes{};
  };
  Barrier barrier;
  std::vector<std::unique_ptr<Warp>> warps;
};

Block* current_block = nullptr;
std::mutex launch_mutex;

const Dim3* emu_index(int which) {
  switch (which) {
    case 0: return &thread_index();
    case 1: return &block_index;
    case 2: return &block_dim;
    default: return &grid_dim;
  }
}

void emu_sync(int line) { current_block->barrier.arrive_and_wait(line); }

// Every lane of the warp calls it, at one place, with the full mask (the emulation runs
// whole warps, as the kernels do); lanes past the warp's end keep their value, as on the
// device.
void emu_shfl_down(void* value, int bytes, int offset, unsigned mask, int line) {
  const unsigned thread = thread_index().x;
  if (mask != 0xffffffffu) {
    std::fprintf(stderr, "emulated CUDA kernel: a shuffle at line %d with mask %#x; the kernels "
                         "shuffle whole warps\n", line, mask);
    std::abort();
  }
  Block::Warp& warp = *current_block->warps[thread / kWarp];
  const unsigned lane = thread % kWarp;
  std::memcpy(warp.lanes[lane].data(), value, static_cast<std::size_t>(bytes));
  warp.barrier.arrive_and_wait(line);
  if (lane + static_cast<unsigned>(offset) < kWarp)
    std::memcpy(value, warp.lanes[lane + static_cast<unsigned>(offset)].data(),
                static_cast<std::size_t>(bytes));
  warp.barrier.arrive_and_wait(line);
}

using EmulatedKernel = void(const long long* words);

}  // namespace

struct CudaEmulator::Impl {
  Scheduler fiber_pool;  // its fibers' stacks serve every launch
  std::shared_ptr<const CompiledModule> module;
  std::vector<EmulatedKernel*> kernels;  // by kernel table index, or as the unit lists them
  std::vector<std::string> names;

  // Compiles `cuda` (without device builtins) for the CPU behind the emulation header, with
  // a host-callable entry per kernel (a kernel takes its parameter struct by value).
  void compile(const std::string& cuda, const std::vector<std::pair<std::string, int>>& list) {
    register_jit_symbol("cgvm_emu_index", reinterpret_cast<void*>(&emu_index));
    register_jit_symbol("cgvm_emu_sync", reinterpret_cast<void*>(&emu_sync));
    register_jit_symbol("cgvm_emu_shfl_down", reinterpret_cast<void*>(&emu_shfl_down));
    std::string source = kEmulationHeader + cuda;
    for (const auto& [name, words] : list)
      source += fmt::format(
          "extern \"C\" void {0}_emulated(const long long* w) {{\n"
          "  {0}_params p;\n  for (int i = 0; i < {1}; ++i) p.w[i] = w[i];\n  {0}(p);\n}}\n",
          name, words);
    module = compile_cpp(source, fresh_jit_options());
    for (const auto& entry : list) {
      kernels.push_back(module->function<EmulatedKernel>(entry.first + "_emulated"));
      names.push_back(entry.first);
    }
  }

  // One launch: the blocks one after another, each block's threads as fibers.
  void run(EmulatedKernel* kernel, long long grid, int block_threads,
           const std::vector<long long>& words) {
    scheduler = &fiber_pool;
    block_dim = {static_cast<unsigned>(block_threads), 1, 1};
    grid_dim = {static_cast<unsigned>(grid), 1, 1};
    for (long long b = 0; b < grid; ++b) {
      Block block(block_threads);
      current_block = &block;
      block_index = {static_cast<unsigned>(b), 0, 0};
      run_fibers(block_threads, [&] { kernel(words.data()); });
    }
    current_block = nullptr;
    scheduler = nullptr;
  }
};

CudaEmulator::CudaEmulator(const Program& program) : impl_(std::make_unique<Impl>()) {
  // The emitted unit without its device-math names (the host has the Clang builtins).
  const std::string emitted = emit_cuda(program);
  std::vector<std::pair<std::string, int>> list;
  for (const LoopKernel* k : all_kernels(program)) list.emplace_back(k->name, cuda_param_words(*k));
  impl_->compile(emitted.substr(cuda_device_builtins().size()), list);
}

CudaEmulator::CudaEmulator(const std::string& source,
                           const std::vector<std::pair<std::string, int>>& kernels)
    : impl_(std::make_unique<Impl>()) {
  impl_->compile(source, kernels);
}

CudaEmulator::~CudaEmulator() = default;

void CudaEmulator::launch(const KernelCall& call) {
  const LoopKernel& k = call.kernel;
  const CudaLaunch plan = plan_cuda_launch(k, call.size, call.stride, device_shape);
  if (plan.grid == 0) return;
  // The "device" addresses are the host's; so is a split reduction's scratch memory.
  std::vector<char> scratch(plan.scratch_bytes);

  EmulatedKernel* kernel = impl_->kernels.at(static_cast<std::size_t>(call.index));
  std::lock_guard lock(launch_mutex);
  for (const CudaPassLaunch& l : cuda_call_launches(call, plan, cuda_call_addresses(call),
                                                    reinterpret_cast<long long>(scratch.data()))) {
    modes_.insert(l.pass.mode);
    impl_->run(kernel, l.pass.grid, l.pass.block, l.words);
  }
}

void CudaEmulator::run(const std::string& name, long long grid, int block,
                       const std::vector<long long>& words) {
  const auto it = std::find(impl_->names.begin(), impl_->names.end(), name);
  if (it == impl_->names.end()) throw std::invalid_argument("no emulated kernel " + name);
  if (grid == 0) return;
  std::lock_guard lock(launch_mutex);
  impl_->run(impl_->kernels[static_cast<std::size_t>(it - impl_->names.begin())], grid, block,
             words);
}

}  // namespace cgvm::test
