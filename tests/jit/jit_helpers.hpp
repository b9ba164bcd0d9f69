#pragma once
// Shared by the JIT tests: fresh cache options, warning capture, unique sources.
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "jit/jit.hpp"
#include "runtime/log.hpp"
#include "support.hpp"

namespace cgvm::test {

// Options with an empty cache directory of their own, so tests never touch ~/.cache.
inline JitOptions fresh_jit_options() {
  JitOptions options;
  options.cache_dir = temp_dir();
  options.codegen_version = "jit-test";
  return options;
}

// A source no earlier compile in this process has seen (the memory cache would hit).
inline std::string unique_source(const std::string& body) {
  static std::atomic<int> counter{0};
  return "// unique " + std::to_string(counter++) + " " + std::to_string(::getpid()) + "\n" +
         body;
}

// Collects cgvm::warn messages while alive.
class WarningCapture {
 public:
  WarningCapture()
      : previous_(set_warning_handler([this](const std::string& m) { seen_.push_back(m); })) {}
  ~WarningCapture() { set_warning_handler(previous_); }
  const std::vector<std::string>& seen() const { return seen_; }
  int count_containing(const std::string& part) const {
    int n = 0;
    for (const std::string& m : seen_) n += m.find(part) != std::string::npos;
    return n;
  }

 private:
  std::vector<std::string> seen_;
  WarningHandler previous_;
};

inline const char* kAxpySource = R"(
extern "C" void axpy(long n, float a, const float* x, float* y) {
  for (long i = 0; i < n; ++i) y[i] += a * x[i];
}
)";

}  // namespace cgvm::test
