// compile_cuda as one recipe: normalise the architecture -> key text -> cache -> NVRTC
// (in the plugin) -> publish.
#include "cuda/compile.hpp"

#include <cctype>

#include "cuda/backend.hpp"
#include "cuda/plugin_abi.h"
#include "runtime/error.hpp"

namespace cgvm::cuda {
namespace {

// Bump when the meaning of a cached payload changes in a way the key text does not show.
constexpr std::string_view kPayloadFormat = "cgvm-cuda-code 1";

std::string_view kind_name(CodeKind kind) { return kind == CodeKind::Ptx ? "PTX" : "CUBIN"; }
std::string_view artifact_kind(CodeKind kind) {
  return kind == CodeKind::Ptx ? "cuda-ptx" : "cuda-cubin";
}

// Every input that changes the bytes NVRTC produces. Each variable part is preceded by its
// length, so no two different inputs give the same text.
std::string key_text(const CgvmCudaPlugin& plugin, const std::string& source, CodeKind kind,
                     const std::string& arch, const CompileOptions& options) {
  NvrtcVersion version = nvrtc_version();
  std::string text(kPayloadFormat);
  auto add = [&text](std::string_view part) {
    text += "\n" + std::to_string(part.size()) + ":";
    text += part;
  };
  add("nvrtc " + std::to_string(version.major) + "." + std::to_string(version.minor));
  add(plugin.toolkit_include_dir());
  add(kind_name(kind));
  add(arch);
  add(options.program_name);
  add(std::to_string(options.nvrtc_options.size()));
  for (const std::string& option : options.nvrtc_options) add(option);
  add(source);
  return text;
}

// A cache entry passed the store's checksum; this catches a payload of the wrong kind.
bool plausible(CodeKind kind, const std::string& bytes) {
  if (kind == CodeKind::Cubin)
    return bytes.size() > 4 && bytes.compare(0, 4,
                                             "\x7f"
                                             "ELF") == 0;
  return !bytes.empty();
}

}  // namespace

std::string normalize_arch(std::string_view arch, CodeKind kind) {
  std::string_view number;
  if (arch.starts_with("sm_"))
    number = arch.substr(3);
  else if (arch.starts_with("compute_"))
    number = arch.substr(8);
  std::size_t digits = 0;
  while (digits < number.size() && std::isdigit(static_cast<unsigned char>(number[digits])))
    ++digits;
  const bool well_formed =
      digits > 0 &&
      (digits == number.size() ||
       (digits + 1 == number.size() && std::islower(static_cast<unsigned char>(number.back()))));
  if (!well_formed)
    throw Error("cuda: the architecture '" + std::string(arch) +
                "' is not of the form sm_90 or compute_90");
  return (kind == CodeKind::Ptx ? "compute_" : "sm_") + std::string(number);
}

NvrtcVersion nvrtc_version() {
  const CgvmCudaPlugin& plugin = detail::plugin();
  NvrtcVersion v;
  detail::check(plugin, plugin.nvrtc_version(&v.major, &v.minor));
  return v;
}

CudaCode compile_ptx(const std::string& source, std::string_view arch,
                     const CompileOptions& options) {
  return compile_cuda(source, CodeKind::Ptx, arch, options);
}

CudaCode compile_cubin(const std::string& source, std::string_view arch,
                       const CompileOptions& options) {
  return compile_cuda(source, CodeKind::Cubin, arch, options);
}

CudaCode compile_cuda(const std::string& source, CodeKind kind, std::string_view arch,
                      const CompileOptions& options) {
  CudaCode code;
  code.kind = kind;
  code.arch = normalize_arch(arch, kind);
  const CgvmCudaPlugin& plugin = detail::plugin();
  const std::string key = key_text(plugin, source, kind, code.arch, options);

  bool disk_hit = false;
  if (std::optional<std::string> cached =
          load_artifact(artifact_kind(kind), key, options.cache, &disk_hit);
      cached && plausible(kind, *cached)) {
    code.bytes = std::move(*cached);
    code.from_cache = true;
    code.disk_hit = disk_hit;
    return code;
  }

  std::vector<const char*> raw_options;
  for (const std::string& option : options.nvrtc_options) raw_options.push_back(option.c_str());
  CgvmCudaCompileRequest request{};
  request.source = source.c_str();
  request.program_name = options.program_name.c_str();
  request.arch = code.arch.c_str();
  request.output = kind == CodeKind::Ptx ? CGVM_CUDA_OUTPUT_PTX : CGVM_CUDA_OUTPUT_CUBIN;
  request.options = raw_options.data();
  request.num_options = static_cast<int>(raw_options.size());

  CgvmCudaCompileResult result{};
  const int status = plugin.compile(&request, &result);
  std::string log = result.log ? std::string(result.log, result.log_size) : "";
  std::string bytes = result.code ? std::string(result.code, result.code_size) : "";
  std::string message = status == CGVM_CUDA_OK ? "" : plugin.last_error();
  plugin.free_compile_result(&result);
  if (status != CGVM_CUDA_OK) throw Error("cuda: " + message + (log.empty() ? "" : "\n" + log));

  store_artifact(artifact_kind(kind), key, bytes, options.cache);
  code.bytes = std::move(bytes);
  code.log = std::move(log);
  return code;
}

}  // namespace cgvm::cuda
