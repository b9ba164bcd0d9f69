// The plugin's one export: the ABI table. Memory, streams, events, modules, launches and
// graphs are thin enough to live here; each checks the driver, enters the thread's
// context and turns a CUresult into a status plus a sentence.
#include <cstdint>
#include <string>

#include "cuda/plugin/driver.hpp"

namespace cgvm::cuda_plugin::abi {
namespace {

CUstream as_stream(void* stream) { return static_cast<CUstream>(stream); }

std::string bytes_text(size_t bytes) { return std::to_string(bytes) + " bytes"; }

int synchronize_device() {
  if (int st = enter_context()) return st;
  return check(driver().cuCtxSynchronize(), "cuCtxSynchronize");
}

int memory_info(size_t* free_bytes, size_t* total_bytes) {
  if (int st = enter_context()) return st;
  return check(driver().cuMemGetInfo(free_bytes, total_bytes), "cuMemGetInfo");
}

int mem_alloc(size_t bytes, CgvmCudaDevicePtr* ptr) {
  *ptr = 0;
  if (int st = enter_context()) return st;
  CUdeviceptr p = 0;
  if (int st = check_lazy(driver().cuMemAlloc(&p, bytes),
                          [&] { return "cuMemAlloc(" + bytes_text(bytes) + ")"; }))
    return st;
  *ptr = p;
  return CGVM_CUDA_OK;
}

int mem_free(CgvmCudaDevicePtr ptr) {
  if (ptr == 0) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuMemFree(ptr), "cuMemFree");
}

int mem_alloc_async(size_t bytes, void* stream, CgvmCudaDevicePtr* ptr) {
  *ptr = 0;
  if (int st = enter_context()) return st;
  CUdeviceptr p = 0;
  if (int st = check_lazy(driver().cuMemAllocAsync(&p, bytes, as_stream(stream)),
                          [&] { return "cuMemAllocAsync(" + bytes_text(bytes) + ")"; }))
    return st;
  *ptr = p;
  return CGVM_CUDA_OK;
}

int mem_free_async(CgvmCudaDevicePtr ptr, void* stream) {
  if (ptr == 0) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuMemFreeAsync(ptr, as_stream(stream)), "cuMemFreeAsync");
}

int pinned_alloc(size_t bytes, void** ptr) {
  *ptr = nullptr;
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuMemAllocHost(ptr, bytes),
                    [&] { return "cuMemAllocHost(" + bytes_text(bytes) + ")"; });
}

int pinned_free(void* ptr) {
  if (!ptr) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuMemFreeHost(ptr), "cuMemFreeHost");
}

int memset_async(CgvmCudaDevicePtr dst, unsigned char value, size_t bytes, void* stream) {
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuMemsetD8Async(dst, value, bytes, as_stream(stream)),
                    [&] { return "cuMemsetD8Async(" + bytes_text(bytes) + ")"; });
}

int copy_to_device_async(CgvmCudaDevicePtr dst, const void* src, size_t bytes, void* stream) {
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuMemcpyHtoDAsync(dst, src, bytes, as_stream(stream)),
                    [&] { return "cuMemcpyHtoDAsync(" + bytes_text(bytes) + ")"; });
}

int copy_to_host_async(void* dst, CgvmCudaDevicePtr src, size_t bytes, void* stream) {
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuMemcpyDtoHAsync(dst, src, bytes, as_stream(stream)),
                    [&] { return "cuMemcpyDtoHAsync(" + bytes_text(bytes) + ")"; });
}

int copy_device_async(CgvmCudaDevicePtr dst, CgvmCudaDevicePtr src, size_t bytes, void* stream) {
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuMemcpyDtoDAsync(dst, src, bytes, as_stream(stream)),
                    [&] { return "cuMemcpyDtoDAsync(" + bytes_text(bytes) + ")"; });
}

int stream_create(void** stream) {
  *stream = nullptr;
  if (int st = enter_context()) return st;
  // Non-blocking: our streams must not serialise against stream 0 used by other libraries.
  CUstream s = nullptr;
  if (int st = check(driver().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return st;
  *stream = s;
  return CGVM_CUDA_OK;
}

int stream_destroy(void* stream) {
  if (!stream) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  // The driver may reuse the handle for a new stream; its workspace must not linger.
  if (int st = forget_blas_stream(stream)) return st;
  return check(driver().cuStreamDestroy(as_stream(stream)), "cuStreamDestroy");
}

int stream_synchronize(void* stream) {
  if (int st = enter_context()) return st;
  return check(driver().cuStreamSynchronize(as_stream(stream)), "cuStreamSynchronize");
}

int stream_wait_event(void* stream, void* event) {
  if (int st = enter_context()) return st;
  return check(driver().cuStreamWaitEvent(as_stream(stream), static_cast<CUevent>(event), 0),
               "cuStreamWaitEvent");
}

int event_create(void** event) {
  *event = nullptr;
  if (int st = enter_context()) return st;
  CUevent e = nullptr;
  if (int st = check(driver().cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate")) return st;
  *event = e;
  return CGVM_CUDA_OK;
}

int event_destroy(void* event) {
  if (!event) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
}

int event_record(void* event, void* stream) {
  if (int st = enter_context()) return st;
  return check(driver().cuEventRecord(static_cast<CUevent>(event), as_stream(stream)),
               "cuEventRecord");
}

int event_synchronize(void* event) {
  if (int st = enter_context()) return st;
  return check(driver().cuEventSynchronize(static_cast<CUevent>(event)), "cuEventSynchronize");
}

int event_elapsed_ms(void* start, void* end, float* ms) {
  if (int st = enter_context()) return st;
  return check(
      driver().cuEventElapsedTime(ms, static_cast<CUevent>(start), static_cast<CUevent>(end)),
      "cuEventElapsedTime");
}

int module_load(const void* image, void** module) {
  *module = nullptr;
  if (int st = enter_context()) return st;
  // PTX is JIT-compiled by the driver here; its error log says why a load failed (e.g. a
  // PTX version newer than the driver), which the bare error code does not.
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {log, reinterpret_cast<void*>(static_cast<uintptr_t>(sizeof log - 1))};
  CUmodule m = nullptr;
  CUresult r = driver().cuModuleLoadDataEx(&m, image, 2, options, values);
  if (r != CUDA_SUCCESS)
    return check(r, std::string("cuModuleLoadDataEx") + (log[0] ? std::string(": ") + log : ""));
  *module = m;
  return CGVM_CUDA_OK;
}

int module_unload(void* module) {
  if (!module) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuModuleUnload(static_cast<CUmodule>(module)), "cuModuleUnload");
}

int module_function(void* module, const char* name, void** function) {
  *function = nullptr;
  if (int st = enter_context()) return st;
  CUfunction f = nullptr;
  if (int st =
          check_lazy(driver().cuModuleGetFunction(&f, static_cast<CUmodule>(module), name), [&] {
            return std::string("cuModuleGetFunction(\"") + name +
                   "\") (is the kernel extern \"C\"?)";
          }))
    return st;
  *function = f;
  return CGVM_CUDA_OK;
}

int function_set_max_dynamic_shared(void* function, int bytes) {
  if (int st = enter_context()) return st;
  return check_lazy(
      driver().cuFuncSetAttribute(static_cast<CUfunction>(function),
                                  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
      [&] {
        return "cuFuncSetAttribute(max dynamic shared memory = " + std::to_string(bytes) + ")";
      });
}

int launch(void* function, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes,
           void* stream, void** params) {
  if (int st = enter_context()) return st;
  return check_lazy(driver().cuLaunchKernel(static_cast<CUfunction>(function), grid[0], grid[1],
                                            grid[2], block[0], block[1], block[2], shared_bytes,
                                            as_stream(stream), params, nullptr),
                    [&] {
                      return "cuLaunchKernel(grid " + std::to_string(grid[0]) + "x" +
                             std::to_string(grid[1]) + "x" + std::to_string(grid[2]) + ", block " +
                             std::to_string(block[0]) + "x" + std::to_string(block[1]) + "x" +
                             std::to_string(block[2]) + ", shared " + bytes_text(shared_bytes) +
                             ")";
                    });
}

int capture_begin(void* stream) {
  if (int st = enter_context()) return st;
  if (!stream)
    return fail(CGVM_CUDA_INVALID_ARGUMENT, "stream capture needs a created stream, not stream 0");
  if (int st = prepare_blas(stream)) return st;
  // Thread-local mode: other host threads of the program may allocate or synchronise
  // meanwhile; only this thread's unsafe calls would invalidate the capture.
  return check(
      driver().cuStreamBeginCapture(as_stream(stream), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
      "cuStreamBeginCapture");
}

int capture_end(void* stream, void** graph_exec) {
  if (graph_exec) *graph_exec = nullptr;
  if (int st = enter_context()) return st;
  const DriverApi& d = driver();
  CUgraph graph = nullptr;
  CUresult r = d.cuStreamEndCapture(as_stream(stream), &graph);
  if (r != CUDA_SUCCESS || !graph_exec) {
    if (graph) d.cuGraphDestroy(graph);
    if (!graph_exec) return CGVM_CUDA_OK;  // dropped: whatever went wrong is already news
    return check(r, "cuStreamEndCapture (an operation during the capture was not capturable)");
  }
  CUgraphExec exec = nullptr;
  r = d.cuGraphInstantiateWithFlags(&exec, graph, 0);
  // The executable graph is independent of the graph it was made from.
  d.cuGraphDestroy(graph);
  if (int st = check(r, "cuGraphInstantiate")) return st;
  *graph_exec = exec;
  return CGVM_CUDA_OK;
}

int graph_launch(void* graph_exec, void* stream) {
  if (int st = enter_context()) return st;
  return check(driver().cuGraphLaunch(static_cast<CUgraphExec>(graph_exec), as_stream(stream)),
               "cuGraphLaunch");
}

int graph_destroy(void* graph_exec) {
  if (!graph_exec) return CGVM_CUDA_OK;
  if (int st = enter_context()) return st;
  return check(driver().cuGraphExecDestroy(static_cast<CUgraphExec>(graph_exec)),
               "cuGraphExecDestroy");
}

// Designated initialisers: a field added to the ABI struct out of order fails to compile.
const CgvmCudaPlugin kTable = {
    .abi_version = CGVM_CUDA_ABI_VERSION,
    .struct_size = sizeof(CgvmCudaPlugin),
    .last_error = last_error,
    .init = init,
    .driver_state = driver_state,
    .driver_status = driver_status,
    .driver_version = driver_version,
    .device_count = device_count,
    .device_info = device_info,
    .set_device = set_device,
    .synchronize_device = synchronize_device,
    .memory_info = memory_info,
    .nvrtc_version = nvrtc_version,
    .toolkit_include_dir = toolkit_include_dir,
    .compile = compile,
    .free_compile_result = free_compile_result,
    .mem_alloc = mem_alloc,
    .mem_free = mem_free,
    .mem_alloc_async = mem_alloc_async,
    .mem_free_async = mem_free_async,
    .pinned_alloc = pinned_alloc,
    .pinned_free = pinned_free,
    .memset_async = memset_async,
    .copy_to_device_async = copy_to_device_async,
    .copy_to_host_async = copy_to_host_async,
    .copy_device_async = copy_device_async,
    .stream_create = stream_create,
    .stream_destroy = stream_destroy,
    .stream_synchronize = stream_synchronize,
    .stream_wait_event = stream_wait_event,
    .event_create = event_create,
    .event_destroy = event_destroy,
    .event_record = event_record,
    .event_synchronize = event_synchronize,
    .event_elapsed_ms = event_elapsed_ms,
    .module_load = module_load,
    .module_unload = module_unload,
    .module_function = module_function,
    .function_set_max_dynamic_shared = function_set_max_dynamic_shared,
    .launch = launch,
    .gemm = gemm,
    .capture_begin = capture_begin,
    .capture_end = capture_end,
    .graph_launch = graph_launch,
    .graph_destroy = graph_destroy,
};

}  // namespace
}  // namespace cgvm::cuda_plugin::abi

// The only symbol the plugin exports (it is built with hidden visibility).
extern "C" __attribute__((visibility("default"))) const CgvmCudaPlugin* cgvm_cuda_plugin_table(
    void) {
  return &cgvm::cuda_plugin::abi::kTable;
}
