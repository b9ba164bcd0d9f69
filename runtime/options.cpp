#include "runtime/options.hpp"

#include <cstdlib>
#include <string>

#include "runtime/log.hpp"

namespace cgvm {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// A non-negative integer, or `fallback` (with one warning) when the text is not one.
long long env_count(const char* name, long long fallback) {
  std::string text = env(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value < 0) {
    warn(std::string(name) + "='" + text + "' is not a non-negative integer; ignored");
    return fallback;
  }
  return value;
}

Options from_environment() {
  Options o;
  o.num_threads = static_cast<int>(env_count("CGVM_NUM_THREADS", 0));
  o.cache_dir = env("CGVM_CACHE_DIR");
  o.dump_dir = env("CGVM_DUMP");
  o.allocator_cache_bytes = static_cast<std::size_t>(
      env_count("CGVM_ALLOCATOR_CACHE_MB", static_cast<long long>(o.allocator_cache_bytes >> 20)))
      << 20;
  return o;
}

}  // namespace

Options& options() {
  static Options instance = from_environment();
  return instance;
}

}  // namespace cgvm
