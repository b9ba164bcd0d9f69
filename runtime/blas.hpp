#pragma once
// The one binding to BLAS (OpenBLAS through its CBLAS interface). The interpreter and, later,
// generated code call products through here.
#include <cstdint>

namespace cgvm::blas {

// C = alpha * op(A) * op(B) + beta * C, row-major. op(X) = X or X^T.
// lda/ldb/ldc are row strides (in elements) of the stored matrices.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
          float beta, float* c, std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          double alpha, const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
          double beta, double* c, std::int64_t ldc);

// The number of threads OpenBLAS may use.
void set_num_threads(int n);
int num_threads();

}  // namespace cgvm::blas
