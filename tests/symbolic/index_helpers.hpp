#pragma once
// Helpers shared by the index family's tests (index_test.cpp, index_update_test.cpp,
// index_errors_test.cpp).
#include <string>
#include <vector>

#include "runtime/array.hpp"
#include "support.hpp"

namespace cgvm::test {

using Values = std::vector<double>;

// 0, 1, 2, ... in `shape`.
inline Array iota(const Shape& shape, DType dtype = DType::Float32) {
  return Array::arange(0, static_cast<double>(shape_size(shape)), 1, dtype).reshape(shape);
}
inline Array ints(const std::vector<std::int64_t>& values, Shape shape = {}) {
  return Array::from_vector(values, std::move(shape));
}

// Shape and row-major values, exactly.
inline void check_array(const Array& got, const Shape& shape, const Values& values) {
  INFO("got " << dtype_name(got.dtype()) << shape_str(got.shape()) << " " << got.to_string());
  CHECK(got.shape() == shape);
  CHECK(got.to_double_vector() == values);
}

}  // namespace cgvm::test
