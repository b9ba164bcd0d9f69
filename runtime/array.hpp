#pragma once
// Array: an n-dimensional, strided view of refcounted, 64-byte aligned storage.
//
// Copies of an Array share storage (like numpy views); views (slice, transpose, broadcast,
// index) never copy. Strides are counted in elements, not bytes, and may be zero (broadcast)
// or negative (reversed slices). `copy()` / `contiguous()` make a fresh C-ordered array.
// An array lives on the host or on a device (runtime/device.hpp says what works where).
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/device.hpp"
#include "runtime/dtype.hpp"
#include "runtime/error.hpp"

namespace cgvm {

using Shape = std::vector<std::int64_t>;
using Strides = std::vector<std::int64_t>;

std::int64_t shape_size(const Shape& shape);  // product of dims (1 for rank 0)
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);    // "[2, 3]"

// Storage owns (or, for external memory, references) the bytes behind one or more Arrays.
class Storage {
 public:
  Storage(std::size_t bytes);  // from Allocator::global()
  // Wraps memory owned elsewhere; `keep_alive` (may be empty) is dropped when the last
  // Array goes.
  Storage(void* data, std::size_t bytes, std::shared_ptr<void> keep_alive);
  // `bytes` of memory on `context`'s device, given back to it when the last Array goes.
  Storage(std::shared_ptr<DeviceContext> context, std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  // The device the bytes are on; nullptr for host memory.
  const std::shared_ptr<DeviceContext>& context() const { return context_; }

 private:
  void* data_;
  std::size_t bytes_;
  bool owned_;
  std::shared_ptr<void> keep_alive_;
  std::shared_ptr<DeviceContext> context_;
};

class Generator;  // runtime/random.hpp

class Array {
 public:
  // A rank-0 float32 zero. Mostly useful as a placeholder to assign to.
  Array();

  // --- construction ---------------------------------------------------------------
  static Array empty(const Shape& shape, DType dtype = DType::Float32);  // uninitialised
  // Uninitialised, on `context`'s device (on the host when it is nullptr).
  static Array empty(const Shape& shape, DType dtype,
                     const std::shared_ptr<DeviceContext>& context);
  static Array zeros(const Shape& shape, DType dtype = DType::Float32);
  static Array ones(const Shape& shape, DType dtype = DType::Float32);
  static Array full(const Shape& shape, double value, DType dtype = DType::Float32);
  // numpy.arange: ceil((stop - start) / step) elements; step == 0 is an Error.
  static Array arange(double start, double stop, double step = 1, DType dtype = DType::Int64);
  static Array arange(std::int64_t stop, DType dtype = DType::Int64);
  static Array linspace(double start, double stop, std::int64_t num, bool endpoint = true,
                        DType dtype = DType::Float32);
  static Array eye(std::int64_t n, std::int64_t m = -1, std::int64_t k = 0,
                   DType dtype = DType::Float32);
  // Random arrays drawn from `gen` (runtime/random.hpp documents the generator).
  static Array uniform(Generator& gen, const Shape& shape, double low = 0, double high = 1,
                       DType dtype = DType::Float32);
  static Array normal(Generator& gen, const Shape& shape, double mean = 0, double stddev = 1,
                      DType dtype = DType::Float32);
  // Convenience: a fresh Generator(seed).
  static Array uniform(std::uint64_t seed, const Shape& shape, double low = 0, double high = 1,
                       DType dtype = DType::Float32);
  static Array normal(std::uint64_t seed, const Shape& shape, double mean = 0,
                      double stddev = 1, DType dtype = DType::Float32);

  template <class T>
  static Array scalar(T value) {
    Array a = empty({}, dtype_of<T>);
    *a.data<T>() = value;
    return a;
  }
  // Copies `values` (row-major) into a new array of `shape` (default: 1-d).
  template <class T>
  static Array from_vector(const std::vector<T>& values, Shape shape = {});
  template <class T>
  static Array from_list(std::initializer_list<T> values, Shape shape = {}) {
    return from_vector(std::vector<T>(values), std::move(shape));
  }
  // Wraps external memory without copying; `keep_alive` is held while any view lives.
  static Array from_external(void* data, const Shape& shape, const Strides& strides,
                             DType dtype, std::shared_ptr<void> keep_alive = {});

  // --- where it lives -----------------------------------------------------------------
  Device device() const;
  bool on_host() const { return !storage_->context(); }
  // The device's context; nullptr on the host.
  const std::shared_ptr<DeviceContext>& context() const { return storage_->context(); }
  // Uninitialised, of this shape and dtype, where this array lives (torch's new_empty).
  Array new_empty(const Shape& shape, DType dtype) const;
  // A C-contiguous host copy of a device array; *this when already on the host.
  Array to_host() const;
  // A C-contiguous copy on `context`'s device (the host when nullptr); *this when it
  // already lives there.
  Array to(const std::shared_ptr<DeviceContext>& context) const;

  // --- properties --------------------------------------------------------------------
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t shape(int axis) const;  // negative axes count from the end
  const Strides& strides() const { return strides_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t size() const { return shape_size(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(size()) * dtype_size(dtype_); }
  bool is_contiguous() const;  // C order, no gaps (size-1 dims may have any stride)
  // True when both arrays view the same storage block.
  bool shares_storage(const Array& other) const { return storage_ == other.storage_; }
  // The same elements, seen the same way: one address, dtype, shape and strides.
  bool same_view(const Array& other) const {
    return raw_data() == other.raw_data() && dtype() == other.dtype() &&
           shape() == other.shape() && strides() == other.strides();
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::int64_t offset() const { return offset_; }  // in elements, into storage

  // Pointer to element [0, 0, ...]: for a device array, a device address. The typed form
  // checks the dtype and that the array is on the host (Error on either mismatch).
  void* raw_data() const;
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>);
    check_host("Array::data");
    return static_cast<T*>(raw_data());
  }

  // --- element access (bounds-checked, negative indices allowed; on a device, each
  // access copies one element) --------------------------------------------------------
  template <class T>
  T at(std::initializer_list<std::int64_t> index) const {
    T value;
    read_element({index.begin(), index.size()}, dtype_of<T>, &value, "Array::at");
    return value;
  }
  template <class T>
  void set(std::initializer_list<std::int64_t> index, T value) {
    write_element({index.begin(), index.size()}, dtype_of<T>, &value, "Array::set");
  }
  // Any dtype, converted through double.
  double get_as_double(std::span<const std::int64_t> index) const;
  void set_from_double(std::span<const std::int64_t> index, double value);
  // The single element of a size-1 array, converted to T.
  template <class T>
  T item() const;

  // --- views (no copies) ------------------------------------------------------------
  // numpy slicing on one axis: start/stop clamp like Python; step may be negative but not 0.
  Array slice(int axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1) const;
  Array index(int axis, std::int64_t i) const;  // drops the axis; negative i counts from end
  Array transpose(const std::vector<int>& perm) const;  // numpy.transpose(a, perm)
  Array transpose() const;                              // reverses all axes
  Array broadcast_to(const Shape& shape) const;         // numpy rules; Error when impossible
  Array expand_dims(int axis) const;
  Array squeeze(int axis) const;                        // that axis must have size 1
  // A view when the layout allows it, a copy otherwise. One dim may be -1.
  Array reshape(const Shape& shape) const;

  // --- copies -----------------------------------------------------------------------
  // The start of this array's storage as a C-contiguous array of another shape and dtype,
  // without copying: for buffers the library reuses. cgvm::Error if the storage is too small.
  Array reinterpret(const Shape& shape, DType dtype) const;
  Array copy() const;                     // fresh, C-contiguous
  Array contiguous() const;               // *this when already contiguous, else copy()
  Array astype(DType dtype) const;        // fresh, converted (C casts; float->bool is != 0)
  // Writes `src` (broadcast to this shape, converted to this dtype) into this array's
  // elements, in place.
  void assign(const Array& src);
  void fill(double value);

  // numpy-style text: "array([[1., 2.],\n       [3., 4.]], dtype=float32)"-like but
  // without the "array(" wrapper: "[[1, 2],\n [3, 4]]". Long arrays are summarised.
  std::string to_string() const;
  // Element values as doubles in row-major order (tests and printing).
  std::vector<double> to_double_vector() const;
  template <class T>
  std::vector<T> to_vector() const;

 private:
  // Assembles an array from its parts without allocating (factories and views use it).
  Array(std::shared_ptr<Storage> storage, std::int64_t offset, Shape shape, Strides strides,
        DType dtype);
  void check_dtype(DType expected) const;
  // cgvm::Error "<what>: the array is on cuda:0 ..." unless it is on the host.
  void check_host(const char* what) const;
  // Copies the element at `index` (of dtype `expected`) out of / into the array.
  void read_element(std::span<const std::int64_t> index, DType expected, void* value,
                    const char* what) const;
  void write_element(std::span<const std::int64_t> index, DType expected, const void* value,
                     const char* what);

  std::shared_ptr<Storage> storage_;
  std::int64_t offset_ = 0;  // elements
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::Float32;
};

std::ostream& operator<<(std::ostream& os, const Array& a);

// numpy.allclose / numpy.array_equal. Shapes must broadcast-match exactly (same shape);
// different shapes compare false. Any dtypes.
bool allclose(const Array& a, const Array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);
bool array_equal(const Array& a, const Array& b);

}  // namespace cgvm

#include "runtime/array_inl.hpp"
