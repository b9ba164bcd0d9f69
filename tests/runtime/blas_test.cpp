#include <cmath>
#include <vector>

#include "runtime/blas.hpp"
#include "support.hpp"

using namespace cgvm;

TEST_CASE("blas: gemm matches a naive product, with transposes and leading dimensions") {
  // A is 2x3 inside a 2x4 buffer (lda 4); B^T is stored as 2x3 (ldb 3).
  std::vector<double> a = {1, 2, 3, -1, 4, 5, 6, -1};
  std::vector<double> bt = {1, 0, 2, 0, 1, 3};  // B = [[1, 0], [0, 1], [2, 3]]
  std::vector<double> c = {1, 1, 1, 1};
  blas::gemm(false, true, 2, 2, 3, 1.0, a.data(), 4, bt.data(), 3, 2.0, c.data(), 2);
  CHECK(c == std::vector<double>{7 + 2, 11 + 2, 16 + 2, 23 + 2});

  std::vector<float> at = {1, 4, 2, 5, 3, 6};  // A^T stored 3x2
  std::vector<float> b = {1, 0, 0, 1, 2, 3};
  std::vector<float> cf(4, std::nanf(""));
  blas::gemm(true, false, 2, 2, 3, 1.0f, at.data(), 2, b.data(), 2, 0.0f, cf.data(), 2);
  CHECK(cf == std::vector<float>{7, 11, 16, 23});

  // k == 0: C = beta * C, and beta == 0 clears even NaN.
  std::vector<float> ck = {1, 2, std::nanf("")};
  blas::gemm(false, false, 1, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.5f, ck.data(), 3);
  CHECK(ck[0] == 0.5f);
  CHECK(ck[1] == 1.0f);
  blas::gemm(false, false, 1, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, ck.data(), 3);
  CHECK(ck == std::vector<float>{0, 0, 0});
  blas::gemm(false, false, 0, 3, 2, 1.0f, nullptr, 2, nullptr, 3, 0.0f, nullptr, 3);  // no-op
  CHECK_ERROR(blas::gemm(false, false, 2, 2, 3, 1.0, a.data(), 2, bt.data(), 2, 0.0, c.data(), 2),
              {"lda", "2"});
  CHECK_ERROR(blas::gemm(false, false, -1, 2, 3, 1.0, a.data(), 3, bt.data(), 2, 0.0, c.data(), 2),
              {"m = -1"});

  const int before = blas::num_threads();
  blas::set_num_threads(1);
  CHECK(blas::num_threads() == 1);
  blas::set_num_threads(before);
  CHECK_ERROR(blas::set_num_threads(0), {"0 threads"});
}

TEST_CASE("blas: gemv matches a naive product, both ways, with strides") {
  // A = [[1, 2, 3], [4, 5, 6]] inside a 2x4 buffer (lda 4); x every other element.
  std::vector<double> a = {1, 2, 3, -1, 4, 5, 6, -1};
  std::vector<double> x = {1, 9, 0, 9, 2};  // [1, 0, 2] with incx 2
  std::vector<double> y = {1, 1};
  blas::gemv(false, 2, 3, 1.0, a.data(), 4, x.data(), 2, 2.0, y.data(), 1);
  CHECK(y == std::vector<double>{7 + 2, 16 + 2});
  // A^T [1, 2]: y has 3 elements, written every other place.
  std::vector<float> af = {1, 2, 3, 4, 5, 6}, xf = {1, 2};
  std::vector<float> yf(5, std::nanf(""));
  blas::gemv(true, 2, 3, 2.0f, af.data(), 3, xf.data(), 1, 0.0f, yf.data(), 2);
  CHECK(yf[0] == 18);
  CHECK(yf[2] == 24);
  CHECK(yf[4] == 30);
  CHECK(std::isnan(yf[1]));  // untouched between the strides
  // An empty sum: y = beta * y; beta == 0 clears even NaN.
  std::vector<float> yk = {2, std::nanf("")};
  blas::gemv(false, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.5f, yk.data(), 1);
  CHECK(yk[0] == 1.0f);
  blas::gemv(false, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.0f, yk.data(), 1);
  CHECK(yk == std::vector<float>{0, 0});
  CHECK_ERROR(blas::gemv(false, 2, 3, 1.0, a.data(), 2, x.data(), 1, 0.0, y.data(), 1),
              {"blas::gemv", "lda = 2"});
  CHECK_ERROR(blas::gemv(false, 2, 3, 1.0, a.data(), 4, x.data(), 0, 0.0, y.data(), 1),
              {"blas::gemv", "incx = 0"});
}
