// Copies, conversions and comparisons.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "runtime/array.hpp"
#include "runtime/cast.hpp"
#include "runtime/nditer.hpp"

namespace cgvm {

namespace {

// Calls f(offset_a, offset_b, count, step_a, step_b) once per innermost row, so the hot
// loop runs over plain strided pointers instead of stepping NdIter per element.
template <class F>
void for_each_row(const Shape& shape, const Strides& a, const Strides& b, F&& f) {
  if (shape.empty()) {
    f(0, 0, 1, 0, 0);
    return;
  }
  if (shape_size(shape) == 0) return;
  const Shape outer(shape.begin(), shape.end() - 1);
  const Strides outer_a(a.begin(), a.end() - 1), outer_b(b.begin(), b.end() - 1);
  for (NdIter<2> it(outer, {&outer_a, &outer_b}); !it.done(); it.next())
    f(it.offset(0), it.offset(1), shape.back(), a.back(), b.back());
}

// dst[...] = cast(src[...]) for two arrays of the same shape.
void convert_into(const Array& dst, const Array& src) {
  visit_dtype(dst.dtype(), [&](auto dst_tag) {
    using To = typename decltype(dst_tag)::type;
    visit_dtype(src.dtype(), [&](auto src_tag) {
      using From = typename decltype(src_tag)::type;
      To* out = static_cast<To*>(dst.raw_data());
      const From* in = static_cast<const From*>(src.raw_data());
      if (dst.is_contiguous() && src.is_contiguous()) {
        const std::int64_t n = dst.size();
        if constexpr (std::is_same_v<To, From>) {
          if (n > 0) std::memcpy(out, in, static_cast<std::size_t>(n) * sizeof(To));
        } else {
          for (std::int64_t i = 0; i < n; ++i) out[i] = cast_value<To>(in[i]);
        }
        return;
      }
      for_each_row(dst.shape(), dst.strides(), src.strides(),
                   [&](std::int64_t oa, std::int64_t ob, std::int64_t n, std::int64_t sa,
                       std::int64_t sb) {
                     To* o = out + oa;
                     const From* i = in + ob;
                     for (std::int64_t k = 0; k < n; ++k) o[k * sa] = cast_value<To>(i[k * sb]);
                   });
    });
  });
}

}  // namespace

Array Array::copy() const { return astype(dtype_); }

Array Array::contiguous() const { return is_contiguous() ? *this : copy(); }

Array Array::astype(DType dtype) const {
  Array out = new_empty(shape_, dtype);
  if (on_host()) convert_into(out, *this);
  else context()->convert(out, *this);
  return out;
}

void Array::assign(const Array& value) {
  const Array src = value.to(context());  // a host value for a device array moves there
  Array from = [&] {
    try {
      return src.broadcast_to(shape_);
    } catch (const Error&) {
      throw Error(fmt::format("Array::assign: cannot assign an array of shape {} to one of "
                              "shape {}",
                              shape_str(src.shape()), shape_str(shape_)));
    }
  }();
  // Overlapping source and destination (a.assign(reversed view of a)) must read every
  // element before any is written, as numpy does.
  if (shares_storage(src)) from = from.copy();
  if (on_host()) convert_into(*this, from);
  else context()->convert(*this, from);
}

void Array::fill(double value) {
  if (!on_host()) {
    assign(full({}, value, dtype_));
    return;
  }
  visit_dtype(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = cast_value<T>(value);
    T* out = static_cast<T*>(raw_data());
    for_each_row(shape_, strides_, strides_,
                 [&](std::int64_t oa, std::int64_t, std::int64_t n, std::int64_t sa,
                     std::int64_t) {
                   for (std::int64_t k = 0; k < n; ++k) out[oa + k * sa] = v;
                 });
  });
}

// --- between the host and devices ------------------------------------------------------

Device Array::device() const { return on_host() ? Device::cpu() : context()->device(); }

Array Array::new_empty(const Shape& shape, DType dtype) const {
  return empty(shape, dtype, context());
}

Array Array::to_host() const {
  if (on_host()) return *this;
  const Array c = contiguous();
  Array out = empty(shape_, dtype_);
  if (out.nbytes() > 0) context()->copy_to_host(out.raw_data(), c.raw_data(), out.nbytes());
  return out;
}

Array Array::to(const std::shared_ptr<DeviceContext>& target) const {
  if (target == context()) return *this;
  if (!target) return to_host();
  const Array host = to_host().contiguous();
  Array out = empty(shape_, dtype_, target);
  if (out.nbytes() > 0) target->copy_from_host(out.raw_data(), host.raw_data(), out.nbytes());
  return out;
}

std::vector<double> Array::to_double_vector() const { return to_vector<double>(); }

bool allclose(const Array& a, const Array& b, double rtol, double atol, bool equal_nan) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> x = a.to_double_vector(), y = b.to_double_vector();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (equal_nan && std::isnan(x[i]) && std::isnan(y[i])) continue;
      return false;
    }
    if (x[i] == y[i]) continue;  // equal infinities land here
    if (std::isinf(x[i]) || std::isinf(y[i])) return false;
    if (std::fabs(x[i] - y[i]) > atol + rtol * std::fabs(y[i])) return false;
  }
  return true;
}

bool array_equal(const Array& a, const Array& b) {
  if (a.shape() != b.shape()) return false;
  // Integers compare exactly: doubles would merge int64 values above 2^53.
  if (!is_float(a.dtype()) && !is_float(b.dtype()))
    return a.to_vector<std::int64_t>() == b.to_vector<std::int64_t>();
  return a.to_double_vector() == b.to_double_vector();  // NaN != NaN, as in numpy
}

}  // namespace cgvm
