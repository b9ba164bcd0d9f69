#pragma once
// CUDA C++ source -> PTX or CUBIN with NVRTC, behind the JIT's content-addressed cache.
//
// Works wherever the plugin loads, GPU or not (NVRTC needs no driver), so tests compile
// every emitted kernel on CI. Results are stored with cgvm::store_artifact under the kind
// "cuda-ptx" or "cuda-cubin" and a key text covering the NVRTC version, the toolkit include
// dir, the architecture, the options, the program name and the source; JitOptions chooses
// the cache directory and adds its codegen_version. A corrupt entry reads as missing
// (jit.hpp) and is rebuilt.
//
// The toolkit include dir is always passed (-I), so `#include <cuda_fp16.h>` works.
// Kernels are looked up by name after loading: declare them extern "C" __global__.
#include <string>
#include <string_view>
#include <vector>

#include "jit/jit.hpp"

namespace cgvm::cuda {

enum class CodeKind { Ptx, Cubin };

struct CudaCode {
  CodeKind kind = CodeKind::Ptx;
  std::string arch;         // as compiled: "compute_90" for PTX, "sm_90" for CUBIN
  std::string bytes;        // PTX text, or a CUBIN (ELF) image
  std::string log;          // NVRTC's warnings; empty when the code came from the cache
  bool from_cache = false;  // found in memory or on disk, not compiled
  bool disk_hit = false;    // found on disk
};

struct CompileOptions {
  std::vector<std::string> nvrtc_options;   // e.g. "--use_fast_math", "-std=c++17"
  std::string program_name = "kernels.cu";  // the file name in NVRTC's diagnostics
  JitOptions cache;                         // cache_dir, use_disk_cache, codegen_version
};

// `arch` may name a real or a virtual architecture ("sm_90", "compute_90", "sm_90a"); it is
// turned into the one the output needs (compute_ for PTX, sm_ for CUBIN). A malformed
// architecture, a missing plugin, or NVRTC rejecting the source or an option raises
// cgvm::Error; for a compile error the message holds NVRTC's log ("kernels.cu(3): error:
// ...", line numbers of `source`).
CudaCode compile_ptx(const std::string& source, std::string_view arch,
                     const CompileOptions& options = {});
CudaCode compile_cubin(const std::string& source, std::string_view arch,
                       const CompileOptions& options = {});
CudaCode compile_cuda(const std::string& source, CodeKind kind, std::string_view arch,
                      const CompileOptions& options = {});

// "sm_90" -> "compute_90" for PTX, "compute_90" -> "sm_90" for CUBIN; throws cgvm::Error
// when `arch` is not of the form sm_<digits>[letter] or compute_<digits>[letter].
std::string normalize_arch(std::string_view arch, CodeKind kind);

// NVRTC's version, e.g. {13, 0}. Throws when the plugin is not loaded.
struct NvrtcVersion {
  int major = 0, minor = 0;
};
NvrtcVersion nvrtc_version();

}  // namespace cgvm::cuda
