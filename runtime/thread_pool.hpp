#pragma once
// The runtime's one thread pool (DESIGN.md §5: two pools on two cores fight, so we own one
// and keep OpenBLAS at the same thread count).
//
// parallel_for(n, grain, body) calls body(begin, end) on contiguous chunks that cover
// [0, n) exactly once:
//  - at most num_threads() chunks, each of at least `grain` items, sizes differing by at
//    most one. n <= grain, one thread, or a call from inside a parallel region (nested, on
//    a worker or on the caller while it runs its own chunk) runs body(0, n) inline on the
//    calling thread, with no synchronisation at all. n <= 0 calls nothing.
//  - the calling thread runs the first chunk itself, then helps with any chunk no worker
//    has picked up yet; it returns when every chunk has finished.
//  - an exception thrown by the body on any thread is rethrown on the caller (the first one
//    thrown) after all chunks have finished.
//  - one parallel region at a time: a second thread calling parallel_for while the pool is
//    busy runs its loop inline rather than queueing (on a 2-core machine, waiting for the
//    pool or oversubscribing it are both slower than just running).
// Workers spin for a few microseconds after a region, then sleep on a futex: idle workers
// take no CPU away from OpenBLAS, and back-to-back kernels still find them awake.
#include <cstdint>
#include <memory>
#include <type_traits>

namespace cgvm {

// The current thread count (>= 1): set_num_threads' value, or the default.
int num_threads();

// n >= 1: use n threads (the caller plus n - 1 workers). n <= 0: back to the default,
// options().num_threads (CGVM_NUM_THREADS), or all cores when that is 0. Also sets
// OpenBLAS to n threads, for the BLAS calls the executor makes outside parallel regions.
// The pool itself is resized lazily, by the next parallel_for.
void set_num_threads(int n);

// The type-erased form of a body: what the C ABI and the template below share.
using RangeBody = void (*)(void* ctx, std::int64_t begin, std::int64_t end);

namespace detail {
void parallel_for_erased(std::int64_t n, std::int64_t grain, RangeBody body, void* ctx);
}  // namespace detail

// `body` is any callable (std::int64_t begin, std::int64_t end). It is passed by reference
// through a trampoline, so no std::function and no allocation per call.
template <class Body>
void parallel_for(std::int64_t n, std::int64_t grain, Body&& body) {
  if (n <= 0) return;
  if (n <= grain) {  // the common small case never reaches the pool
    body(std::int64_t{0}, n);
    return;
  }
  using Fn = std::remove_reference_t<Body>;
  RangeBody trampoline = [](void* ctx, std::int64_t begin, std::int64_t end) {
    (*static_cast<Fn*>(ctx))(begin, end);
  };
  detail::parallel_for_erased(n, grain, trampoline,
                              const_cast<void*>(static_cast<const void*>(std::addressof(body))));
}

}  // namespace cgvm

// The entry JIT-generated code calls (it includes no headers and declares this itself).
// Same contract as cgvm::parallel_for. The body must not throw: generated code is compiled
// with -fno-exceptions.
extern "C" void cgvm_parallel_for(std::int64_t n, std::int64_t grain,
                                  void (*body)(void* ctx, std::int64_t begin, std::int64_t end),
                                  void* ctx);
