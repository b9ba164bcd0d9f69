#pragma once
// cuBLAS matrix products on device memory (float32 and float64).
//
// cuBLAS is column-major. A row-major product C = op(A) op(B) (the layout of cgvm::Array)
// is the column-major product C^T = op(B)^T op(A)^T: pass B as `a` and A as `b`, swap m
// and n, and keep each operand's transpose flag; leading dimensions are row strides.
// Calls are ordered on `stream` and capturable into a CUDA graph (module.hpp): the plugin
// gives each device's handle a workspace up front.
#include <cstdint>

#include "cuda/device.hpp"
#include "runtime/dtype.hpp"

namespace cgvm::cuda {

struct Gemm {
  DType dtype = DType::Float32;  // Float32 or Float64
  bool transpose_a = false, transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;  // op(A) is m x k, op(B) k x n, C m x n
  double alpha = 1, beta = 0;
  DevicePtr a = 0, b = 0, c = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  // batch_count > 1: C_i = alpha op(A_i) op(B_i) + beta C_i with X_i = X + i * stride_x
  // elements (cublas<t>gemmStridedBatched). A stride of 0 broadcasts that operand.
  std::int64_t batch_count = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  StreamRef stream;
};

// Throws cgvm::Error naming the sizes when cuBLAS refuses (e.g. lda < rows of A).
void gemm(const Gemm& g);

}  // namespace cgvm::cuda
