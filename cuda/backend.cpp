// Finding and loading the plugin; the driver's status in words.
#include "cuda/backend.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "cuda/plugin_abi.h"

namespace cgvm::cuda {
namespace {

// The settings of the CUDA backend, read here and nowhere else (DESIGN.md §8); listed in
// runtime/options.hpp's comment, but read only when (re)loading the plugin.
struct Settings {
  std::optional<std::string> plugin;  // CGVM_CUDA_PLUGIN
  std::string driver;                 // CGVM_CUDA_DRIVER ("": libcuda.so.1)
  bool graphs = true;                 // CGVM_CUDA_GRAPHS (0: off)
};

Settings read_environment() {
  Settings s;
  if (const char* p = std::getenv("CGVM_CUDA_PLUGIN"); p && *p) s.plugin = p;
  if (const char* d = std::getenv("CGVM_CUDA_DRIVER"); d && *d) s.driver = d;
  if (const char* g = std::getenv("CGVM_CUDA_GRAPHS"); g && std::string(g) == "0") s.graphs = false;
  return s;
}

struct Loaded {
  const CgvmCudaPlugin* table = nullptr;  // null: not loaded, `why` says why
  std::string path;
  std::string why;
  bool graphs = true;
};

// Opens `path` and checks it is a plugin of our ABI. On failure returns a sentence.
std::string try_open(const std::string& path, Loaded& out) {
  // RTLD_LOCAL: a fresh copy of the plugin (tests) must not resolve to the first one.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return why ? why : path + ": dlopen failed";
  }
  auto entry = reinterpret_cast<CgvmCudaPluginEntry>(dlsym(handle, CGVM_CUDA_PLUGIN_ENTRY));
  if (!entry) return path + " is not a cgvm CUDA plugin (it exports no " CGVM_CUDA_PLUGIN_ENTRY ")";
  const CgvmCudaPlugin* table = entry();
  if (!table || table->abi_version != CGVM_CUDA_ABI_VERSION ||
      table->struct_size < sizeof(CgvmCudaPlugin))
    return path + " has plugin ABI version " + std::to_string(table ? table->abi_version : 0) +
           ", this library expects " + std::to_string(CGVM_CUDA_ABI_VERSION) +
           " (rebuild or reinstall cgvm)";
  // Never dlclose'd: device buffers, modules and cuBLAS handles may outlive any owner.
  out.table = table;
  out.path = path;
  return "";
}

Loaded load(const Settings& settings) {
  Loaded loaded;
  if (settings.plugin) {
    if (std::string why = try_open(*settings.plugin, loaded); !why.empty())
      loaded.why = "the CUDA plugin could not be loaded from CGVM_CUDA_PLUGIN=" + *settings.plugin +
                   ": " + why;
  } else {
    std::vector<std::string> candidates;
#ifdef CGVM_CUDA_PLUGIN_BUILD_PATH
    candidates.push_back(CGVM_CUDA_PLUGIN_BUILD_PATH);
#endif
    candidates.push_back(CGVM_CUDA_PLUGIN_INSTALL_PATH);
    std::string tried;
    for (const std::string& path : candidates) {
      std::string why = try_open(path, loaded);
      if (why.empty()) break;
      tried += (tried.empty() ? "" : "; ") + why;
    }
    if (!loaded.table)
      loaded.why = CGVM_CUDA_PLUGIN_BUILT
                       ? "the CUDA plugin could not be loaded: " + tried
                       : "the CUDA plugin was not built (no CUDA toolkit at configure time)";
  }
  // Only the first init() in a plugin instance does work; a reload of the same file
  // keeps the driver it found.
  if (loaded.table) loaded.table->init(settings.driver.empty() ? nullptr : settings.driver.c_str());
  loaded.graphs = settings.graphs;
  return loaded;
}

struct Registry {
  std::mutex mutex;
  std::shared_ptr<const Loaded> current;
};

Registry& registry() {
  static Registry* r = new Registry;  // leaked: usable from static destructors
  return *r;
}

std::shared_ptr<const Loaded> loaded() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.current) r.current = std::make_shared<const Loaded>(load(read_environment()));
  return r.current;
}

bool driver_ready(const Loaded& l) {
  return l.table && l.table->driver_state() == CGVM_CUDA_DRIVER_READY;
}

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1u << 30));
  return text;
}

std::string status_of(const Loaded& l) {
  if (!l.table) return l.why;
  std::string text = l.table->driver_status();
  if (!driver_ready(l)) return text;
  try {
    DeviceInfo d = device_info(0);
    text += "; device 0: " + d.name + " (" + d.arch() + ", " + gib(d.total_memory) + ")";
  } catch (const Error& e) {
    text += std::string("; device 0 cannot be queried: ") + e.what();
  }
  return text;
}

}  // namespace

bool available() noexcept {
  try {
    return driver_ready(*loaded());
  } catch (...) {
    return false;
  }
}

std::string status() { return status_of(*loaded()); }

bool graphs_enabled() { return loaded()->graphs; }

void require(const std::source_location& where) {
  if (!available()) throw_error("cuda", "CUDA is not available: " + status(), where);
}

bool plugin_loaded() noexcept {
  try {
    return loaded()->table != nullptr;
  } catch (...) {
    return false;
  }
}

std::string plugin_status() {
  std::shared_ptr<const Loaded> l = loaded();
  return l->table ? "the CUDA plugin was loaded from " + l->path : l->why;
}

std::string DeviceInfo::arch() const {
  return "sm_" + std::to_string(compute_major) + std::to_string(compute_minor);
}

int device_count() {
  if (!available()) return 0;
  int count = 0;
  return detail::plugin().device_count(&count) == CGVM_CUDA_OK ? count : 0;
}

DeviceInfo device_info(int device) {
  const CgvmCudaPlugin& p = detail::driver_plugin();
  CgvmCudaDeviceInfo raw{};
  detail::check(p, p.device_info(device, &raw));
  DeviceInfo info;
  info.ordinal = device;
  info.name = raw.name;
  info.compute_major = raw.compute_major;
  info.compute_minor = raw.compute_minor;
  info.total_memory = raw.total_memory;
  info.multiprocessors = raw.multiprocessors;
  info.max_threads_per_block = raw.max_threads_per_block;
  info.max_shared_memory_per_block = raw.max_shared_memory_per_block;
  info.warp_size = raw.warp_size;
  return info;
}

void set_device(int device) {
  const CgvmCudaPlugin& p = detail::driver_plugin();
  detail::check(p, p.set_device(device));
}

int driver_version() {
  const CgvmCudaPlugin& p = detail::driver_plugin();
  int version = 0;
  detail::check(p, p.driver_version(&version));
  return version;
}

void synchronize_device() {
  const CgvmCudaPlugin& p = detail::driver_plugin();
  detail::check(p, p.synchronize_device());
}

MemoryInfo memory_info() {
  const CgvmCudaPlugin& p = detail::driver_plugin();
  MemoryInfo info;
  detail::check(p, p.memory_info(&info.free_bytes, &info.total_bytes));
  return info;
}

namespace detail {

const CgvmCudaPlugin& plugin() {
  std::shared_ptr<const Loaded> l = loaded();
  if (!l->table) throw Error("cuda: " + l->why);
  return *l->table;
}

const CgvmCudaPlugin& driver_plugin() {
  // One lookup: a concurrent reload must not pair this check with another instance.
  std::shared_ptr<const Loaded> l = loaded();
  if (!driver_ready(*l)) throw Error("cuda: CUDA is not available: " + status_of(*l));
  return *l->table;
}

void check(const CgvmCudaPlugin& table, int status) {
  if (status == CGVM_CUDA_OK) return;
  const std::string message = std::string("cuda: ") + table.last_error();
  if (status == CGVM_CUDA_OUT_OF_MEMORY) throw OutOfMemory(message);
  throw Error(message);
}

void reload_plugin() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.current.reset();
}

}  // namespace detail
}  // namespace cgvm::cuda
