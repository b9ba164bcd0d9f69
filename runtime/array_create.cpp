// Array constructors: constants, ranges, random arrays, external memory.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "runtime/array.hpp"
#include "runtime/cast.hpp"
#include "runtime/random.hpp"

namespace cgvm {

namespace {

// Writes f(i) (a double) into element i of a fresh contiguous array.
template <class F>
void fill_indexed(Array& a, F&& f) {
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(a.raw_data());
    const std::int64_t n = a.size();
    for (std::int64_t i = 0; i < n; ++i) out[i] = cast_value<T>(f(i));
  });
}

void require_float(DType dtype, std::string_view op) {
  if (!is_float(dtype))
    throw Error(fmt::format("{}: dtype {} is not a float type (use float32 or float64)", op,
                            dtype_name(dtype)));
}

}  // namespace

Array Array::zeros(const Shape& shape, DType dtype) {
  Array a = empty(shape, dtype);
  // All-zero bytes are 0, 0.0 and false in every dtype we have.
  if (a.nbytes() > 0) std::memset(a.raw_data(), 0, a.nbytes());
  return a;
}

Array Array::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Array Array::full(const Shape& shape, double value, DType dtype) {
  Array a = empty(shape, dtype);
  a.fill(value);
  return a;
}

Array Array::arange(double start, double stop, double step, DType dtype) {
  if (step == 0) throw Error("Array::arange: step must not be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw Error(fmt::format("Array::arange: arguments must be finite (start {}, stop {}, step {})",
                            start, stop, step));
  const double count = std::ceil((stop - start) / step);
  if (count > 9.0e18)
    throw Error(fmt::format("Array::arange: {} elements is too many", count));
  Array a = empty({count > 0 ? static_cast<std::int64_t>(count) : 0}, dtype);
  fill_indexed(a, [&](std::int64_t i) { return start + static_cast<double>(i) * step; });
  return a;
}

Array Array::arange(std::int64_t stop, DType dtype) {
  Array a = empty({stop > 0 ? stop : 0}, dtype);
  // Exact for int64 values beyond 2^53, which a trip through double would not be.
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(a.raw_data());
    for (std::int64_t i = 0; i < a.size(); ++i) out[i] = cast_value<T>(i);
  });
  return a;
}

Array Array::linspace(double start, double stop, std::int64_t num, bool endpoint, DType dtype) {
  if (num < 0) throw Error(fmt::format("Array::linspace: num = {} must not be negative", num));
  Array a = empty({num}, dtype);
  const std::int64_t div = endpoint ? num - 1 : num;
  const double step = div > 0 ? (stop - start) / static_cast<double>(div) : 0.0;
  fill_indexed(a, [&](std::int64_t i) {
    // numpy pins the last sample to `stop` so rounding never moves the endpoint.
    if (endpoint && num > 1 && i == num - 1) return stop;
    return start + static_cast<double>(i) * step;
  });
  return a;
}

Array Array::eye(std::int64_t n, std::int64_t m, std::int64_t k, DType dtype) {
  if (m < 0) m = n;
  if (n < 0) throw Error(fmt::format("Array::eye: n = {} must not be negative", n));
  Array a = zeros({n, m}, dtype);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = i + k;
    if (j >= 0 && j < m) a.set_from_double(std::array<std::int64_t, 2>{i, j}, 1.0);
  }
  return a;
}

Array Array::uniform(Generator& gen, const Shape& shape, double low, double high, DType dtype) {
  require_float(dtype, "Array::uniform");
  Array a = empty(shape, dtype);
  if (dtype == DType::Float32) {
    float* out = a.data<float>();
    const float lo = static_cast<float>(low), span = static_cast<float>(high - low);
    for (std::int64_t i = 0; i < a.size(); ++i) out[i] = lo + span * gen.next_float();
  } else {
    double* out = a.data<double>();
    for (std::int64_t i = 0; i < a.size(); ++i) out[i] = low + (high - low) * gen.next_double();
  }
  return a;
}

Array Array::normal(Generator& gen, const Shape& shape, double mean, double stddev,
                    DType dtype) {
  require_float(dtype, "Array::normal");
  Array a = empty(shape, dtype);
  fill_indexed(a, [&](std::int64_t) { return mean + stddev * gen.next_normal(); });
  return a;
}

Array Array::uniform(std::uint64_t seed, const Shape& shape, double low, double high,
                     DType dtype) {
  Generator gen(seed);
  return uniform(gen, shape, low, high, dtype);
}

Array Array::normal(std::uint64_t seed, const Shape& shape, double mean, double stddev,
                    DType dtype) {
  Generator gen(seed);
  return normal(gen, shape, mean, stddev, dtype);
}

Array Array::from_external(void* data, const Shape& shape, const Strides& strides, DType dtype,
                           std::shared_ptr<void> keep_alive) {
  // Empty strides mean C order: the common case of a plain buffer.
  const Strides st = strides.empty() ? contiguous_strides(shape) : strides;
  if (st.size() != shape.size())
    throw Error(fmt::format("Array::from_external: {} strides for shape {}", st.size(),
                            shape_str(shape)));
  std::int64_t lowest = 0, highest = 0;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      throw Error(fmt::format("Array::from_external: negative dimension in shape {}",
                              shape_str(shape)));
    const std::int64_t reach = (shape[i] > 0 ? shape[i] - 1 : 0) * st[i];
    (reach < 0 ? lowest : highest) += reach;
  }
  const std::int64_t count = shape_size(shape);
  if (data == nullptr && count > 0)
    throw Error(fmt::format("Array::from_external: null data for shape {}", shape_str(shape)));
  const std::size_t bytes =
      count == 0 ? 0 : static_cast<std::size_t>(highest - lowest + 1) * dtype_size(dtype);
  return Array(std::make_shared<Storage>(data, bytes, std::move(keep_alive)), 0, shape, st,
               dtype);
}

}  // namespace cgvm
