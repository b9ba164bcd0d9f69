/* The C ABI between the CUDA plugin (libcgvm_cuda.so) and the host library (cgvm_cuda).
 *
 * Plain C, no CUDA header: the host side is compiled without the toolkit and finds the
 * plugin at run time with dlopen. The plugin exports one function, CGVM_CUDA_PLUGIN_ENTRY,
 * returning a table of function pointers. Rules every entry follows:
 *  - Handles are opaque: device memory is a uint64_t (a CUdeviceptr), everything else a
 *    void* (CUstream, CUmodule, CUfunction, CUevent, CUgraphExec). A NULL stream is the
 *    legacy default stream.
 *  - Functions return an int status (CGVM_CUDA_OK or one of the categories below); on
 *    failure last_error() holds a sentence for the user, in thread-local storage that stays
 *    valid until the next call on the same thread.
 *  - Driver-dependent calls fail with CGVM_CUDA_UNAVAILABLE (and the driver status as the
 *    message) when the driver did not initialise; the compiler works without a driver.
 *  - Calls run in the primary context of the calling thread's device (set_device, default
 *    0), made current on each thread on first use, so cuBLAS and our driver calls share it.
 *
 * Change the table only by appending; bump CGVM_CUDA_ABI_VERSION when an entry changes. */
#ifndef CGVM_CUDA_PLUGIN_ABI_H
#define CGVM_CUDA_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CGVM_CUDA_ABI_VERSION 1
#define CGVM_CUDA_PLUGIN_ENTRY "cgvm_cuda_plugin_table"

/* Status categories. */
enum {
  CGVM_CUDA_OK = 0,
  CGVM_CUDA_UNAVAILABLE = 1,      /* no driver, cuInit failed, or no device */
  CGVM_CUDA_DRIVER_ERROR = 2,     /* a driver call failed */
  CGVM_CUDA_OUT_OF_MEMORY = 3,    /* device or pinned host memory exhausted */
  CGVM_CUDA_COMPILE_ERROR = 4,    /* NVRTC rejected the source or the options */
  CGVM_CUDA_BLAS_ERROR = 5,       /* a cuBLAS call failed */
  CGVM_CUDA_INVALID_ARGUMENT = 6  /* caught before calling CUDA */
};

/* What init() found, for driver_state(). */
enum {
  CGVM_CUDA_DRIVER_NOT_INITIALISED = 0,
  CGVM_CUDA_DRIVER_READY = 1,
  CGVM_CUDA_DRIVER_MISSING = 2,   /* libcuda could not be loaded or lacks an entry point */
  CGVM_CUDA_DRIVER_FAILED = 3,    /* cuInit or a query failed, or the driver is too old */
  CGVM_CUDA_DRIVER_NO_DEVICE = 4  /* cuInit said CUDA_ERROR_NO_DEVICE, or 0 devices */
};

typedef uint64_t CgvmCudaDevicePtr;

typedef struct CgvmCudaDeviceInfo {
  char name[256];
  int compute_major;
  int compute_minor;
  uint64_t total_memory;             /* bytes */
  int multiprocessors;
  int max_threads_per_block;
  int max_shared_memory_per_block;   /* opt-in maximum (cuFuncSetAttribute), bytes */
  int warp_size;
} CgvmCudaDeviceInfo;

enum { CGVM_CUDA_OUTPUT_PTX = 0, CGVM_CUDA_OUTPUT_CUBIN = 1 };

typedef struct CgvmCudaCompileRequest {
  const char* source;           /* NUL-terminated CUDA C++ */
  const char* program_name;     /* the file name NVRTC's log lines use, e.g. "kernels.cu" */
  const char* arch;             /* "compute_90" for PTX, "sm_90" for CUBIN */
  int output;                   /* CGVM_CUDA_OUTPUT_* */
  const char* const* options;   /* extra NVRTC options; the toolkit include dir is added */
  int num_options;
} CgvmCudaCompileRequest;

/* Filled by compile(), allocated by the plugin, released by free_compile_result() in any
 * case (the log is set on failure too). `code` is PTX text (no trailing NUL counted) or an
 * ELF CUBIN image. */
typedef struct CgvmCudaCompileResult {
  char* code;
  size_t code_size;
  char* log;
  size_t log_size;
} CgvmCudaCompileResult;

enum { CGVM_CUDA_FLOAT32 = 0, CGVM_CUDA_FLOAT64 = 1 };

/* C = alpha * op(A) * op(B) + beta * C in cuBLAS's column-major convention, batch_count
 * times with the given element strides (batch_count 1: a plain gemm, strides ignored).
 * op(A) is m x k, op(B) k x n, C m x n. */
typedef struct CgvmCudaGemm {
  int dtype;                    /* CGVM_CUDA_FLOAT32 or CGVM_CUDA_FLOAT64 */
  int transpose_a, transpose_b; /* 0 or 1 */
  int64_t m, n, k;
  double alpha, beta;           /* converted to float for float32 */
  CgvmCudaDevicePtr a, b, c;
  int64_t lda, ldb, ldc;
  int64_t stride_a, stride_b, stride_c;
  int64_t batch_count;
  void* stream;
} CgvmCudaGemm;

typedef struct CgvmCudaPlugin {
  uint32_t abi_version;   /* CGVM_CUDA_ABI_VERSION of the plugin */
  uint32_t struct_size;   /* sizeof(CgvmCudaPlugin) of the plugin */

  const char* (*last_error)(void);

  /* Driver: init() loads `driver_library` (NULL: "libcuda.so.1"), calls cuInit(0) and
   * resolves the entry points. Only the first call does work; later calls return its
   * result. driver_status() is a sentence: why not, or what was found. */
  int (*init)(const char* driver_library);
  int (*driver_state)(void);
  const char* (*driver_status)(void);
  int (*driver_version)(int* version);   /* e.g. 13000 */
  int (*device_count)(int* count);
  int (*device_info)(int device, CgvmCudaDeviceInfo* info);
  int (*set_device)(int device);         /* for the calling thread */
  int (*synchronize_device)(void);
  int (*memory_info)(size_t* free_bytes, size_t* total_bytes);

  /* NVRTC (no driver needed). */
  int (*nvrtc_version)(int* major, int* minor);
  const char* (*toolkit_include_dir)(void);
  int (*compile)(const CgvmCudaCompileRequest* request, CgvmCudaCompileResult* result);
  void (*free_compile_result)(CgvmCudaCompileResult* result);

  /* Memory. The *_async allocation calls are stream-ordered (allowed in graph capture). */
  int (*mem_alloc)(size_t bytes, CgvmCudaDevicePtr* ptr);
  int (*mem_free)(CgvmCudaDevicePtr ptr);
  int (*mem_alloc_async)(size_t bytes, void* stream, CgvmCudaDevicePtr* ptr);
  int (*mem_free_async)(CgvmCudaDevicePtr ptr, void* stream);
  int (*pinned_alloc)(size_t bytes, void** ptr);
  int (*pinned_free)(void* ptr);
  int (*memset_async)(CgvmCudaDevicePtr dst, unsigned char value, size_t bytes, void* stream);
  int (*copy_to_device_async)(CgvmCudaDevicePtr dst, const void* src, size_t bytes,
                              void* stream);
  int (*copy_to_host_async)(void* dst, CgvmCudaDevicePtr src, size_t bytes, void* stream);
  int (*copy_device_async)(CgvmCudaDevicePtr dst, CgvmCudaDevicePtr src, size_t bytes,
                           void* stream);

  /* Streams and events. */
  int (*stream_create)(void** stream);   /* non-blocking with respect to stream 0 */
  int (*stream_destroy)(void* stream);
  int (*stream_synchronize)(void* stream);
  int (*stream_wait_event)(void* stream, void* event);
  int (*event_create)(void** event);     /* with timing */
  int (*event_destroy)(void* event);
  int (*event_record)(void* event, void* stream);
  int (*event_synchronize)(void* event);
  int (*event_elapsed_ms)(void* start, void* end, float* ms);

  /* Modules and launches. The image is PTX (NUL-terminated) or a CUBIN. */
  int (*module_load)(const void* image, void** module);
  int (*module_unload)(void* module);
  int (*module_function)(void* module, const char* name, void** function);
  int (*function_set_max_dynamic_shared)(void* function, int bytes);
  int (*launch)(void* function, const unsigned grid[3], const unsigned block[3],
                unsigned shared_bytes, void* stream, void** params);

  /* cuBLAS, on the handle of the calling thread's device. */
  int (*gemm)(const CgvmCudaGemm* gemm);

  /* CUDA graphs: capture the work issued on a (non-default) stream, then replay it.
   * capture_end with graph_exec NULL ends the capture and drops what it recorded. */
  int (*capture_begin)(void* stream);
  int (*capture_end)(void* stream, void** graph_exec);
  int (*graph_launch)(void* graph_exec, void* stream);
  int (*graph_destroy)(void* graph_exec);
} CgvmCudaPlugin;

typedef const CgvmCudaPlugin* (*CgvmCudaPluginEntry)(void);

#ifdef __cplusplus
}
#endif

#endif /* CGVM_CUDA_PLUGIN_ABI_H */
