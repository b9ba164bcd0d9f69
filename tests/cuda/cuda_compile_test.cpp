// NVRTC through the plugin and the JIT's cache: runs everywhere the toolkit was found at
// configure time (no GPU or driver needed).
#include <filesystem>
#include <fstream>

#include "cuda/compile.hpp"
#include "cuda_helpers.hpp"
#include "jit/jit_helpers.hpp"

namespace cgvm::test {
namespace {

namespace fs = std::filesystem;

cuda::CompileOptions fresh_cuda_options() {
  cuda::CompileOptions options;
  options.cache = fresh_jit_options();
  return options;
}

std::vector<fs::path> entries_with_extension(const std::string& dir, const std::string& ext) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ext) found.push_back(entry.path());
  return found;
}

// A CUBIN is an ELF file for machine EM_CUDA (190).
bool is_cuda_elf(const std::string& bytes) {
  if (bytes.size() < 20 || bytes.compare(0, 4,
                                         "\x7f"
                                         "ELF") != 0)
    return false;
  const int machine = static_cast<unsigned char>(bytes[18]) | static_cast<unsigned char>(bytes[19])
                                                                  << 8;
  return machine == 190;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda compile: architectures are normalised to what the output needs") {
    CHECK(cuda::normalize_arch("sm_90", cuda::CodeKind::Ptx) == "compute_90");
    CHECK(cuda::normalize_arch("compute_80", cuda::CodeKind::Cubin) == "sm_80");
    CHECK(cuda::normalize_arch("sm_90a", cuda::CodeKind::Cubin) == "sm_90a");
    CHECK(cuda::normalize_arch("compute_100", cuda::CodeKind::Ptx) == "compute_100");
    for (const char* bad : {"sm90", "sm_", "gfx90a", "sm_9x0", "compute_90AB", ""})
      CHECK_ERROR(cuda::normalize_arch(bad, cuda::CodeKind::Ptx),
                  {"cuda: the architecture '" + std::string(bad) + "' is not of the form sm_90"});
  }

#ifdef CGVM_TEST_CUDA_PLUGIN

  TEST_CASE("cuda compile: NVRTC turns real kernels into PTX and CUBIN") {
    const cuda::NvrtcVersion version = cuda::nvrtc_version();
    CHECK(version.major >= 12);
    cuda::CompileOptions options = fresh_cuda_options();

    cuda::CudaCode ptx = cuda::compile_ptx(kKernelsSource, "sm_90", options);
    CHECK(ptx.kind == cuda::CodeKind::Ptx);
    CHECK(ptx.arch == "compute_90");
    CHECK_FALSE(ptx.from_cache);
    INFO("PTX head: " << ptx.bytes.substr(0, 400));
    CHECK(contains(ptx.bytes, ".visible .entry saxpy("));
    CHECK(contains(ptx.bytes, ".visible .entry add_one("));
    CHECK(contains(ptx.bytes, ".visible .entry block_sum_half("));
    CHECK(contains(ptx.bytes, "shfl.sync.down"));
    CHECK(contains(ptx.bytes, ".target sm_90"));
    CHECK(ptx.bytes.find('\0') == std::string::npos);

    for (const char* arch : {"sm_80", "sm_90"}) {
      CAPTURE(arch);
      cuda::CudaCode cubin = cuda::compile_cubin(kKernelsSource, arch, options);
      CHECK(cubin.arch == arch);
      CHECK(is_cuda_elf(cubin.bytes));
      CHECK(contains(cubin.bytes, "block_sum_half"));  // the symbol table names the kernels
    }
    // A virtual architecture asked for a CUBIN compiles for the matching real one.
    CHECK(cuda::compile_cubin(kKernelsSource, "compute_80", options).arch == "sm_80");
  }

  TEST_CASE("cuda compile: a second compile is a cache hit, from memory then from disk") {
    cuda::CompileOptions options = fresh_cuda_options();
    const std::string source = unique_source(kKernelsSource);
    cuda::CudaCode first = cuda::compile_cubin(source, "sm_90", options);
    cuda::CudaCode second = cuda::compile_cubin(source, "sm_90", options);
    CHECK_FALSE(first.from_cache);
    CHECK(second.from_cache);
    CHECK_FALSE(second.disk_hit);
    CHECK(second.bytes == first.bytes);
    CHECK(entries_with_extension(options.cache.cache_dir, ".cuda-cubin").size() == 1);

    jit_clear_memory_cache();
    cuda::CudaCode third = cuda::compile_cubin(source, "sm_90", options);
    CHECK(third.disk_hit);
    CHECK(third.bytes == first.bytes);

    // Everything in the key splits the cache: the output kind, the architecture, an option.
    CHECK_FALSE(cuda::compile_ptx(source, "sm_90", options).from_cache);
    CHECK_FALSE(cuda::compile_cubin(source, "sm_80", options).from_cache);
    cuda::CompileOptions fast = options;
    fast.nvrtc_options = {"--use_fast_math"};
    CHECK_FALSE(cuda::compile_cubin(source, "sm_90", fast).from_cache);
    CHECK(cuda::compile_cubin(source, "sm_90", fast).from_cache);
  }

  TEST_CASE("cuda compile: a corrupt cache entry is detected and rebuilt") {
    cuda::CompileOptions options = fresh_cuda_options();
    const std::string source = unique_source(kKernelsSource);
    const std::string good = cuda::compile_cubin(source, "sm_90", options).bytes;
    std::vector<fs::path> entries = entries_with_extension(options.cache.cache_dir, ".cuda-cubin");
    REQUIRE(entries.size() == 1);
    {  // flip a byte in the middle of the payload
      std::fstream file(entries[0], std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(static_cast<std::streamoff>(fs::file_size(entries[0]) / 2));
      file.put('\x5a');
    }
    jit_clear_memory_cache();
    const JitStats before = jit_stats();
    WarningCapture warnings;
    cuda::CudaCode rebuilt = cuda::compile_cubin(source, "sm_90", options);
    CHECK_FALSE(rebuilt.from_cache);
    CHECK(rebuilt.bytes == good);
    CHECK(jit_stats().corrupt_entries - before.corrupt_entries == 1);
    CHECK(warnings.count_containing("corrupt") == 1);

    jit_clear_memory_cache();
    CHECK(cuda::compile_cubin(source, "sm_90", options).disk_hit);  // rewritten, valid
  }

  TEST_CASE("cuda compile: NVRTC's diagnostics reach the user") {
    cuda::CompileOptions options = fresh_cuda_options();
    SUBCASE("an error in the source, with its line") {
      const std::string source =
          "extern \"C\" __global__ void broken(float* y) {\n"
          "  y[0] = undefined_name;\n"
          "}\n";
      CHECK_ERROR(
          cuda::compile_ptx(source, "compute_90", options),
          {"cuda: NVRTC could not compile kernels.cu for compute_90", "NVRTC_ERROR_COMPILATION",
           "kernels.cu(2): error", "identifier \"undefined_name\" is undefined"});
      // Nothing was cached for it.
      CHECK(entries_with_extension(options.cache.cache_dir, ".cuda-ptx").empty());
    }
    SUBCASE("the program name is the file name in the log") {
      options.program_name = "fused_add.cu";
      CHECK_ERROR(cuda::compile_cubin("__global__ void k() { int x = ; }\n", "sm_90", options),
                  {"fused_add.cu(1): error"});
    }
    SUBCASE("a bad option or an unsupported architecture") {
      options.nvrtc_options = {"--no-such-option"};
      CHECK_ERROR(cuda::compile_ptx(kKernelsSource, "compute_90", options),
                  {"NVRTC_ERROR_INVALID_OPTION"});
      options.nvrtc_options.clear();
      CHECK_ERROR(cuda::compile_cubin(kKernelsSource, "sm_10", options),
                  {"NVRTC could not compile kernels.cu for sm_10", "gpu-architecture"});
    }
  }

#endif  // CGVM_TEST_CUDA_PLUGIN

}  // TEST_SUITE
}  // namespace cgvm::test
