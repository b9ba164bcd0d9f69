// Array core: storage, properties and element access. Views live in array_views.cpp,
// copies and comparisons in array_copy.cpp, constructors in array_create.cpp.
#include "runtime/array.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <span>
#include <utility>

#include "runtime/allocator.hpp"
#include "runtime/array_detail.hpp"
#include "runtime/cast.hpp"

namespace cgvm {

std::int64_t shape_size(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  std::int64_t step = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Storage::Storage(std::size_t bytes)
    : data_(Allocator::global().allocate(bytes)), bytes_(bytes), owned_(true) {}

Storage::Storage(void* data, std::size_t bytes, std::shared_ptr<void> keep_alive)
    : data_(data), bytes_(bytes), owned_(false), keep_alive_(std::move(keep_alive)) {}

Storage::Storage(std::shared_ptr<DeviceContext> context, std::size_t bytes)
    : data_(context->allocate(bytes)), bytes_(bytes), owned_(false), context_(std::move(context)) {}

Storage::~Storage() {
  if (context_) context_->release(data_, bytes_);
  else if (owned_) Allocator::global().release(data_, bytes_);
}

Array::Array() : storage_(std::make_shared<Storage>(sizeof(float))) {
  std::memset(storage_->data(), 0, sizeof(float));
}

Array::Array(std::shared_ptr<Storage> storage, std::int64_t offset, Shape shape, Strides strides,
             DType dtype)
    : storage_(std::move(storage)),
      offset_(offset),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      dtype_(dtype) {}

Array Array::empty(const Shape& shape, DType dtype) { return empty(shape, dtype, nullptr); }

Array Array::empty(const Shape& shape, DType dtype, const std::shared_ptr<DeviceContext>& context) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0)
      throw Error(fmt::format("Array::empty: negative dimension in shape {}", shape_str(shape)));
    if (__builtin_mul_overflow(count, d, &count))
      throw Error(fmt::format("Array::empty: shape {} has too many elements", shape_str(shape)));
  }
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<std::int64_t>(dtype_size(dtype)), &bytes))
    throw Error(fmt::format("Array::empty: shape {} of {} is too large", shape_str(shape),
                            dtype_name(dtype)));
  auto storage = context ? std::make_shared<Storage>(context, static_cast<std::size_t>(bytes))
                         : std::make_shared<Storage>(static_cast<std::size_t>(bytes));
  return Array(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

std::int64_t Array::shape(int axis) const {
  return shape_[detail::normalize_axis(axis, rank(), "Array::shape")];
}

bool Array::is_contiguous() const {
  if (size() == 0) return true;
  std::int64_t expected = 1;
  for (int d = rank() - 1; d >= 0; --d) {
    if (shape_[d] == 1) continue;
    if (strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

void* Array::raw_data() const {
  return static_cast<char*>(storage_->data()) +
         offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

void Array::check_dtype(DType expected) const {
  if (expected != dtype_)
    throw Error(fmt::format("Array: element type {} requested from an array of dtype {}",
                            dtype_name(expected), dtype_name(dtype_)));
}

namespace {

// The element offset (in elements, from element [0, ...]) of `index`, with numpy's negative
// indices, or an Error naming the shape and the index.
std::int64_t element_offset(std::span<const std::int64_t> index, const Shape& shape,
                            const Strides& strides, std::string_view op) {
  auto index_text = [&] { return fmt::format("[{}]", fmt::join(index, ", ")); };
  if (index.size() != shape.size())
    throw Error(fmt::format("{}: index {} has {} entries but the array has shape {} (rank {})",
                            op, index_text(), index.size(), shape_str(shape), shape.size()));
  std::int64_t offset = 0;
  for (std::size_t d = 0; d < index.size(); ++d) {
    std::int64_t i = index[d];
    if (i < -shape[d] || i >= shape[d])
      throw Error(fmt::format("{}: index {} is out of bounds for shape {} (axis {} has size {})",
                              op, index_text(), shape_str(shape), d, shape[d]));
    if (i < 0) i += shape[d];
    offset += i * strides[d];
  }
  return offset;
}

}  // namespace

void Array::check_host(const char* what) const {
  if (!on_host())
    throw Error(fmt::format("{}: the array ({}{}) is on {}, where the host cannot address it; "
                            "to_host() copies it",
                            what, dtype_name(dtype_), shape_str(shape_), device().str()));
}

void Array::read_element(std::span<const std::int64_t> index, DType expected, void* value,
                         const char* what) const {
  check_dtype(expected);
  const std::int64_t offset = element_offset(index, shape_, strides_, what);
  const std::size_t bytes = dtype_size(dtype_);
  const char* at = static_cast<const char*>(raw_data()) + offset * static_cast<std::int64_t>(bytes);
  if (on_host()) std::memcpy(value, at, bytes);
  else context()->copy_to_host(value, at, bytes);
}

void Array::write_element(std::span<const std::int64_t> index, DType expected,
                          const void* value, const char* what) {
  check_dtype(expected);
  const std::int64_t offset = element_offset(index, shape_, strides_, what);
  const std::size_t bytes = dtype_size(dtype_);
  char* at = static_cast<char*>(raw_data()) + offset * static_cast<std::int64_t>(bytes);
  if (on_host()) std::memcpy(at, value, bytes);
  else context()->copy_from_host(at, value, bytes);
}

double Array::get_as_double(std::span<const std::int64_t> index) const {
  return visit_dtype(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T value;
    read_element(index, dtype_, &value, "Array::get_as_double");
    return static_cast<double>(value);
  });
}

void Array::set_from_double(std::span<const std::int64_t> index, double value) {
  visit_dtype(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = cast_value<T>(value);
    write_element(index, dtype_, &v, "Array::set_from_double");
  });
}

}  // namespace cgvm
