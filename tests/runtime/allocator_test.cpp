#include <cstring>
#include <thread>

#include "runtime/allocator.hpp"
#include "runtime/array.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }
}  // namespace

TEST_CASE("allocator: a released block is handed out again for the same size") {
  Allocator alloc;
  void* p = alloc.allocate(1000);
  CHECK(aligned(p));
  std::memset(p, 1, 1000);
  CHECK(alloc.stats().allocations == 1);
  CHECK(alloc.stats().cache_hits == 0);
  CHECK(alloc.stats().bytes_in_use >= 1000);
  alloc.release(p, 1000);
  CHECK(alloc.stats().bytes_in_use == 0);
  CHECK(alloc.stats().bytes_cached >= 1000);
  void* q = alloc.allocate(1000);
  CHECK(q == p);
  CHECK(alloc.stats().cache_hits == 1);
  CHECK(alloc.stats().bytes_cached == 0);
  alloc.release(q, 1000);
}

TEST_CASE("allocator: nearby sizes share a size class") {
  Allocator alloc;
  void* p = alloc.allocate(1000);
  alloc.release(p, 1000);
  CHECK(alloc.allocate(1020) == p);  // both round up to 1024
  alloc.release(p, 1020);

  // Large sizes round up to a quarter power of two: 1 MiB + 1 and 1.2 MiB share 1.25 MiB.
  const std::size_t mib = 1 << 20;
  void* big = alloc.allocate(mib + 1);
  CHECK(aligned(big));
  alloc.release(big, mib + 1);
  void* again = alloc.allocate(mib + mib / 5);
  CHECK(again == big);
  std::memset(again, 0, mib + mib / 5);  // the whole request is usable
  alloc.release(again, mib + mib / 5);
  void* other = alloc.allocate(2 * mib);  // a different class: no hit
  CHECK(other != big);
  CHECK(alloc.stats().cache_hits == 2);
  alloc.release(other, 2 * mib);
}

TEST_CASE("allocator: zero-byte requests give distinct valid blocks") {
  Allocator alloc;
  void* a = alloc.allocate(0);
  void* b = alloc.allocate(0);
  CHECK(a != nullptr);
  CHECK(b != nullptr);
  CHECK(a != b);
  CHECK(aligned(a));
  alloc.release(a, 0);
  alloc.release(b, 0);
  CHECK(Array::zeros({0, 4}).raw_data() != nullptr);
}

TEST_CASE("allocator: trim and the cache limit give memory back") {
  Allocator alloc;
  void* a = alloc.allocate(4096);
  void* b = alloc.allocate(100000);
  alloc.release(a, 4096);
  alloc.release(b, 100000);
  CHECK(alloc.stats().bytes_cached > 100000);
  alloc.trim();
  CHECK(alloc.stats().bytes_cached == 0);

  alloc.set_cache_limit(8192);
  void* c = alloc.allocate(100000);
  alloc.release(c, 100000);  // over the limit: freed, not cached
  CHECK(alloc.stats().bytes_cached == 0);
  void* d = alloc.allocate(4096);
  alloc.release(d, 4096);
  CHECK(alloc.stats().bytes_cached == 4096);
  alloc.set_cache_limit(0);  // lowering the limit evicts
  CHECK(alloc.stats().bytes_cached == 0);
}

TEST_CASE("allocator: arrays reuse storage through the global allocator") {
  Allocator& global = Allocator::global();
  { Array warm = Array::empty({123, 77}); }
  const AllocatorStats before = global.stats();
  { Array again = Array::empty({123, 77}); }
  const AllocatorStats after = global.stats();
  CHECK(after.allocations == before.allocations + 1);
  CHECK(after.cache_hits == before.cache_hits + 1);
}

TEST_CASE("allocator: concurrent use is safe") {
  Allocator alloc;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&alloc, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t n = 64 * (1 + (i + t) % 7);
        void* p = alloc.allocate(n);
        std::memset(p, t, n);
        alloc.release(p, n);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(alloc.stats().allocations == 8000);
  CHECK(alloc.stats().bytes_in_use == 0);
}
