#pragma once
// Template definitions for runtime/array.hpp, which includes this file at its end.
// Kept free of runtime/nditer.hpp on purpose: nditer.hpp includes array.hpp, so using NdIter
// here would break whichever of the two headers a user includes first.
#include <fmt/format.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "runtime/cast.hpp"

namespace cgvm {

template <class T>
Array Array::from_vector(const std::vector<T>& values, Shape shape) {
  static_assert(std::is_same_v<T, bool> || std::is_arithmetic_v<T>,
                "Array::from_vector needs a numeric element type");
  if (shape.empty()) shape = {static_cast<std::int64_t>(values.size())};
  for (std::int64_t d : shape)
    if (d < 0) throw Error(fmt::format("Array::from_vector: negative dimension in shape {}",
                                       shape_str(shape)));
  if (shape_size(shape) != static_cast<std::int64_t>(values.size()))
    throw Error(fmt::format("Array::from_vector: {} values do not fill shape {} ({} elements)",
                            values.size(), shape_str(shape), shape_size(shape)));
  Array a = empty(shape, dtype_of<T>);
  T* out = a.data<T>();
  // std::vector<bool> has no contiguous data(), so copy element by element.
  if constexpr (std::is_same_v<T, bool>) {
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  } else if (!values.empty()) {
    std::memcpy(out, values.data(), values.size() * sizeof(T));
  }
  return a;
}

template <class T>
T Array::item() const {
  if (size() != 1)
    throw Error(fmt::format("Array::item: array of shape {} has {} elements, expected 1",
                            shape_str(shape_), size()));
  if (!on_host()) return to_host().item<T>();
  // With one element every stride is irrelevant: raw_data() points at it.
  return visit_dtype(dtype_, [&](auto tag) -> T {
    using S = typename decltype(tag)::type;
    return cast_value<T>(*static_cast<const S*>(raw_data()));
  });
}

template <class T>
std::vector<T> Array::to_vector() const {
  if (!on_host()) return to_host().to_vector<T>();
  const Array c = dtype_ == dtype_of<T> ? contiguous() : astype(dtype_of<T>);
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.size());
}

}  // namespace cgvm
