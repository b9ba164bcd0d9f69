#pragma once
// Element types and the promotion lattice.
//
// Promotion (used when two tensors meet in a binary op):
//   - same dtype            -> that dtype
//   - bool with anything    -> the other
//   - two integers          -> the smallest integer type that holds both (numpy's rule;
//                              uint8 with int8 -> int16)
//   - integer with a float  -> that float (int32 + float32 -> float32, unlike numpy, so that
//                              integer data never silently drags a model to float64)
//   - float32 with float64  -> float64 (reported by the symbolic layer as an upcast)
#include <complex>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace cgvm {

enum class DType : std::uint8_t { Bool, UInt8, Int8, Int16, Int32, Int64, Float32, Float64 };

inline constexpr DType all_dtypes[] = {DType::Bool,  DType::UInt8, DType::Int8,    DType::Int16,
                                       DType::Int32, DType::Int64, DType::Float32, DType::Float64};

// The float type used where a float must be invented (true division of integers, random
// numbers, literals applied to integer tensors). Theano called this floatX.
inline constexpr DType default_float = DType::Float32;

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "float32", "int64", "bool", ...
bool parse_dtype(std::string_view name, DType& out);
constexpr bool is_float(DType d) { return d == DType::Float32 || d == DType::Float64; }
constexpr bool is_integer(DType d) { return d != DType::Bool && !is_float(d); }
constexpr bool is_bool(DType d) { return d == DType::Bool; }
constexpr bool is_signed(DType d) { return d != DType::Bool && d != DType::UInt8; }
DType promote(DType a, DType b);

template <class T> struct DTypeOf;
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct DTypeOf<std::int8_t> { static constexpr DType value = DType::Int8; };
template <> struct DTypeOf<std::int16_t> { static constexpr DType value = DType::Int16; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <class T> inline constexpr DType dtype_of = DTypeOf<T>::value;

template <class T> struct TypeTag { using type = T; };

// Calls f(TypeTag<T>{}) with the C++ type of `dtype`:
//   visit_dtype(a.dtype(), [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Bool: return f(TypeTag<bool>{});
    case DType::UInt8: return f(TypeTag<std::uint8_t>{});
    case DType::Int8: return f(TypeTag<std::int8_t>{});
    case DType::Int16: return f(TypeTag<std::int16_t>{});
    case DType::Int32: return f(TypeTag<std::int32_t>{});
    case DType::Int64: return f(TypeTag<std::int64_t>{});
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: break;
  }
  return f(TypeTag<double>{});
}

}  // namespace cgvm

namespace cgvm {
// Short names for the user API: matrix("x", float64).
inline constexpr DType bool_ = DType::Bool;
inline constexpr DType uint8 = DType::UInt8;
inline constexpr DType int8 = DType::Int8;
inline constexpr DType int16 = DType::Int16;
inline constexpr DType int32 = DType::Int32;
inline constexpr DType int64 = DType::Int64;
inline constexpr DType float32 = DType::Float32;
inline constexpr DType float64 = DType::Float64;
}  // namespace cgvm
