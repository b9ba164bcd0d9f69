#pragma once
// The library's settings, read from the environment once, in one place (DESIGN.md §8).
//
//   CGVM_NUM_THREADS=n          threads of the runtime's pool (default: all cores)
//   CGVM_CACHE_DIR=dir          the compile cache (default $XDG_CACHE_HOME/cgvm, ~/.cache/cgvm)
//   CGVM_DUMP=dir               write the graph after each pass and the generated source there
//   CGVM_ALLOCATOR_CACHE_MB=n   how much freed memory the allocator keeps for reuse
//   CGVM_CUDA_PLUGIN=file       the CUDA plugin to load instead of searching (cuda/backend.hpp)
//   CGVM_CUDA_DRIVER=file       the CUDA driver to load instead of libcuda.so.1 (tests)
//   CGVM_CUDA_GRAPHS=0          run scans on a GPU step by step, not replayed from a graph
// The CUDA settings are read by cuda/backend.cpp when it loads the plugin, not here:
// nothing else uses them, and the CPU-only build must not carry CUDA state.
//
// A malformed value never stops a program from starting: it is reported once (log.hpp) and
// the default is kept. Code may change the settings at run time through options().
#include <cstddef>
#include <string>

namespace cgvm {

struct Options {
  int num_threads = 0;  // 0: all cores
  std::string cache_dir;  // empty: the XDG fallback chain (jit.hpp)
  std::string dump_dir;   // empty: no dumps
  std::size_t allocator_cache_bytes = std::size_t(2) << 30;
};

// The process-wide settings, initialised from the environment on first use.
Options& options();

}  // namespace cgvm
