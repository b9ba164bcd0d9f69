#pragma once
// Walks the elements of one or more arrays of the same (already broadcast) shape in row-major
// order, yielding one element offset per operand. Used by reference kernels, copies and
// printing: simple, not fast.
#include <array>
#include <cstdint>

#include "runtime/array.hpp"

namespace cgvm {

template <std::size_t N>
class NdIter {
 public:
  // strides[k] are operand k's strides (elements) for `shape`.
  NdIter(const Shape& shape, const std::array<const Strides*, N>& strides)
      : shape_(shape), strides_(strides), index_(shape.size(), 0) {
    offsets_.fill(0);
    done_ = shape_size(shape) == 0;
  }
  bool done() const { return done_; }
  // Element offset (in elements, relative to element [0,...]) of operand k.
  std::int64_t offset(std::size_t k) const { return offsets_[k]; }
  void next() {
    for (int d = static_cast<int>(shape_.size()) - 1; d >= 0; --d) {
      if (++index_[d] < shape_[d]) {
        for (std::size_t k = 0; k < N; ++k) offsets_[k] += (*strides_[k])[d];
        return;
      }
      for (std::size_t k = 0; k < N; ++k) offsets_[k] -= (*strides_[k])[d] * (shape_[d] - 1);
      index_[d] = 0;
    }
    done_ = true;
  }
  const Shape& index() const { return index_; }

 private:
  const Shape& shape_;
  std::array<const Strides*, N> strides_;
  Shape index_;
  std::array<std::int64_t, N> offsets_;
  bool done_;
};

}  // namespace cgvm
