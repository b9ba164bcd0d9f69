#include "cuda/blas.hpp"

#include "cuda/backend.hpp"
#include "cuda/plugin_abi.h"
#include "runtime/error.hpp"

namespace cgvm::cuda {

void gemm(const Gemm& g) {
  if (g.dtype != DType::Float32 && g.dtype != DType::Float64)
    throw Error("cuda: gemm supports float32 and float64, not " + std::string(dtype_name(g.dtype)));
  CgvmCudaGemm raw{};
  raw.dtype = g.dtype == DType::Float32 ? CGVM_CUDA_FLOAT32 : CGVM_CUDA_FLOAT64;
  raw.transpose_a = g.transpose_a;
  raw.transpose_b = g.transpose_b;
  raw.m = g.m;
  raw.n = g.n;
  raw.k = g.k;
  raw.alpha = g.alpha;
  raw.beta = g.beta;
  raw.a = g.a;
  raw.b = g.b;
  raw.c = g.c;
  raw.lda = g.lda;
  raw.ldb = g.ldb;
  raw.ldc = g.ldc;
  raw.stride_a = g.stride_a;
  raw.stride_b = g.stride_b;
  raw.stride_c = g.stride_c;
  raw.batch_count = g.batch_count;
  raw.stream = g.stream.handle;
  const CgvmCudaPlugin& p = detail::driver_plugin();
  detail::check(p, p.gemm(&raw));
}

}  // namespace cgvm::cuda
