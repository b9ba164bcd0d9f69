#include "symbolic/type.hpp"

#include <fmt/format.h>

namespace cgvm {

bool TensorType::fully_known() const {
  for (auto d : shape)
    if (d == unknown_dim) return false;
  return true;
}

std::string TensorType::str() const {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dims += ", ";
    dims += shape[i] == unknown_dim ? "?" : std::to_string(shape[i]);
  }
  return fmt::format("{}[{}]", dtype_name(dtype), dims);
}

bool TensorType::accepts(const Array& value) const { return mismatch(value).empty(); }

std::string TensorType::mismatch(const Array& value) const {
  bool ok = value.dtype() == dtype && value.rank() == rank();
  for (int i = 0; ok && i < rank(); ++i)
    ok = shape[i] == unknown_dim || shape[i] == value.shape()[i];
  if (ok) return {};
  TensorType got{value.dtype(), value.shape()};
  return fmt::format("expected {}, got {}", str(), got.str());
}

int normalize_axis(std::int64_t axis, int rank) {
  if (axis < 0) axis += rank;
  return axis < 0 || axis >= rank ? -1 : static_cast<int>(axis);
}

}  // namespace cgvm
