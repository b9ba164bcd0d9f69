#pragma once
// The static type of a symbolic tensor, in Theano's model: a dtype, a rank, and for each
// dimension either a known size or "unknown" (-1). A dimension of known size 1 is
// *broadcastable*: only those dimensions stretch to match another operand. Two unknown
// dimensions must agree at run time; an unknown dimension that turns out to be 1 does not
// broadcast. This keeps compiled code free of run-time broadcasting decisions.
#include <cstdint>
#include <string>

#include "runtime/array.hpp"

namespace cgvm {

inline constexpr std::int64_t unknown_dim = -1;

struct TensorType {
  DType dtype = DType::Float32;
  Shape shape;  // per dimension: size >= 0, or unknown_dim

  int rank() const { return static_cast<int>(shape.size()); }
  bool broadcastable(int axis) const { return shape[axis] == 1; }
  bool fully_known() const;  // every dimension has a static size
  // "float32[?, 3]"; rank 0 is "float32[]".
  std::string str() const;
  // An array is a valid value of this type: same dtype, same rank, and every static size
  // matches.
  bool accepts(const Array& value) const;
  // Why `value` is not accepted (empty when it is): "expected float32[?, 3], got
  // float64[2, 3]".
  std::string mismatch(const Array& value) const;

  bool operator==(const TensorType&) const = default;
};

// Normalises a possibly negative axis for a tensor of `rank` dims; returns -1 when out of
// range (callers raise the error with their op name and location).
int normalize_axis(std::int64_t axis, int rank);

}  // namespace cgvm
