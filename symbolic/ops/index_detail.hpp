#pragma once
// Helpers shared by the index family's op blocks (ops/index.cpp) and its user functions
// (ops/index_api.cpp). Not part of the public API.
//
// How a basic index is stored on a subtensor / inc_subtensor node (attributes):
//   "kinds":  one per index entry: entry_int (picks one element and drops the axis),
//             entry_slice (keeps the axis) or entry_newaxis (inserts an axis of size 1).
//   "values": the entries' fields, in entry order: one for an int, three for a slice
//             (start, stop, step), none for a newaxis. Each field is
//               - a static integer in [-max_static, max_static],
//               - slot_none: a slice bound that was left out (Python's None), or
//               - slot_input + k: the value of the k-th index scalar (an int64[] input).
// The index scalars follow x (subtensor) or x, y (inc_subtensor) in the node's inputs.
// Missing trailing entries are full slices. The user function canonicalises (steps default
// to 1, constant scalars become static, trailing full slices are dropped, static negative
// integers on static dims become positive) so that equal indexing expressions hash-cons.
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "symbolic/attrs.hpp"
#include "symbolic/type.hpp"

namespace cgvm::index_detail {

enum EntryKind : std::int64_t { entry_int = 0, entry_slice = 1, entry_newaxis = 2 };

inline constexpr std::int64_t slot_none = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t slot_input = slot_none + 1;
// No dimension comes near this, so clamping static integers to it changes no result.
inline constexpr std::int64_t max_static = std::int64_t{1} << 62;

inline bool is_input_slot(std::int64_t v) { return v > slot_none && v < -max_static; }
inline bool is_static(std::int64_t v) { return v != slot_none && !is_input_slot(v); }

// One decoded entry. An int entry keeps its index in `start`.
struct Entry {
  EntryKind kind = entry_slice;
  std::int64_t start = slot_none, stop = slot_none, step = 1;
};

std::vector<Entry> decode(const Attrs& attrs);
void encode(const std::vector<Entry>& entries, Ints& kinds, Ints& values);

// Raises the op's user error (InferArgs::fail or EvalArgs::fail).
using FailFn = std::function<void(const std::string&)>;
[[noreturn]] void fail_with(const FailFn& fail, const std::string& message);

// The static type of x[entries]; checks static indices, steps and the index scalars' types.
TensorType region_type(const TensorType& x, const std::vector<Entry>& entries,
                       std::span<const TensorType> scalars, const FailFn& fail);
// The view x[entries] with the index scalars' values; run-time range and step checks.
Array region_view(const Array& x, const std::vector<Entry>& entries,
                  std::span<const Array> scalars, const FailFn& fail);

// Type of take(x, indices, axis); checks the axis, the index dtype, constant indices.
TensorType take_type(const TensorType& x, const TensorType& indices,
                     const Array* constant_indices, std::int64_t axis, const FailFn& fail);
// x.shape[:axis] + indices.shape + x.shape[axis+1:] (static or run-time shapes).
Shape take_shape(const Shape& x, const Shape& indices, int axis);
// "index i is out of bounds for axis a with size n", and, where the indices have dims,
// where it is among them (", at [j, k] of the indices": element `position` in C order).
std::string index_out_of_bounds(std::int64_t index, int axis, std::int64_t size,
                                const Shape& indices, std::int64_t position);
// The indices as int64, negative ones wrapped; out-of-range ones raise.
std::vector<std::int64_t> checked_indices(const Array& indices, std::int64_t size, int axis,
                                          const FailFn& fail);
// Why a tensor of this type cannot be an index tensor (empty when it can).
std::string index_type_problem(const TensorType& indices);

// Theano's broadcasting of an update y into the indexed region: static check, then the
// run-time check and the broadcast view.
void check_update_type(const TensorType& y, const TensorType& region, const FailFn& fail);
Array broadcast_update(const TensorType& y_type, const Array& y, const Shape& region,
                       const FailFn& fail);
// dst += src elementwise; same dtype, src already broadcast to dst's shape. On a device, the
// device accumulates (runtime/device.hpp).
void accumulate(const Array& dst, const Array& src);

}  // namespace cgvm::index_detail
