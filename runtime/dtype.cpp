#include "runtime/dtype.hpp"

#include <algorithm>

namespace cgvm {

std::size_t dtype_size(DType dtype) {
  return visit_dtype(dtype, [](auto tag) { return sizeof(typename decltype(tag)::type); });
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

bool parse_dtype(std::string_view name, DType& out) {
  for (DType d : all_dtypes)
    if (dtype_name(d) == name) {
      out = d;
      return true;
    }
  return false;
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  if (is_bool(a)) return b;
  if (is_bool(b)) return a;
  if (is_float(a) || is_float(b)) {
    if (is_float(a) && is_float(b)) return DType::Float64;
    return is_float(a) ? a : b;
  }
  // Two distinct integer types.
  if (a == DType::UInt8 || b == DType::UInt8) {
    DType other = a == DType::UInt8 ? b : a;
    // uint8 fits in int16 and wider; with int8 both need int16.
    return other == DType::Int8 ? DType::Int16 : other;
  }
  return static_cast<DType>(std::max(static_cast<int>(a), static_cast<int>(b)));
}

}  // namespace cgvm
