#include "runtime/allocator.hpp"

#include "runtime/options.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace cgvm {

namespace {

constexpr std::size_t alignment = 64;
// Up to here classes are 64-byte steps; past it, steps of a quarter power of two, so a
// buffer of a slightly different size still finds a cached block and no class wastes more
// than a quarter of its size.
constexpr std::size_t small_limit = 4096;

std::size_t size_class(std::size_t bytes) {
  if (bytes == 0) return alignment;  // a unique, valid block even for empty arrays
  if (bytes <= small_limit) return (bytes + alignment - 1) / alignment * alignment;
  // Largest power of two <= bytes, then round up in quarters of it.
  const std::size_t power = std::bit_floor(bytes);
  const std::size_t quarter = power / 4;
  if (bytes > std::numeric_limits<std::size_t>::max() - quarter) throw std::bad_alloc();
  return (bytes + quarter - 1) / quarter * quarter;
}


}  // namespace

struct Allocator::Impl {
  mutable std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;  // by size class
  std::size_t cache_limit = 0;
  AllocatorStats stats;

  // Frees cached blocks, largest classes first, until at most `target` bytes stay cached.
  // Caller holds the mutex.
  void shrink_to(std::size_t target) {
    if (stats.bytes_cached <= target) return;
    std::vector<std::size_t> classes;
    for (auto& [cls, list] : free_lists)
      if (!list.empty()) classes.push_back(cls);
    std::sort(classes.rbegin(), classes.rend());
    for (std::size_t cls : classes) {
      auto& list = free_lists[cls];
      while (!list.empty() && stats.bytes_cached > target) {
        std::free(list.back());
        list.pop_back();
        stats.bytes_cached -= cls;
      }
      if (stats.bytes_cached <= target) break;
    }
  }
};

Allocator& Allocator::global() {
  // Never destroyed: arrays held in static objects may be released after main() returns.
  static Allocator* instance = new Allocator();
  return *instance;
}

Allocator::Allocator() : impl_(new Impl) { impl_->cache_limit = options().allocator_cache_bytes; }

Allocator::~Allocator() {
  trim();
  delete impl_;
}

void* Allocator::allocate(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  {
    std::lock_guard lock(impl_->mutex);
    ++impl_->stats.allocations;
    auto it = impl_->free_lists.find(cls);
    if (it != impl_->free_lists.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      impl_->stats.cache_hits++;
      impl_->stats.bytes_cached -= cls;
      impl_->stats.bytes_in_use += cls;
      return block;
    }
  }
  void* block = std::aligned_alloc(alignment, cls);
  if (block == nullptr) {
    // Cached blocks of other sizes may be what stands between us and success.
    trim();
    block = std::aligned_alloc(alignment, cls);
    if (block == nullptr) throw std::bad_alloc();
  }
  std::lock_guard lock(impl_->mutex);
  impl_->stats.bytes_in_use += cls;
  return block;
}

void Allocator::release(void* ptr, std::size_t bytes) {
  if (ptr == nullptr) return;
  const std::size_t cls = size_class(bytes);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stats.bytes_in_use -= std::min(cls, impl_->stats.bytes_in_use);
    if (impl_->stats.bytes_cached + cls <= impl_->cache_limit) {
      impl_->free_lists[cls].push_back(ptr);
      impl_->stats.bytes_cached += cls;
      return;
    }
  }
  std::free(ptr);
}

void Allocator::trim() {
  std::lock_guard lock(impl_->mutex);
  impl_->shrink_to(0);
  impl_->free_lists.clear();
}

void Allocator::set_cache_limit(std::size_t bytes) {
  std::lock_guard lock(impl_->mutex);
  impl_->cache_limit = bytes;
  impl_->shrink_to(bytes);
}

AllocatorStats Allocator::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace cgvm
