#pragma once
// The JIT: C++ source text in, callable machine code out, behind a content-addressed cache.
//
// compile_cpp() runs, in order: key (a BLAKE3 hash of everything that changes the object)
// -> in-memory cache -> on-disk cache -> compile -> load. Two compile paths exist:
//  - in-process (the default): Clang front end -> our own LLVM O2/O3 pipeline -> object
//    in memory -> ORC LLJIT. ~10-20 ms for a header-free kernel.
//  - system compiler (fallback): spawn clang++/c++ -shared, dlopen the result. Used when
//    asked for or when the in-process path cannot start. 200-700 ms per compile.
// The source must be header-free (DESIGN.md §5): it declares what it calls, extern "C".
// Functions it calls are found among the registered symbols (register_jit_symbol), then
// among the symbols of the running process (libc, libm, libmvec, OpenBLAS...).
//
// This header includes no LLVM header; only jit/ sources do.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cgvm {

struct JitOptions {
  // Where compiled objects are stored. Empty: $CGVM_CACHE_DIR, then $XDG_CACHE_HOME/cgvm,
  // then ~/.cache/cgvm.
  std::string cache_dir;
  bool use_disk_cache = true;
  // Compile with an external compiler and dlopen the result instead of the in-process path.
  bool force_system_compiler = false;
  int opt_level = 3;  // 0..3
  // Part of the cache key, for whatever outside the source text changes what the object
  // means: the code generator passes a version of itself (e.g. of the runtime ABI its
  // source assumes), so a changed generator never reuses an old object.
  std::string codegen_version;
};

// Where the time of one compile_cpp call went, in milliseconds. Stages that did not run
// are 0. On the system-compiler path the whole external compiler run is `frontend_ms`.
struct CompileReport {
  bool memory_hit = false;
  bool disk_hit = false;
  double key_ms = 0;         // hashing the key
  double cache_read_ms = 0;  // reading + validating the disk entry
  double frontend_ms = 0;    // Clang: source -> LLVM IR
  double optimize_ms = 0;    // our pass pipeline
  double codegen_ms = 0;     // IR -> object code
  double cache_write_ms = 0; // publishing the disk entry
  double load_ms = 0;        // linking into the process (ORC) or dlopen
  double total_ms = 0;
  std::string path;          // "in-process" or "system-compiler"
  std::string cache_key;     // 64 hex digits
  std::string to_string() const;  // one line, for logs
};

// Process-wide counters since start (or since reset_jit_stats()).
struct JitStats {
  std::int64_t memory_hits = 0;
  std::int64_t memory_misses = 0;
  std::int64_t disk_hits = 0;
  std::int64_t disk_misses = 0;          // includes corrupt entries
  std::int64_t in_process_compiles = 0;
  std::int64_t system_compiles = 0;
  std::int64_t corrupt_entries = 0;      // detected, rebuilt and rewritten
  std::int64_t disk_write_failures = 0;  // unwritable cache dir, full disk...
};

// Loaded code. Keeps the code mapped while any reference is held; the in-memory cache
// holds one reference per key for the life of the process (jit_clear_memory_cache drops it).
class CompiledModule {
 public:
  virtual ~CompiledModule() = default;
  // The address of a symbol the module defines (extern "C" names are plain), or nullptr.
  virtual void* symbol(std::string_view name) const = 0;
  // Like symbol(), typed, and a missing symbol is a cgvm::Error naming it.
  template <class Fn>
  Fn* function(std::string_view name) const {
    return reinterpret_cast<Fn*>(require_symbol(name));
  }
  const std::string& cache_key() const { return cache_key_; }
  const std::string& path() const { return path_; }

 protected:
  CompiledModule(std::string cache_key, std::string path)
      : cache_key_(std::move(cache_key)), path_(std::move(path)) {}

 private:
  void* require_symbol(std::string_view name) const;
  std::string cache_key_;
  std::string path_;
};

// Compiles (or fetches from the cache) `source`. Thread-safe; concurrent calls with the same
// key compile once. A source that does not compile, or that calls a symbol nobody
// defines, raises cgvm::Error with the compiler's diagnostics (file:line:col of the
// generated source).
std::shared_ptr<const CompiledModule> compile_cpp(const std::string& source,
                                                  const JitOptions& options = {},
                                                  CompileReport* report = nullptr);

// Makes `name` resolve to `address` in code compiled afterwards (a process symbol that is
// not exported dynamically, e.g. the runtime's C ABI linked statically). Registering a name
// again replaces its address for later compiles.
void register_jit_symbol(const std::string& name, void* address);

// A small store beside the objects for other compile products (the optimizer's result for a
// graph), under the same rules: keyed by a hash of (`kind`, `key_text`, the LLVM version and
// the JIT's fingerprint), published atomically, no lock on reads, a corrupt entry reads as
// missing (and is reported once). Held in memory too. Failures to write are not errors.
// `disk_hit` (optional) tells whether a found entry came from disk rather than memory.
std::optional<std::string> load_artifact(std::string_view kind, std::string_view key_text,
                                         const JitOptions& options = {}, bool* disk_hit = nullptr);
void store_artifact(std::string_view kind, std::string_view key_text, std::string_view payload,
                    const JitOptions& options = {});

// The directory compile_cpp would use for `options` (the fallback chain above); empty if
// none can be determined (no HOME).
std::string resolve_cache_dir(const JitOptions& options);

JitStats jit_stats();
void reset_jit_stats();
// Forgets the in-memory cache (objects and artifacts), as a fresh process would. Modules
// still referenced elsewhere stay loaded.
void jit_clear_memory_cache();

}  // namespace cgvm
