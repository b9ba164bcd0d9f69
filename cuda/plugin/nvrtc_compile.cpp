// NVRTC: CUDA C++ text to PTX or CUBIN. Needs no driver and no GPU (DESIGN.md §6), so CI
// compiles every kernel. Caching is the host library's job (cuda/compile.cpp).
#include <nvrtc.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/plugin/driver.hpp"

namespace cgvm::cuda_plugin::abi {
namespace {

char* copy_out(const std::string& text, size_t* size) {
  *size = text.size();
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) {
    *size = 0;
    return nullptr;
  }
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

std::string program_log(nvrtcProgram program) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0) return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return "";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

// Destroys the program on every path out of compile().
struct ProgramGuard {
  nvrtcProgram program = nullptr;
  ~ProgramGuard() {
    if (program) nvrtcDestroyProgram(&program);
  }
};

int nvrtc_fail(nvrtcResult result, const std::string& what) {
  return fail(CGVM_CUDA_COMPILE_ERROR, what + ": " + nvrtcGetErrorString(result));
}

}  // namespace

int nvrtc_version(int* major, int* minor) {
  if (nvrtcResult r = nvrtcVersion(major, minor); r != NVRTC_SUCCESS)
    return nvrtc_fail(r, "nvrtcVersion");
  return CGVM_CUDA_OK;
}

const char* toolkit_include_dir() { return CGVM_CUDA_TOOLKIT_INCLUDE_DIR; }

int compile(const CgvmCudaCompileRequest* request, CgvmCudaCompileResult* result) {
  std::memset(result, 0, sizeof *result);
  if (!request->source || !request->arch)
    return fail(CGVM_CUDA_INVALID_ARGUMENT, "compile: no source or no architecture given");
  const bool cubin = request->output == CGVM_CUDA_OUTPUT_CUBIN;
  const std::string name = request->program_name ? request->program_name : "kernels.cu";
  const std::string what = "NVRTC could not compile " + name + " for " + request->arch;

  ProgramGuard guard;
  if (nvrtcResult r =
          nvrtcCreateProgram(&guard.program, request->source, name.c_str(), 0, nullptr, nullptr);
      r != NVRTC_SUCCESS)
    return nvrtc_fail(r, what + " (nvrtcCreateProgram)");

  // The toolkit's headers (cuda_fp16.h, ...) are not in NVRTC's built-in search list.
  const std::string arch_option = std::string("--gpu-architecture=") + request->arch;
  const std::string include_option = std::string("-I") + CGVM_CUDA_TOOLKIT_INCLUDE_DIR;
  std::vector<const char*> options = {arch_option.c_str(), include_option.c_str()};
  for (int i = 0; i < request->num_options; ++i) options.push_back(request->options[i]);

  const nvrtcResult compiled =
      nvrtcCompileProgram(guard.program, static_cast<int>(options.size()), options.data());
  result->log = copy_out(program_log(guard.program), &result->log_size);
  if (compiled != NVRTC_SUCCESS) return nvrtc_fail(compiled, what);

  size_t size = 0;
  nvrtcResult r =
      cubin ? nvrtcGetCUBINSize(guard.program, &size) : nvrtcGetPTXSize(guard.program, &size);
  if (r != NVRTC_SUCCESS) return nvrtc_fail(r, what + " (getting the output size)");
  // A virtual architecture (compute_XX) yields PTX only: the CUBIN size reads 0.
  if (size == 0)
    return fail(CGVM_CUDA_COMPILE_ERROR,
                what + ": no " + (cubin ? "CUBIN" : "PTX") +
                    " was produced (a CUBIN needs a real architecture such as sm_90)");
  std::string code(size, '\0');
  r = cubin ? nvrtcGetCUBIN(guard.program, code.data()) : nvrtcGetPTX(guard.program, code.data());
  if (r != NVRTC_SUCCESS) return nvrtc_fail(r, what + " (getting the output)");
  if (!cubin && !code.empty() && code.back() == '\0') code.pop_back();  // text, counted without NUL
  result->code = copy_out(code, &result->code_size);
  if (!result->code) return fail(CGVM_CUDA_OUT_OF_MEMORY, what + ": out of host memory");
  return CGVM_CUDA_OK;
}

void free_compile_result(CgvmCudaCompileResult* result) {
  std::free(result->code);
  std::free(result->log);
  std::memset(result, 0, sizeof *result);
}

}  // namespace cgvm::cuda_plugin::abi
