#include "runtime/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/blas.hpp"
#include "runtime/options.hpp"

namespace cgvm {
namespace {

// How long a thread that has nothing to do spins before it sleeps. Long enough to catch
// the next kernel of a back-to-back sequence (a region that has to wake a sleeping worker
// took ~3.5 us here, against ~1 us while it spins), short enough that an idle pool leaves
// the cores to OpenBLAS.
constexpr auto kSpin = std::chrono::microseconds(5);

// True on pool workers always, and on a caller while it runs its chunks: a parallel_for
// from there is nested and runs inline.
thread_local bool t_inside_region = false;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until `ready()` or the spin budget is spent; true when ready.
template <class Ready>
bool spin_until(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {  // reading the clock costs more than a pause
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

int default_num_threads() {
  if (options().num_threads > 0) return options().num_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// 0 until decided; then the thread count.
std::atomic<int> g_num_threads{0};

// The packed claim word: the region's generation in the high 32 bits, its chunk count in
// the next 16 and the next unclaimed chunk in the low 16. A thread claims a chunk by
// compare-exchange of the whole word, so a worker that wakes late can never take a chunk of
// a later region, and it judges "chunks left" by the count of the region it claims from:
// the plain fields of the next region are written before its claim word, so a count read
// from them may already belong to a region that is not yet published.
constexpr std::int64_t kMaxChunks = 0xffff;
struct Claim {
  std::uint32_t generation, chunks, next;
  static Claim unpack(std::uint64_t w) {
    return {std::uint32_t(w >> 32), std::uint32_t(w >> 16) & 0xffff, std::uint32_t(w) & 0xffff};
  }
};
constexpr std::uint64_t pack(std::uint32_t generation, std::uint32_t chunks, std::uint32_t next) {
  return (std::uint64_t(generation) << 32) | (std::uint64_t(chunks) << 16) | next;
}

class Pool {
 public:
  // Runs one region; the caller holds busy_.
  void run(std::int64_t n, std::int64_t chunks, RangeBody body, void* ctx, int threads) {
    if (static_cast<int>(workers_.size()) != threads - 1) resize(threads - 1);
    // Publish the region: plain fields first, then the claim word and the generation with
    // release, so whoever reads either sees the fields.
    body_.store(body, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    n_.store(n, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    const std::uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
    claim_.store(pack(generation, static_cast<std::uint32_t>(chunks), 1),
                 std::memory_order_release);  // chunk 0 is the caller's
    generation_.store(generation, std::memory_order_release);
    generation_.notify_all();

    run_chunk(0, body, ctx, n, chunks);
    run_claimed_chunks(generation);

    const std::uint32_t all = static_cast<std::uint32_t>(chunks);
    if (!spin_until([&] { return done_.load(std::memory_order_acquire) == all; })) {
      for (std::uint32_t d; (d = done_.load(std::memory_order_acquire)) != all;)
        done_.wait(d, std::memory_order_acquire);
    }
    if (failed_.load(std::memory_order_relaxed)) {
      std::exception_ptr error = std::move(error_);
      error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

  std::mutex busy_;  // one region at a time

 private:
  void resize(std::size_t workers) {
    stop_workers();
    stop_.store(false, std::memory_order_relaxed);
    const std::uint32_t seen = generation_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this, seen] { work(seen); });
  }

  void stop_workers() {
    if (workers_.empty()) return;
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  void work(std::uint32_t seen) {
    t_inside_region = true;
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }))
        generation_.wait(seen, std::memory_order_acquire);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      run_claimed_chunks(seen);
    }
  }

  // Claims and runs chunks of region `generation` until none is left.
  void run_claimed_chunks(std::uint32_t generation) {
    std::uint64_t word = claim_.load(std::memory_order_acquire);
    for (;;) {
      const Claim c = Claim::unpack(word);
      if (c.generation != generation || c.next >= c.chunks) return;
      if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acquire,
                                        std::memory_order_acquire))
        continue;
      // Our claimed chunk keeps the region open: its fields stay as they are until we
      // report it done.
      run_chunk(c.next, body_.load(std::memory_order_relaxed), ctx_.load(std::memory_order_relaxed),
                n_.load(std::memory_order_relaxed), c.chunks);
      word = claim_.load(std::memory_order_acquire);
    }
  }

  void run_chunk(std::uint32_t index, RangeBody body, void* ctx, std::int64_t n,
                 std::int64_t chunks) {
    // Sizes differ by at most one; computed without index * n, which could overflow.
    const std::int64_t base = n / chunks, extra = n % chunks, i = index;
    const std::int64_t begin = i * base + std::min(i, extra);
    const std::int64_t end = begin + base + (i < extra ? 1 : 0);
    try {
      body(ctx, begin, end);
    } catch (...) {
      if (!failed_.exchange(true, std::memory_order_relaxed)) error_ = std::current_exception();
    }
    // The last chunk's report may let the caller return and publish the next region, so
    // nothing of this one may be read after it.
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == std::uint32_t(chunks))
      done_.notify_all();
  }

  std::vector<std::thread> workers_;
  std::atomic<std::uint32_t> generation_{0};  // workers sleep on this
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<RangeBody> body_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<std::int64_t> n_{0};
  std::atomic<std::uint32_t> done_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // written by the first failing chunk, before its done_ report
};

// Never destroyed: joining workers from a static destructor would race with other
// destructors and with atexit handlers that still call parallel_for. The OS reclaims the
// threads at exit.
Pool& pool() {
  static Pool* instance = new Pool;
  return *instance;
}

}  // namespace

int num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  // First use: decide the default once and give OpenBLAS the same count.
  static const int decided = [] {
    int expected = 0;
    const int d = default_num_threads();
    if (g_num_threads.compare_exchange_strong(expected, d)) blas::set_num_threads(d);
    return 0;
  }();
  (void)decided;
  return g_num_threads.load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
  if (n <= 0) n = default_num_threads();
  g_num_threads.store(n, std::memory_order_relaxed);
  blas::set_num_threads(n);
}

namespace detail {

void parallel_for_erased(std::int64_t n, std::int64_t grain, RangeBody body, void* ctx) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const int threads = num_threads();
  const std::int64_t chunks = std::min({std::int64_t(threads), n / grain, kMaxChunks});
  if (chunks <= 1 || t_inside_region) {
    body(ctx, 0, n);
    return;
  }
  Pool& p = pool();
  std::unique_lock lock(p.busy_, std::try_to_lock);
  if (!lock.owns_lock()) {  // another thread's region is running
    body(ctx, 0, n);
    return;
  }
  t_inside_region = true;
  struct Reset {
    ~Reset() { t_inside_region = false; }
  } reset;
  p.run(n, chunks, body, ctx, threads);
}

}  // namespace detail
}  // namespace cgvm

extern "C" void cgvm_parallel_for(std::int64_t n, std::int64_t grain,
                                  void (*body)(void* ctx, std::int64_t begin, std::int64_t end),
                                  void* ctx) {
  cgvm::detail::parallel_for_erased(n, grain, body, ctx);
}
