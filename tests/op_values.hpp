#pragma once
// Values and comparisons for the tests that run every op of the table some other way than
// the interpreter (compiled C++, emulated CUDA) and compare: inputs that reach the
// interesting parts of each function, and the tolerance of a match.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cgvm.hpp"
#include "codegen/lower.hpp"
#include "optimizer/pipeline.hpp"
#include "support.hpp"

namespace cgvm::test {

// Float32 within 1e-5 relative (+1e-6 absolute: generated code uses the vectorized math of
// codegen/prelude/math.hpp and reassociated sums), float64 within 1e-12, integers and bool
// exactly, NaN where the interpreter has NaN.
inline void check_same(const Array& got, const Array& want, const std::string& what) {
  INFO(what);
  REQUIRE(dtype_name(got.dtype()) == dtype_name(want.dtype()));
  REQUIRE(shape_str(got.shape()) == shape_str(want.shape()));
  std::vector<double> g = got.to_double_vector(), w = want.to_double_vector();
  const double rtol = got.dtype() == DType::Float32 ? 1e-5 : got.dtype() == DType::Float64 ? 1e-12 : 0;
  const double atol = got.dtype() == DType::Float32 ? 1e-6 : got.dtype() == DType::Float64 ? 1e-14 : 0;
  int bad = 0;
  for (std::size_t i = 0; i < g.size() && bad < 3; ++i) {
    bool ok = std::isnan(w[i]) ? std::isnan(g[i])
              : std::isinf(w[i]) ? g[i] == w[i]
                                 : std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]);
    if (!ok) {
      ++bad;
      FAIL_CHECK("element " << i << ": got " << g[i] << ", interpreter " << w[i]);
    }
  }
}

// Values that reach the interesting parts of every float function: signs, zeros, large and
// tiny magnitudes, the specials.
inline Array float_values(DType dtype, const Shape& shape, std::uint64_t seed) {
  Array a = Array::normal(seed, shape, 0, 3, DType::Float64);
  std::vector<double> v = a.to_double_vector();
  const double specials[] = {0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-30, 88.0, -104.0, 1e6,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
  for (std::size_t i = 0; i < v.size(); i += 3) v[i] = specials[(i / 3) % std::size(specials)];
  return Array::from_vector(v, shape).astype(dtype);
}

inline Array int_values(DType dtype, const Shape& shape, std::uint64_t seed, bool edges = true) {
  Array a = Array::uniform(seed, shape, -20, 20, DType::Float64);
  std::vector<double> v = a.to_double_vector();
  for (double& x : v) x = std::floor(x);
  if (dtype == DType::Bool) for (double& x : v) x = x > 0;
  if (dtype == DType::UInt8) for (double& x : v) x = std::fabs(x) * 12;
  if (edges && dtype == DType::Int32 && v.size() > 4) v[1] = -2147483648.0, v[4] = 2147483647.0;
  return Array::from_vector(v, shape).astype(dtype);
}

inline Array values_for(DType dtype, const Shape& shape, std::uint64_t seed) {
  return is_float(dtype) ? float_values(dtype, shape, seed) : int_values(dtype, shape, seed);
}

// The op accepts inputs of `dtype` (with `attrs`: reductions need their axes).
inline bool in_domain(const OpDef& op, DType dtype, const Attrs& attrs = {}) {
  Var x = tensor("x", dtype, {unknown_dim});
  try {
    apply(op, std::vector<Var>(static_cast<std::size_t>(op.min_inputs), x), attrs,
          std::source_location::current());
    return true;
  } catch (const Error&) {
    return false;
  }
}

inline const std::vector<DType> dtypes = {DType::Float32, DType::Float64, DType::Int32,
                                          DType::Int64,   DType::Int8,    DType::UInt8,
                                          DType::Bool};

// `outputs` lowered as written (fusion only, no rewrites, so every op stays itself).
inline Program lower_as_written(const std::vector<Var>& inputs, const std::vector<Var>& outputs) {
  return lower(inputs, outputs, fuse_kernels(outputs));
}

// `outputs` lowered through the whole optimizer, as function() does.
inline Program lower_optimized(const std::vector<Var>& inputs, const std::vector<Var>& outputs) {
  OptimizedGraph g = optimize(outputs);
  return lower(inputs, g.outputs, g.fusion);
}

}  // namespace cgvm::test
