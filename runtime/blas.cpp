#include "runtime/blas.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "runtime/error.hpp"

// Declared again here because the cblas.h that Debian's alternatives system selects may
// belong to another BLAS; the signatures match OpenBLAS's own header.
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace cgvm::blas {

namespace {

// CBLAS takes `int` sizes (LP64 OpenBLAS), and answers bad arguments by printing through
// xerbla and returning with C untouched. Check everything here so callers get an Error.
int to_blas_int(std::int64_t v, const char* what, const char* fn = "gemm") {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw Error(fmt::format("blas::{}: {} = {} is out of range", fn, what, v));
  return static_cast<int>(v);
}

void check_ld(std::int64_t ld, std::int64_t cols, const char* what, const char* fn = "gemm") {
  if (ld < std::max<std::int64_t>(1, cols))
    throw Error(fmt::format("blas::{}: {} = {} is smaller than the {} columns of the stored "
                            "row-major matrix",
                            fn, what, ld, cols));
}

template <class T, class Gemm>
void gemm_impl(Gemm call, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
               std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
               std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const int im = to_blas_int(m, "m"), in = to_blas_int(n, "n"), ik = to_blas_int(k, "k");
  if (m == 0 || n == 0) return;
  check_ld(ldc, n, "ldc");
  const int ildc = to_blas_int(ldc, "ldc");
  if (k == 0 || alpha == T(0)) {
    // C = beta * C. beta == 0 overwrites, so NaN in an uninitialised C does not survive,
    // matching BLAS's rule that C need not be set when beta is 0.
    for (std::int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (std::int64_t j = 0; j < n; ++j) row[j] = beta == T(0) ? T(0) : beta * row[j];
    }
    return;
  }
  // Row-major storage: A is m x k (k x m when transposed), B is k x n (n x k).
  check_ld(lda, trans_a ? m : k, "lda");
  check_ld(ldb, trans_b ? k : n, "ldb");
  call(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
       im, in, ik, alpha, a, to_blas_int(lda, "lda"), b, to_blas_int(ldb, "ldb"), beta, c, ildc);
}


template <class T, class Gemv>
void gemv_impl(Gemv call, bool trans, std::int64_t rows, std::int64_t cols, T alpha, const T* a,
               std::int64_t lda, const T* x, std::int64_t incx, T beta, T* y,
               std::int64_t incy) {
  const int ir = to_blas_int(rows, "rows", "gemv"), ic = to_blas_int(cols, "cols", "gemv");
  const std::int64_t len_y = trans ? cols : rows, len_x = trans ? rows : cols;
  if (len_y == 0) return;
  if (incx < 1 || incy < 1)
    throw Error(fmt::format("blas::gemv: vector strides must be >= 1, got incx = {}, incy = {}",
                            incx, incy));
  // beta == 0: y is overwritten (it may be uninitialised, and 0 * NaN is NaN), as for gemm.
  if (len_x == 0 || alpha == T(0) || beta == T(0)) {
    for (std::int64_t i = 0; i < len_y; ++i) y[i * incy] = beta == T(0) ? T(0) : beta * y[i * incy];
    if (len_x == 0 || alpha == T(0)) return;
  }
  check_ld(lda, cols, "lda", "gemv");
  call(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, ir, ic, alpha, a,
       to_blas_int(lda, "lda", "gemv"), x, to_blas_int(incx, "incx", "gemv"), beta, y,
       to_blas_int(incy, "incy", "gemv"));
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
          float beta, float* c, std::int64_t ldc) {
  gemm_impl<float>(cblas_sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                   ldc);
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          double alpha, const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
          double beta, double* c, std::int64_t ldc) {
  gemm_impl<double>(cblas_dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
}

void gemv(bool trans, std::int64_t rows, std::int64_t cols, float alpha, const float* a,
          std::int64_t lda, const float* x, std::int64_t incx, float beta, float* y,
          std::int64_t incy) {
  gemv_impl<float>(cblas_sgemv, trans, rows, cols, alpha, a, lda, x, incx, beta, y, incy);
}

void gemv(bool trans, std::int64_t rows, std::int64_t cols, double alpha, const double* a,
          std::int64_t lda, const double* x, std::int64_t incx, double beta, double* y,
          std::int64_t incy) {
  gemv_impl<double>(cblas_dgemv, trans, rows, cols, alpha, a, lda, x, incx, beta, y, incy);
}

void set_num_threads(int n) {
  if (n < 1) throw Error(fmt::format("blas::set_num_threads: {} threads requested", n));
  openblas_set_num_threads(n);
}

int num_threads() { return openblas_get_num_threads(); }

}  // namespace cgvm::blas
