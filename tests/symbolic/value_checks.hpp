#pragma once
// Helpers shared by the reduce, contraction and nn tests: building inputs from hand-written
// values, checking results against hand-computed ones, and checking gradients.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "support.hpp"
#include "symbolic/grad.hpp"

namespace cgvm::test {

using Values = std::vector<double>;

// `values` (row-major) as an array of `shape` and `dtype`; shape {} is a scalar.
inline Array make(DType dtype, const Values& values, const Shape& shape) {
  return Array::from_vector(values, {static_cast<std::int64_t>(values.size())})
      .reshape(shape)
      .astype(dtype);
}

// dtype, shape and values: exact for integers and bool, within atol + rtol * |want| (rtol
// default: a few ulps) for floats; NaN matches NaN and infinities match themselves.
inline void check_array(const Array& got, DType dtype, const Shape& shape, const Values& want,
                        double rtol = -1, double atol = 0) {
  CHECK(dtype_name(got.dtype()) == dtype_name(dtype));
  CHECK(shape_str(got.shape()) == shape_str(shape));
  Values v = got.to_double_vector();
  REQUIRE(v.size() == want.size());
  if (rtol < 0) rtol = dtype == DType::Float32 ? 1e-6 : dtype == DType::Float64 ? 1e-14 : 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    if (std::isnan(want[i])) CHECK(std::isnan(v[i]));
    else if (std::isinf(want[i])) CHECK(v[i] == want[i]);
    else CHECK(std::fabs(v[i] - want[i]) <= atol + rtol * std::fabs(want[i]));
  }
}

// verify_grad(fn, points) as a doctest check: a wrong gradient fails the check with
// verify_grad's message (worst element, both values) and `what`, and the test goes on.
inline void check_grad(const std::string& what,
                       const std::function<Var(const std::vector<Var>&)>& fn,
                       const std::vector<Array>& points, const VerifyGradOptions& options = {}) {
  INFO(what);
  try {
    verify_grad(fn, points, options);
  } catch (const Error& e) {
    FAIL_CHECK(std::string(e.what()));
  }
}

// A float64 point drawn uniformly from [lo, hi).
inline Array uniform_point(std::uint64_t seed, const Shape& shape, double lo, double hi) {
  return Array::uniform(seed, shape, lo, hi, DType::Float64);
}

}  // namespace cgvm::test
