#include "symbolic/ops/index_detail.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/nditer.hpp"

namespace cgvm::index_detail {
namespace {

// Python's len(range(*slice(start, stop, step).indices(n))), with slot_none for a bound
// that was left out. Static values are bounded by max_static, so nothing overflows.
std::int64_t slice_count(std::int64_t n, std::int64_t start, std::int64_t stop,
                         std::int64_t step) {
  const bool up = step > 0;
  auto clamp = [&](std::int64_t v, std::int64_t if_none) {
    if (v == slot_none) return if_none;
    if (v < 0) v += n;
    return std::clamp(v, up ? std::int64_t{0} : std::int64_t{-1}, up ? n : n - 1);
  };
  const std::int64_t first = clamp(start, up ? 0 : n - 1);
  const std::int64_t last = clamp(stop, up ? n : -1);
  if (up) return last > first ? (last - first - 1) / step + 1 : 0;
  return first > last ? (first - last - 1) / -step + 1 : 0;
}

std::string out_of_bounds(std::int64_t index, int axis, std::int64_t size) {
  return fmt::format("index {} is out of bounds for axis {} with size {}", index, axis, size);
}

}  // namespace

void fail_with(const FailFn& fail, const std::string& message) {
  fail(message);
  throw InternalError("internal error: an index failure handler returned");
}

std::vector<Entry> decode(const Attrs& attrs) {
  const Ints& kinds = attrs.get_ints("kinds");
  const Ints& values = attrs.get_ints("values");
  std::vector<Entry> entries;
  std::size_t next = 0;
  auto field = [&] {
    CGVM_ASSERT(next < values.size(), "index attrs: too few values");
    return values[next++];
  };
  for (std::int64_t kind : kinds) {
    Entry e{static_cast<EntryKind>(kind)};
    if (kind == entry_int) {
      e.start = field();
    } else if (kind == entry_slice) {
      e.start = field();
      e.stop = field();
      e.step = field();
    } else {
      CGVM_ASSERT(kind == entry_newaxis, "index attrs: bad entry kind");
    }
    entries.push_back(e);
  }
  CGVM_ASSERT(next == values.size(), "index attrs: too many values");
  return entries;
}

void encode(const std::vector<Entry>& entries, Ints& kinds, Ints& values) {
  for (const Entry& e : entries) {
    kinds.push_back(e.kind);
    if (e.kind == entry_int) values.push_back(e.start);
    if (e.kind == entry_slice) values.insert(values.end(), {e.start, e.stop, e.step});
  }
}

TensorType region_type(const TensorType& x, const std::vector<Entry>& entries,
                       std::span<const TensorType> scalars, const FailFn& fail) {
  const auto used = std::count_if(entries.begin(), entries.end(),
                                  [](const Entry& e) { return e.kind != entry_newaxis; });
  if (used > x.rank())
    fail_with(fail,
              fmt::format("too many indices: {} indices for a tensor of rank {}", used, x.rank()));
  auto check_scalar = [&](std::int64_t field, std::size_t entry) {
    if (!is_input_slot(field)) return;
    const auto k = static_cast<std::size_t>(field - slot_input);
    CGVM_ASSERT(k < scalars.size(), "index attrs refer to a missing index scalar");
    if (scalars[k].rank() != 0 || !is_integer(scalars[k].dtype))
      fail_with(fail, fmt::format("index entry {} must be an integer scalar, got {}", entry,
                                  scalars[k].str()));
  };
  Shape out;
  int axis = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.kind == entry_newaxis) {
      out.push_back(1);
      continue;
    }
    const std::int64_t n = x.shape[axis];
    check_scalar(e.start, i);
    if (e.kind == entry_int) {
      if (is_static(e.start) && n != unknown_dim && (e.start < -n || e.start >= n))
        fail_with(fail, out_of_bounds(e.start, axis, n));
    } else {
      check_scalar(e.stop, i);
      check_scalar(e.step, i);
      if (e.step == 0)
        fail_with(fail, fmt::format("slice step must not be zero (index entry {})", i));
      const bool known = n != unknown_dim && is_static(e.step) && !is_input_slot(e.start) &&
                         !is_input_slot(e.stop);
      out.push_back(known ? slice_count(n, e.start, e.stop, e.step) : unknown_dim);
    }
    ++axis;
  }
  out.insert(out.end(), x.shape.begin() + axis, x.shape.end());
  return {x.dtype, out};
}

Array region_view(const Array& x, const std::vector<Entry>& entries,
                  std::span<const Array> scalars, const FailFn& fail) {
  auto value = [&](std::int64_t field) {
    return is_input_slot(field) ? scalars[field - slot_input].item<std::int64_t>() : field;
  };
  constexpr std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t highest = std::numeric_limits<std::int64_t>::max();
  Array v = x;
  int in_axis = 0, out_axis = 0;  // axis of x (for messages) and of the view being built
  for (const Entry& e : entries) {
    if (e.kind == entry_newaxis) {
      v = v.expand_dims(out_axis++);
      continue;
    }
    if (e.kind == entry_int) {
      const std::int64_t i = value(e.start), n = v.shape()[out_axis];
      if (i < -n || i >= n) fail_with(fail, out_of_bounds(i, in_axis, n));
      v = v.index(out_axis, i);
    } else {
      const std::int64_t step = value(e.step);
      if (step == 0)
        fail_with(fail, fmt::format("slice step must not be zero (axis {})", in_axis));
      if (step == lowest) fail_with(fail, fmt::format("slice step {} is out of range", step));
      // A left-out bound is "from the first" / "past the last" element in step's direction;
      // Array::slice clamps these extremes exactly as Python does.
      const std::int64_t start = e.start == slot_none ? (step > 0 ? 0 : highest) : value(e.start);
      const std::int64_t stop = e.stop == slot_none ? (step > 0 ? highest : lowest) : value(e.stop);
      v = v.slice(out_axis++, start, stop, step);
    }
    ++in_axis;
  }
  return v;
}

std::string index_type_problem(const TensorType& indices) {
  if (is_bool(indices.dtype))
    return fmt::format("boolean mask indices are not supported, got {} (use where() instead)",
                       indices.str());
  if (!is_integer(indices.dtype))
    return fmt::format("indices must be an integer tensor, got {}", indices.str());
  return {};
}

TensorType take_type(const TensorType& x, const TensorType& indices,
                     const Array* constant_indices, std::int64_t axis, const FailFn& fail) {
  if (x.rank() == 0) fail_with(fail, fmt::format("cannot index a rank-0 tensor {}", x.str()));
  if (axis < 0 || axis >= x.rank())
    fail_with(fail, fmt::format("axis {} is out of range for rank {}", axis, x.rank()));
  const std::string problem = index_type_problem(indices);
  if (!problem.empty()) fail_with(fail, problem);
  const int ax = static_cast<int>(axis);
  if (constant_indices && x.shape[ax] != unknown_dim)
    checked_indices(*constant_indices, x.shape[ax], ax, fail);
  return {x.dtype, take_shape(x.shape, indices.shape, ax)};
}

Shape take_shape(const Shape& x, const Shape& indices, int axis) {
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  return out;
}

std::string index_out_of_bounds(std::int64_t index, int axis, std::int64_t size,
                                const Shape& indices, std::int64_t position) {
  std::string message = out_of_bounds(index, axis, size);
  if (indices.empty()) return message;
  // Where among the indices (of a lookup hoisted out of a loop: which step's, too).
  Shape at(indices.size());
  for (std::size_t d = indices.size(); d-- > 0;) {
    at[d] = indices[d] > 0 ? position % indices[d] : 0;
    position = indices[d] > 0 ? position / indices[d] : 0;
  }
  return message + fmt::format(", at {} of the indices", shape_str(at));
}

std::vector<std::int64_t> checked_indices(const Array& indices, std::int64_t size, int axis,
                                          const FailFn& fail) {
  std::vector<std::int64_t> list = indices.to_vector<std::int64_t>();
  for (std::size_t k = 0; k < list.size(); ++k) {
    std::int64_t& i = list[k];
    if (i < -size || i >= size)
      fail_with(fail, index_out_of_bounds(i, axis, size, indices.shape(),
                                          static_cast<std::int64_t>(k)));
    if (i < 0) i += size;
  }
  return list;
}

void check_update_type(const TensorType& y, const TensorType& region, const FailFn& fail) {
  if (y.rank() > region.rank())
    fail_with(fail, fmt::format("y {} has more dimensions than the indexed region {}", y.str(),
                                region.str()));
  const int lead = region.rank() - y.rank();
  for (int d = 0; d < y.rank(); ++d) {
    const std::int64_t yd = y.shape[d], rd = region.shape[lead + d];
    // Only a static 1 stretches; unknown sizes are compared at run time.
    if (yd != 1 && yd != unknown_dim && rd != unknown_dim && yd != rd)
      fail_with(fail, fmt::format("y {} does not broadcast to the indexed region {}", y.str(),
                                  region.str()));
  }
}

Array broadcast_update(const TensorType& y_type, const Array& y, const Shape& region,
                       const FailFn& fail) {
  const int lead = static_cast<int>(region.size()) - y.rank();
  for (int d = 0; d < y.rank(); ++d)
    if (y_type.shape[d] != 1 && y.shape()[d] != region[lead + d])
      fail_with(fail, fmt::format("y of shape {} does not match the indexed region of shape {}",
                                  shape_str(y.shape()), shape_str(region)));
  return y.broadcast_to(region);
}

void accumulate(const Array& dst, const Array& src) {
  CGVM_ASSERT(dst.dtype() == src.dtype() && dst.shape() == src.shape(),
              "accumulate needs equal dtypes and shapes");
  if (!dst.on_host()) {
    dst.context()->accumulate(dst, src.to(dst.context()));
    return;
  }
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = static_cast<T*>(dst.raw_data());
    const T* s = static_cast<const T*>(src.raw_data());
    // Arithmetic on promoted values, then back: integers wrap, bools or.
    for (NdIter<2> it(dst.shape(), {&dst.strides(), &src.strides()}); !it.done(); it.next())
      d[it.offset(0)] = static_cast<T>(d[it.offset(0)] + s[it.offset(1)]);
  });
}

}  // namespace cgvm::index_detail
