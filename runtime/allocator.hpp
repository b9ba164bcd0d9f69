#pragma once
// A caching allocator for array storage.
//
// Fresh pages are expensive on our machines (~11-18 us per 4 KiB page on first touch; a new
// 64 MiB buffer costs ~175 ms of page faults), so freed blocks are kept in per-size free
// lists and handed out again instead of going back to the OS. Every block is 64-byte
// aligned. Thread-safe.
#include <cstddef>
#include <cstdint>

namespace cgvm {

struct AllocatorStats {
  std::uint64_t allocations = 0;   // calls to allocate()
  std::uint64_t cache_hits = 0;    // allocations served from a free list
  // Byte counts are of whole blocks: requests round up to a size class (64-byte steps up
  // to 4 KiB, then quarter powers of two), so they can exceed the bytes asked for.
  std::size_t bytes_in_use = 0;    // handed out and not yet released
  std::size_t bytes_cached = 0;    // held in free lists
};

class Allocator {
 public:
  static Allocator& global();

  // Returns a 64-byte aligned block of at least `bytes` bytes (never null; throws
  // std::bad_alloc). Zero bytes returns a valid unique block.
  void* allocate(std::size_t bytes);
  // `bytes` must be the value passed to allocate().
  void release(void* ptr, std::size_t bytes);

  // Gives every cached block back to the OS.
  void trim();
  // Cached bytes above this limit are freed instead of kept (default 2 GiB, or
  // CGVM_ALLOCATOR_CACHE_MB).
  void set_cache_limit(std::size_t bytes);
  AllocatorStats stats() const;

  Allocator();
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace cgvm
