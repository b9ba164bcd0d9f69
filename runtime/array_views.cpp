// Views: new shape/stride/offset over the same storage, never a copy (reshape excepted,
// when no view can express the result).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "runtime/array.hpp"
#include "runtime/array_detail.hpp"

namespace cgvm {

namespace {

// Python's slice.indices() for one axis of length n: clamps start/stop and returns the
// first index and the element count.
std::pair<std::int64_t, std::int64_t> clamp_slice(std::int64_t n, std::int64_t start,
                                                  std::int64_t stop, std::int64_t step) {
  auto clamp = [&](std::int64_t v, std::int64_t low, std::int64_t high) {
    if (v < 0) v = v < -n ? low : v + n;  // compare first: v + n may not be representable
    return v < low ? low : (v > high ? high : v);
  };
  std::int64_t count = 0;
  if (step > 0) {
    start = clamp(start, 0, n);
    stop = clamp(stop, 0, n);
    if (stop > start) count = 1 + (stop - start - 1) / step;
  } else {
    start = clamp(start, -1, n - 1);
    stop = clamp(stop, -1, n - 1);
    if (start > stop) count = 1 + (start - stop - 1) / -step;
  }
  return {count > 0 ? start : 0, count};
}

// numpy's _attempt_nocopy_reshape: strides for `new_shape` over the same elements, when
// the old layout allows it. Groups of old axes that merge into new axes must be mutually
// contiguous; size-1 axes never constrain anything.
std::optional<Strides> reshape_strides(const Shape& old_shape, const Strides& old_strides,
                                       const Shape& new_shape) {
  Shape dims;
  Strides strides;
  for (std::size_t i = 0; i < old_shape.size(); ++i)
    if (old_shape[i] != 1) {
      dims.push_back(old_shape[i]);
      strides.push_back(old_strides[i]);
    }
  const std::size_t old_n = dims.size(), new_n = new_shape.size();
  Strides result(new_n, 1);
  std::size_t oi = 0, oj = 1, ni = 0, nj = 1;
  while (ni < new_n && oi < old_n) {
    std::int64_t np = new_shape[ni], op = dims[oi];
    while (np != op) {
      if (np < op) np *= new_shape[nj++];
      else op *= dims[oj++];
    }
    for (std::size_t k = oi; k + 1 < oj; ++k)
      if (strides[k] != strides[k + 1] * dims[k + 1]) return std::nullopt;
    result[nj - 1] = strides[oj - 1];
    for (std::size_t k = nj - 1; k > ni; --k) result[k - 1] = result[k] * new_shape[k];
    ni = nj++;
    oi = oj++;
  }
  const std::int64_t last = ni >= 1 ? result[ni - 1] : 1;
  for (std::size_t k = ni; k < new_n; ++k) result[k] = last;
  return result;
}

}  // namespace

Array Array::slice(int axis, std::int64_t start, std::int64_t stop, std::int64_t step) const {
  const int ax = detail::normalize_axis(axis, rank(), "Array::slice");
  if (step == 0) throw Error("Array::slice: step must not be zero");
  if (step == std::numeric_limits<std::int64_t>::min())
    throw Error("Array::slice: step is out of range");
  auto [first, count] = clamp_slice(shape_[ax], start, stop, step);
  Array v = *this;
  v.offset_ += first * strides_[ax];
  v.shape_[ax] = count;
  v.strides_[ax] = strides_[ax] * step;
  return v;
}

Array Array::index(int axis, std::int64_t i) const {
  const int ax = detail::normalize_axis(axis, rank(), "Array::index");
  const std::int64_t n = shape_[ax];
  if (i < -n || i >= n)
    throw Error(fmt::format("Array::index: index {} is out of bounds for axis {} of shape {}",
                            i, axis, shape_str(shape_)));
  if (i < 0) i += n;
  Array v = *this;
  v.offset_ += i * strides_[ax];
  v.shape_.erase(v.shape_.begin() + ax);
  v.strides_.erase(v.strides_.begin() + ax);
  return v;
}

Array Array::transpose(const std::vector<int>& perm) const {
  if (static_cast<int>(perm.size()) != rank())
    throw Error(fmt::format("Array::transpose: permutation [{}] does not match shape {}",
                            fmt::join(perm, ", "), shape_str(shape_)));
  std::vector<bool> seen(perm.size(), false);
  Array v = *this;
  for (std::size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < -rank() || perm[i] >= rank() || seen[(perm[i] + rank()) % rank()])
      throw Error(fmt::format("Array::transpose: [{}] is not a permutation of the axes of {}",
                              fmt::join(perm, ", "), shape_str(shape_)));
    const int ax = (perm[i] + rank()) % rank();
    seen[ax] = true;
    v.shape_[i] = shape_[ax];
    v.strides_[i] = strides_[ax];
  }
  return v;
}

Array Array::transpose() const {
  Array v = *this;
  std::reverse(v.shape_.begin(), v.shape_.end());
  std::reverse(v.strides_.begin(), v.strides_.end());
  return v;
}

Array Array::broadcast_to(const Shape& shape) const {
  auto fail = [&] {
    return Error(fmt::format("Array::broadcast_to: cannot broadcast shape {} to {}",
                             shape_str(shape_), shape_str(shape)));
  };
  if (shape.size() < shape_.size()) throw fail();
  const std::size_t lead = shape.size() - shape_.size();
  Array v = *this;
  v.shape_ = shape;
  v.strides_.assign(shape.size(), 0);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw fail();
    if (i < lead) continue;
    const std::int64_t have = shape_[i - lead];
    if (have == shape[i]) v.strides_[i] = strides_[i - lead];
    else if (have != 1) throw fail();
  }
  return v;
}

Array Array::expand_dims(int axis) const {
  const int ax = detail::normalize_axis(axis, rank() + 1, "Array::expand_dims");
  Array v = *this;
  // The stride of a size-1 axis is never used to step; pick the C-order one for tidiness.
  const std::int64_t stride = ax < rank() ? strides_[ax] * shape_[ax] : 1;
  v.shape_.insert(v.shape_.begin() + ax, 1);
  v.strides_.insert(v.strides_.begin() + ax, stride);
  return v;
}

Array Array::squeeze(int axis) const {
  const int ax = detail::normalize_axis(axis, rank(), "Array::squeeze");
  if (shape_[ax] != 1)
    throw Error(fmt::format("Array::squeeze: axis {} of shape {} has size {}, not 1", axis,
                            shape_str(shape_), shape_[ax]));
  Array v = *this;
  v.shape_.erase(v.shape_.begin() + ax);
  v.strides_.erase(v.strides_.begin() + ax);
  return v;
}

Array Array::reshape(const Shape& shape) const {
  Shape target = shape;
  int unknown = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1 && unknown < 0) {
      unknown = static_cast<int>(i);
    } else if (target[i] < 0) {
      throw Error(fmt::format("Array::reshape: invalid target shape {} (only one -1 allowed)",
                              shape_str(shape)));
    } else {
      known *= target[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || size() % known != 0)
      throw Error(fmt::format("Array::reshape: cannot reshape shape {} ({} elements) into {}",
                              shape_str(shape_), size(), shape_str(shape)));
    target[unknown] = size() / known;
  } else if (known != size()) {
    throw Error(fmt::format("Array::reshape: cannot reshape shape {} ({} elements) into {}",
                            shape_str(shape_), size(), shape_str(shape)));
  }
  if (size() == 0) return Array::empty(target, dtype_);
  if (auto strides = reshape_strides(shape_, strides_, target)) {
    Array v = *this;
    v.shape_ = target;
    v.strides_ = std::move(*strides);
    return v;
  }
  return copy().reshape(target);
}

Array Array::reinterpret(const Shape& shape, DType dtype) const {
  std::size_t need = static_cast<std::size_t>(shape_size(shape)) * dtype_size(dtype);
  if (!storage_ || storage_->bytes() < need)
    throw Error(fmt::format("reinterpret: {} bytes needed, the storage has {}", need,
                            storage_ ? storage_->bytes() : 0));
  return Array(storage_, 0, shape, contiguous_strides(shape), dtype);
}

}  // namespace cgvm
