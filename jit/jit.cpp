// compile_cpp, as one recipe: pick the path -> key -> memory cache -> disk cache ->
// compile -> load -> publish to disk. Everything else in jit/ is a step of it.
#include "jit/jit.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <unordered_map>

#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/loader.hpp"
#include "jit/system_compiler.hpp"
#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "runtime/options.hpp"

namespace cgvm {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Counters {
  std::atomic<std::int64_t> memory_hits{0}, memory_misses{0}, disk_hits{0}, disk_misses{0},
      in_process_compiles{0}, system_compiles{0}, corrupt_entries{0}, disk_write_failures{0};
};

using ModulePtr = std::shared_ptr<const CompiledModule>;

// Process-wide state, leaked so that nothing here is destroyed while code may still run.
struct State {
  Counters counters;
  std::mutex mutex;  // guards everything below
  // A compile in flight is already in the map, so concurrent callers of one key wait for
  // it instead of compiling again.
  std::unordered_map<std::string, std::shared_future<ModulePtr>> memory;
  jit::SymbolRegistry registry;
  std::set<std::string> warned;  // each warning once per process
  std::unordered_map<std::string, std::string> artifacts;  // load_artifact's memory level
  bool in_process_broken = false;
};
State& state() {
  static State* s = new State;
  return *s;
}

void warn_once(const std::string& topic, const std::string& message) {
  {
    std::lock_guard lock(state().mutex);
    if (!state().warned.insert(topic).second) return;
  }
  warn(message);
}

// Which path this compile takes. The in-process path needs both halves; when either
// cannot start we say so once and fall back for the rest of the process.
bool use_in_process(const JitOptions& options) {
  if (options.force_system_compiler) return false;
  {
    std::lock_guard lock(state().mutex);
    if (state().in_process_broken) return false;
  }
  std::string why;
  if (jit::orc_loader_available(&why)) return true;
  warn_once("in-process", "jit: " + why + "; using the system compiler instead");
  std::lock_guard lock(state().mutex);
  state().in_process_broken = true;
  return false;
}

struct Plan {
  bool in_process = true;
  std::string key;
  std::string extension;            // of the disk entry
  std::vector<std::string> renamed; // system path: registered names the source uses
  jit::SymbolRegistry registry;
};

Plan make_plan(const std::string& source, const JitOptions& options, bool in_process) {
  Plan plan;
  plan.in_process = in_process;
  plan.registry = jit::registered_symbols();
  std::string target = jit::host_target().id();
  jit::KeyInputs inputs;
  inputs.target = target;
  inputs.codegen_version = options.codegen_version;
  inputs.opt_level = options.opt_level;
  inputs.source = source;
  std::string path, flags;
  if (in_process) {
    path = "in-process";
    flags = jit::in_process_flags();
    plan.extension = "o";
  } else {
    path = "system-compiler " + jit::system_compiler().identity;
    flags = jit::system_flags(options.opt_level);
    plan.renamed = jit::registered_names_in(source, plan.registry);
    for (const std::string& name : plan.renamed) flags += " rename:" + name;
    plan.extension = "so";
  }
  inputs.path = path;
  inputs.flags = flags;
  plan.key = jit::make_key(inputs);
  return plan;
}

ModulePtr load(const Plan& plan, const std::string& bytes) {
  return plan.in_process ? jit::load_object(bytes, plan.key)
                         : jit::load_shared_library(bytes, plan.key, plan.renamed,
                                                    plan.registry);
}

// Everything after a memory miss: disk, compile, load, publish.
ModulePtr build(const std::string& source, const JitOptions& options, const Plan& plan,
                CompileReport& report) {
  Counters& counters = state().counters;
  std::string dir = options.use_disk_cache ? resolve_cache_dir(options) : "";
  if (options.use_disk_cache && dir.empty())
    warn_once("no cache dir", "jit: no cache directory (HOME is unset); compiling without "
                              "the disk cache (set CGVM_CACHE_DIR)");
  jit::DiskCache disk(dir);
  if (!dir.empty()) {
    auto start = Clock::now();
    jit::DiskCache::Entry entry = disk.read(plan.key, plan.extension);
    report.cache_read_ms = ms_since(start);
    if (entry.status == jit::DiskCache::Status::Ok) {
      counters.disk_hits++;
      report.disk_hit = true;
      start = Clock::now();
      ModulePtr module = load(plan, entry.payload);
      report.load_ms = ms_since(start);
      return module;
    }
    counters.disk_misses++;
    if (entry.status == jit::DiskCache::Status::Corrupt) {
      counters.corrupt_entries++;
      warn("jit: cache entry " + disk.entry_path(plan.key, plan.extension) + " is corrupt (" +
           entry.problem + "); rebuilding it");
    }
  }

  std::string bytes;
  if (plan.in_process) {
    jit::StageTimes times;
    bytes = jit::compile_to_object(source, options.opt_level, times);
    report.frontend_ms = times.frontend_ms;
    report.optimize_ms = times.optimize_ms;
    report.codegen_ms = times.codegen_ms;
    counters.in_process_compiles++;
  } else {
    auto start = Clock::now();
    bytes = jit::system_compile(source, options.opt_level, plan.renamed);
    report.frontend_ms = ms_since(start);
    counters.system_compiles++;
  }
  // Load before publishing: code that does not link (a missing symbol) never reaches disk.
  auto start = Clock::now();
  ModulePtr module = load(plan, bytes);
  report.load_ms = ms_since(start);

  if (!dir.empty()) {
    start = Clock::now();
    std::string problem = disk.write(plan.key, plan.extension, bytes);
    report.cache_write_ms = ms_since(start);
    if (!problem.empty()) {
      counters.disk_write_failures++;
      warn_once("unwritable " + dir, "jit: " + problem +
                                         "; compiling without the disk cache (set "
                                         "CGVM_CACHE_DIR to a writable directory)");
    }
  }
  return module;
}

// One memory-cache round: the first caller of a key builds, later ones share its result.
ModulePtr compile_with_plan(const std::string& source, const JitOptions& options,
                            const Plan& plan, CompileReport& report) {
  std::promise<ModulePtr> promise;
  std::shared_future<ModulePtr> pending;
  {
    std::lock_guard lock(state().mutex);
    auto [it, inserted] = state().memory.try_emplace(plan.key);
    if (inserted)
      it->second = promise.get_future().share();
    else
      pending = it->second;
  }
  if (pending.valid()) {
    state().counters.memory_hits++;
    report.memory_hit = true;
    return pending.get();  // rethrows the builder's error
  }
  state().counters.memory_misses++;
  try {
    ModulePtr module = build(source, options, plan, report);
    promise.set_value(module);
    return module;
  } catch (...) {
    {
      std::lock_guard lock(state().mutex);
      state().memory.erase(plan.key);  // a later call tries again
    }
    promise.set_exception(std::current_exception());
    throw;
  }
}

}  // namespace

namespace jit {
SymbolRegistry registered_symbols() {
  std::lock_guard lock(state().mutex);
  return state().registry;
}
}  // namespace jit

void* CompiledModule::require_symbol(std::string_view name) const {
  void* address = symbol(name);
  if (!address)
    throw Error("jit: the compiled module defines no symbol '" + std::string(name) + "'");
  return address;
}

std::string CompileReport::to_string() const {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s %s: key %.2f ms, read %.2f ms, frontend %.2f ms, optimize %.2f ms, "
                "codegen %.2f ms, write %.2f ms, load %.2f ms, total %.2f ms",
                path.c_str(), memory_hit ? "memory hit" : disk_hit ? "disk hit" : "compile",
                key_ms, cache_read_ms, frontend_ms, optimize_ms, codegen_ms, cache_write_ms,
                load_ms, total_ms);
  return line;
}

std::shared_ptr<const CompiledModule> compile_cpp(const std::string& source,
                                                  const JitOptions& options_in,
                                                  CompileReport* report_out) {
  auto start = Clock::now();
  JitOptions options = options_in;
  options.opt_level = std::clamp(options.opt_level, 0, 3);
  CompileReport report;
  // One-time starts (ORC, probing the system compiler) count in total_ms, not key_ms.
  bool in_process = use_in_process(options);
  if (!in_process) jit::system_compiler();
  auto key_start = Clock::now();
  Plan plan = make_plan(source, options, in_process);
  report.key_ms = ms_since(key_start);
  ModulePtr module;
  try {
    module = compile_with_plan(source, options, plan, report);
  } catch (const Error&) {
    std::string why;
    // The loader started but Clang did not: the system compiler still can.
    if (!in_process || jit::in_process_compiler_available(&why)) throw;
    warn_once("in-process", "jit: " + why + "; using the system compiler instead");
    {
      std::lock_guard lock(state().mutex);
      state().in_process_broken = true;
    }
    plan = make_plan(source, options, false);
    report = CompileReport{};
    module = compile_with_plan(source, options, plan, report);
  }
  report.path = plan.in_process ? "in-process" : "system-compiler";
  report.cache_key = plan.key;
  report.total_ms = ms_since(start);
  if (report_out) *report_out = report;
  return module;
}

void register_jit_symbol(const std::string& name, void* address) {
  std::lock_guard lock(state().mutex);
  state().registry.symbols[name] = address;
  state().registry.generation++;
}

namespace {
std::string artifact_key(std::string_view kind, std::string_view key_text,
                         const JitOptions& options) {
  return jit::make_key({.path = "artifact", .target = kind, .flags = "",
                        .codegen_version = options.codegen_version, .source = key_text});
}
}  // namespace

std::optional<std::string> load_artifact(std::string_view kind, std::string_view key_text,
                                         const JitOptions& options, bool* disk_hit) {
  if (disk_hit) *disk_hit = false;
  const std::string key = artifact_key(kind, key_text, options);
  {
    std::lock_guard lock(state().mutex);
    if (auto it = state().artifacts.find(key); it != state().artifacts.end()) return it->second;
  }
  const std::string dir = options.use_disk_cache ? resolve_cache_dir(options) : "";
  if (dir.empty()) return std::nullopt;
  jit::DiskCache disk(dir);
  jit::DiskCache::Entry entry = disk.read(key, kind);
  if (entry.status == jit::DiskCache::Status::Corrupt) {
    state().counters.corrupt_entries++;
    warn("jit: cache entry " + disk.entry_path(key, kind) + " is corrupt (" + entry.problem +
         "); rebuilding it");
  }
  if (entry.status != jit::DiskCache::Status::Ok) return std::nullopt;
  if (disk_hit) *disk_hit = true;
  std::lock_guard lock(state().mutex);
  state().artifacts.emplace(key, entry.payload);
  return entry.payload;
}

void store_artifact(std::string_view kind, std::string_view key_text, std::string_view payload,
                    const JitOptions& options) {
  const std::string key = artifact_key(kind, key_text, options);
  {
    std::lock_guard lock(state().mutex);
    state().artifacts.insert_or_assign(key, std::string(payload));
  }
  const std::string dir = options.use_disk_cache ? resolve_cache_dir(options) : "";
  if (dir.empty()) return;
  if (std::string problem = jit::DiskCache(dir).write(key, kind, payload); !problem.empty()) {
    state().counters.disk_write_failures++;
    warn_once("unwritable " + dir, "jit: " + problem +
                                       "; compiling without the disk cache (set "
                                       "CGVM_CACHE_DIR to a writable directory)");
  }
}

std::string resolve_cache_dir(const JitOptions& options) {
  if (!options.cache_dir.empty()) return options.cache_dir;
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  if (const Options& settings = cgvm::options(); !settings.cache_dir.empty())
    return settings.cache_dir;
  // The XDG spec ignores relative values.
  if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg[0] == '/')
    return xdg + "/cgvm";
  if (std::string home = env("HOME"); !home.empty()) return home + "/.cache/cgvm";
  return "";
}

JitStats jit_stats() {
  const Counters& c = state().counters;
  JitStats s;
  s.memory_hits = c.memory_hits;
  s.memory_misses = c.memory_misses;
  s.disk_hits = c.disk_hits;
  s.disk_misses = c.disk_misses;
  s.in_process_compiles = c.in_process_compiles;
  s.system_compiles = c.system_compiles;
  s.corrupt_entries = c.corrupt_entries;
  s.disk_write_failures = c.disk_write_failures;
  return s;
}

void reset_jit_stats() {
  Counters& c = state().counters;
  for (auto* counter : {&c.memory_hits, &c.memory_misses, &c.disk_hits, &c.disk_misses,
                        &c.in_process_compiles, &c.system_compiles, &c.corrupt_entries,
                        &c.disk_write_failures})
    *counter = 0;
}

void jit_clear_memory_cache() {
  std::unordered_map<std::string, std::shared_future<ModulePtr>> dropped;
  {
    std::lock_guard lock(state().mutex);
    dropped.swap(state().memory);
    state().artifacts.clear();
  }
  // `dropped` unloads here, outside the lock.
}

}  // namespace cgvm
