#pragma once
// The in-process compiler: C++ source -> object file bytes (internal to jit/).
// compiler.cpp is the only file that includes Clang headers; this header includes none.
#include <string>
#include <vector>

namespace cgvm::jit {

// The machine we compile for: always the host ("-march=native").
struct HostTarget {
  std::string triple;
  std::string cpu;                    // llvm::sys::getHostCPUName()
  std::vector<std::string> features;  // "+avx2", "-avx512fp16", ... sorted
  std::string feature_string() const;  // comma-joined, as LLVM takes it
  std::string id() const;              // triple, cpu and features: part of the cache key
};
const HostTarget& host_target();

struct StageTimes {
  double frontend_ms = 0;
  double optimize_ms = 0;
  double codegen_ms = 0;
};

// Whether the in-process compiler can run here (native target registered, the Clang
// driver accepted our flags); if not, `why` says why. Initializes on first call.
bool in_process_compiler_available(std::string* why = nullptr);

// The flags that shape the object beyond the host target; part of the cache key.
const std::string& in_process_flags();

// Compiles `source` at `opt_level` (0..3) into a relocatable ELF object for the host.
// Clang diagnostics become a cgvm::Error. Thread-safe.
std::string compile_to_object(const std::string& source, int opt_level, StageTimes& times);

// The name diagnostics use for the generated source ("cgvm_generated.cpp:3:7: error: ...").
inline constexpr const char* kSourceName = "cgvm_generated.cpp";

}  // namespace cgvm::jit
