#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/blas.hpp"
#include "runtime/thread_pool.hpp"

using namespace cgvm;

namespace {

// Restores the thread count a test changed, so test order does not matter.
struct ThreadCountGuard {
  int before = num_threads();
  int blas_before = blas::num_threads();
  ~ThreadCountGuard() {
    set_num_threads(before);
    blas::set_num_threads(blas_before);
  }
};

struct Chunk {
  std::int64_t begin, end;
  std::thread::id thread;
};

// Runs parallel_for and returns every chunk it was given, after checking that each index
// of [0, n) was visited exactly once.
std::vector<Chunk> run_and_check_cover(std::int64_t n, std::int64_t grain) {
  std::vector<std::atomic<int>> visits(static_cast<std::size_t>(n));
  std::mutex m;
  std::vector<Chunk> chunks;
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
    std::lock_guard lock(m);
    chunks.push_back({begin, end, std::this_thread::get_id()});
  });
  std::int64_t wrong = 0;
  for (auto& v : visits) wrong += v.load() != 1;
  CHECK(wrong == 0);
  return chunks;
}

}  // namespace

TEST_CASE("thread pool: every index is covered exactly once, in valid chunks") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3, 4, 7}) {
    set_num_threads(threads);
    REQUIRE(num_threads() == threads);
    for (std::int64_t n : {0, 1, 2, 3, 5, 7, 8, 63, 64, 65, 1000, 1001, 100003}) {
      for (std::int64_t grain : {-1, 0, 1, 2, 3, 7, 64, 1000, 200000}) {
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        std::vector<Chunk> chunks = run_and_check_cover(n, grain);
        const std::int64_t g = std::max<std::int64_t>(grain, 1);
        if (n == 0) {
          CHECK(chunks.empty());
          continue;
        }
        // At most num_threads() chunks; each at least `grain` long unless it is the whole.
        CHECK(chunks.size() >= 1);
        CHECK(chunks.size() <= static_cast<std::size_t>(threads));
        const std::int64_t expected_chunks =
            std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n / g));
        CHECK(static_cast<std::int64_t>(chunks.size()) == expected_chunks);
        for (const Chunk& c : chunks) {
          CHECK(c.begin < c.end);
          if (chunks.size() > 1) CHECK(c.end - c.begin >= g);
        }
      }
    }
  }
}

TEST_CASE("thread pool: a parallel sum equals the serial loop") {
  ThreadCountGuard guard;
  set_num_threads(4);
  const std::int64_t n = 1'000'003;
  std::vector<double> x(n);
  for (std::int64_t i = 0; i < n; ++i) x[i] = double(i % 1000) * 0.5 - 17.0;
  std::vector<double> y(n, -1.0);
  parallel_for(n, 1000, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) y[i] = x[i] * x[i] + 1.0;
  });
  std::int64_t mismatches = 0;
  for (std::int64_t i = 0; i < n; ++i) mismatches += y[i] != x[i] * x[i] + 1.0;
  CHECK(mismatches == 0);

  // Many back-to-back regions (the executor's pattern): workers go to sleep and wake again.
  for (int round = 0; round < 300; ++round) {
    std::atomic<std::int64_t> total{0};
    parallel_for(1000 + round, 10, [&](std::int64_t begin, std::int64_t end) {
      std::int64_t s = 0;
      for (std::int64_t i = begin; i < end; ++i) s += i;
      total += s;
    });
    const std::int64_t m = 1000 + round;
    REQUIRE(total.load() == m * (m - 1) / 2);
    if (round % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

TEST_CASE("thread pool: the caller runs the first chunk; one thread runs all on the caller") {
  ThreadCountGuard guard;
  const std::thread::id me = std::this_thread::get_id();

  set_num_threads(1);
  CHECK(num_threads() == 1);
  CHECK(blas::num_threads() == 1);  // OpenBLAS follows the setting
  std::vector<Chunk> chunks = run_and_check_cover(100000, 1);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].thread == me);
  CHECK(chunks[0].begin == 0);
  CHECK(chunks[0].end == 100000);

  set_num_threads(3);
  CHECK(blas::num_threads() == 3);
  chunks = run_and_check_cover(3000, 1000);
  REQUIRE(chunks.size() == 3);
  bool caller_ran_first = false;
  for (const Chunk& c : chunks) caller_ran_first |= c.begin == 0 && c.thread == me;
  CHECK(caller_ran_first);

  set_num_threads(0);  // the default: positive whatever the environment says
  CHECK(num_threads() >= 1);
}

TEST_CASE("thread pool: nested parallel_for runs inline on the calling thread") {
  ThreadCountGuard guard;
  set_num_threads(4);
  const std::int64_t rows = 8, cols = 1000;
  std::vector<std::atomic<int>> visits(rows * cols);
  std::atomic<int> inner_not_inline{0};
  parallel_for(rows, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::thread::id outer = std::this_thread::get_id();
      parallel_for(cols, 1, [&](std::int64_t c0, std::int64_t c1) {
        if (std::this_thread::get_id() != outer || c0 != 0 || c1 != cols) ++inner_not_inline;
        for (std::int64_t c = c0; c < c1; ++c) visits[r * cols + c].fetch_add(1);
      });
    }
  });
  CHECK(inner_not_inline.load() == 0);
  int wrong = 0;
  for (auto& v : visits) wrong += v.load() != 1;
  CHECK(wrong == 0);
}

TEST_CASE("thread pool: an exception reaches the caller after every chunk ran") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    set_num_threads(threads);
    for (std::int64_t bad_index : {0, 5, 999}) {  // the caller's chunk, and workers' chunks
      CAPTURE(bad_index);
      std::atomic<std::int64_t> visited{0};
      bool thrown = false;
      try {
        parallel_for(1000, 10, [&](std::int64_t begin, std::int64_t end) {
          visited += end - begin;
          if (begin <= bad_index && bad_index < end) throw std::runtime_error("chunk failed");
        });
      } catch (const std::runtime_error& e) {
        thrown = std::string(e.what()) == "chunk failed";
      }
      CHECK(thrown);
      CHECK(visited.load() == 1000);  // every chunk still ran
    }
    // Every chunk throws: exactly one exception comes back, and the pool works afterwards.
    CHECK_THROWS_AS(parallel_for(1000, 1, [](std::int64_t, std::int64_t) { throw 42; }), int);
    std::vector<Chunk> chunks = run_and_check_cover(5000, 1);
    CHECK(chunks.size() == static_cast<std::size_t>(threads));
  }
}

TEST_CASE("thread pool: two threads calling parallel_for at once both get right answers") {
  ThreadCountGuard guard;
  set_num_threads(3);
  std::atomic<int> failures{0};
  auto client = [&](int seed) {
    for (int round = 0; round < 200; ++round) {
      const std::int64_t n = 500 + seed * 7 + round;
      std::vector<int> out(n, 0);
      parallel_for(n, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) out[i] += int(i) + seed;
      });
      for (std::int64_t i = 0; i < n; ++i) failures += out[i] != int(i) + seed;
    }
  };
  std::thread a(client, 1), b(client, 2);
  a.join();
  b.join();
  CHECK(failures.load() == 0);
}

namespace {
struct AbiContext {
  std::vector<std::atomic<int>>* visits;
  std::atomic<int> calls;
};
void abi_body(void* ctx, std::int64_t begin, std::int64_t end) {
  auto* c = static_cast<AbiContext*>(ctx);
  ++c->calls;
  for (std::int64_t i = begin; i < end; ++i) (*c->visits)[i].fetch_add(1);
}
}  // namespace

TEST_CASE("thread pool: the C ABI entry covers the range like parallel_for") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 9, 10000}) {
      CAPTURE(n);
      std::vector<std::atomic<int>> visits(n);
      AbiContext ctx{&visits, {0}};
      cgvm_parallel_for(n, 4, abi_body, &ctx);
      int wrong = 0;
      for (auto& v : visits) wrong += v.load() != 1;
      CHECK(wrong == 0);
      CHECK(ctx.calls.load() == (n == 0 ? 0 : std::max(1, std::min(threads, int(n / 4)))));
    }
  }
}

// Regression: the next region's fields are written before its claim word, so a worker that
// judged "chunks left" by the shared count could claim a chunk the finished region never had
// and run a chunk of the next region twice. Back-to-back regions whose chunk counts differ
// give a late worker that window (more threads than cores make it likely).
TEST_CASE("thread pool: back-to-back regions of different chunk counts run each chunk once") {
  ThreadCountGuard guard;
  for (int threads : {3, 7}) {
    CAPTURE(threads);
    set_num_threads(threads);
    std::int64_t wrong = 0;
    std::vector<std::atomic<int>> visits(threads);
    for (int round = 0; round < 20000; ++round) {
      const std::int64_t n = 2 + round % (threads - 1);  // 2 .. threads chunks of one index
      for (std::int64_t i = 0; i < n; ++i) visits[i].store(0, std::memory_order_relaxed);
      parallel_for(n, 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
      });
      for (std::int64_t i = 0; i < n; ++i) wrong += visits[i].load() != 1;
    }
    CHECK(wrong == 0);
  }
}
