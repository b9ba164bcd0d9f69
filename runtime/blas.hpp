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

// y = alpha * op(A) * x + beta * y, A a row-major rows x cols matrix with row stride lda;
// op(A) = A (x has cols elements, y rows) or A^T (x has rows elements, y cols). incx and
// incy are the vectors' element strides (>= 1). y need not be set when beta is 0.
void gemv(bool trans, std::int64_t rows, std::int64_t cols, float alpha, const float* a,
          std::int64_t lda, const float* x, std::int64_t incx, float beta, float* y,
          std::int64_t incy);
void gemv(bool trans, std::int64_t rows, std::int64_t cols, double alpha, const double* a,
          std::int64_t lda, const double* x, std::int64_t incx, double beta, double* y,
          std::int64_t incy);

// The number of threads OpenBLAS may use.
void set_num_threads(int n);
int num_threads();

}  // namespace cgvm::blas
