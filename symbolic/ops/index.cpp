// Index ops: basic indexing (subtensor), gathers (take), their in-place-looking updates
// (inc_subtensor, inc_take: a fresh copy with a region set or incremented) and arange.
// The attribute encoding of a basic index is documented in ops/index_detail.hpp; the user
// functions that canonicalise it live in ops/index_api.cpp.
#include <fmt/format.h>

#include <cmath>

#include "runtime/cast.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/index_detail.hpp"

namespace cgvm::ops {
namespace {

using namespace index_detail;

FailFn infer_fail(const InferArgs& a) {
  return [&a](const std::string& m) { a.fail(m); };
}
FailFn eval_fail(const EvalArgs& a) {
  return [&a](const std::string& m) { a.fail(m); };
}

std::vector<TensorType> input_types(const InferArgs& a, int first) {
  std::vector<TensorType> types;
  for (int i = first; i < a.num_inputs(); ++i) types.push_back(a.input(i));
  return types;
}

// inc_subtensor / inc_take: "set" replaces the region, "inc" adds to it.
bool is_set_mode(const Attrs& attrs, const FailFn& fail) {
  const std::string& mode = attrs.get_string("mode");
  if (mode != "set" && mode != "inc")
    fail_with(fail, fmt::format("mode must be 'set' or 'inc', got '{}'", mode));
  return mode == "set";
}

void check_update_dtype(const TensorType& x, const TensorType& y, const FailFn& fail) {
  // The user functions cast y; a node built by hand must already agree.
  if (y.dtype != x.dtype)
    fail_with(fail, fmt::format("y {} must have the dtype of x {}", y.str(), x.str()));
}

void write_region(Array region, const Array& y, bool set) {
  if (set)
    region.assign(y);  // assign writes through the view, which is all a copy of x
  else
    accumulate(region, y);
}

// arange's length: numpy's ceil((stop - start) / step), in exact integer arithmetic when
// all three are integers.
std::int64_t arange_length(const Array& start, const Array& stop, const Array& step,
                           const FailFn& fail) {
  const bool ints = !is_float(start.dtype()) && !is_float(stop.dtype()) &&
                    !is_float(step.dtype());
  if (ints) {
    const auto a = start.item<std::int64_t>(), b = stop.item<std::int64_t>(),
               s = step.item<std::int64_t>();
    if (s == 0) fail_with(fail, "step must not be zero");
    if (s > 0) return b > a ? (b - a - 1) / s + 1 : 0;
    return a > b ? (a - b - 1) / -s + 1 : 0;
  }
  const auto a = start.item<double>(), b = stop.item<double>(), s = step.item<double>();
  if (s == 0) fail_with(fail, "step must not be zero");
  const double n = std::ceil((b - a) / s);
  if (!std::isfinite(n) || n > 9.0e18)
    fail_with(fail,
              fmt::format("cannot make {} elements (start {}, stop {}, step {})", n, a, b, s));
  return n > 0 ? static_cast<std::int64_t>(n) : 0;
}

}  // namespace

// x[entries]: inputs [x, index scalars...]; attrs kinds, values (see index_detail.hpp).
// The result is a view of x.
const OpDef& subtensor_op() {
  static const OpDef def{
      .name = "subtensor",
      .family = OpFamily::Index,
      .min_inputs = 1,
      .max_inputs = -1,
      .infer = [](const InferArgs& a) {
        return std::vector<TensorType>{
            region_type(a.input(0), decode(a.attrs), input_types(a, 1), infer_fail(a))};
      },
      .eval = [](const EvalArgs& a) {
        return std::vector<Array>{
            region_view(a.inputs[0], decode(a.attrs()), a.inputs.subspan(1), eval_fail(a))};
      },
  };
  return def;
}

// A copy of x with x[entries] set to (mode "set") or incremented by ("inc") y, which
// broadcasts to the region. Inputs [x, y, index scalars...]; attrs kinds, values, mode.
const OpDef& inc_subtensor_op() {
  static const OpDef def{
      .name = "inc_subtensor",
      .family = OpFamily::Index,
      .min_inputs = 2,
      .max_inputs = -1,
      .infer = [](const InferArgs& a) {
        const FailFn fail = infer_fail(a);
        is_set_mode(a.attrs, fail);
        check_update_dtype(a.input(0), a.input(1), fail);
        const TensorType region =
            region_type(a.input(0), decode(a.attrs), input_types(a, 2), fail);
        check_update_type(a.input(1), region, fail);
        return std::vector<TensorType>{a.input(0)};
      },
      .eval = [](const EvalArgs& a) {
        const FailFn fail = eval_fail(a);
        Array out = a.inputs[0].copy();
        Array region = region_view(out, decode(a.attrs()), a.inputs.subspan(2), fail);
        const TensorType& y_type = a.node.input(1).type();
        write_region(region, broadcast_update(y_type, a.inputs[1], region.shape(), fail),
                     is_set_mode(a.attrs(), fail));
        return std::vector<Array>{out};
      },
  };
  return def;
}

// numpy.take(x, indices, axis): inputs [x, indices (any integer dtype and rank)]; attr axis
// (normalised, >= 0). Negative indices count from the end; out-of-range ones are errors.
const OpDef& take_op() {
  static const OpDef def{
      .name = "take",
      .family = OpFamily::Index,
      .min_inputs = 2,
      .max_inputs = 2,
      .infer = [](const InferArgs& a) {
        return std::vector<TensorType>{take_type(a.input(0), a.input(1),
                                                 constant_value(a.inputs[1]),
                                                 a.attrs.get_int("axis"), infer_fail(a))};
      },
      .eval = [](const EvalArgs& a) {
        const Array& x = a.inputs[0];
        const int axis = static_cast<int>(a.attrs().get_int("axis"));
        const auto list = checked_indices(a.inputs[1], x.shape()[axis], axis, eval_fail(a));
        Array out = Array::empty(take_shape(x.shape(), a.inputs[1].shape(), axis), x.dtype());
        // Row j of the flattened index dims is x's slice at list[j].
        Shape flat = x.shape();
        flat[axis] = static_cast<std::int64_t>(list.size());
        Array rows = out.reshape(flat);
        for (std::size_t j = 0; j < list.size(); ++j)
          rows.index(axis, static_cast<std::int64_t>(j)).assign(x.index(axis, list[j]));
        return std::vector<Array>{out};
      },
  };
  return def;
}

// A copy of x with take(x, indices, axis) set to or incremented by y. Inputs [x, indices,
// y]; attrs axis, mode. Repeated indices: "inc" adds every occurrence, "set" keeps the
// last one in index order.
const OpDef& inc_take_op() {
  static const OpDef def{
      .name = "inc_take",
      .family = OpFamily::Index,
      .min_inputs = 3,
      .max_inputs = 3,
      .infer = [](const InferArgs& a) {
        const FailFn fail = infer_fail(a);
        is_set_mode(a.attrs, fail);
        check_update_dtype(a.input(0), a.input(2), fail);
        const TensorType region = take_type(a.input(0), a.input(1), constant_value(a.inputs[1]),
                                            a.attrs.get_int("axis"), fail);
        check_update_type(a.input(2), region, fail);
        return std::vector<TensorType>{a.input(0)};
      },
      .eval = [](const EvalArgs& a) {
        const FailFn fail = eval_fail(a);
        const Array& x = a.inputs[0];
        const int axis = static_cast<int>(a.attrs().get_int("axis"));
        const auto list = checked_indices(a.inputs[1], x.shape()[axis], axis, fail);
        const Shape region = take_shape(x.shape(), a.inputs[1].shape(), axis);
        const Array y = broadcast_update(a.node.input(2).type(), a.inputs[2], region, fail);
        Shape flat = x.shape();
        flat[axis] = static_cast<std::int64_t>(list.size());
        const Array rows = y.reshape(flat);
        const bool set = is_set_mode(a.attrs(), fail);
        Array out = x.copy();
        for (std::size_t j = 0; j < list.size(); ++j)
          write_region(out.index(axis, list[j]), rows.index(axis, static_cast<std::int64_t>(j)),
                       set);
        return std::vector<Array>{out};
      },
  };
  return def;
}

// numpy.arange: inputs [start, stop, step] (numeric scalars); attr dtype. The length is
// static when all three are constants.
const OpDef& arange_op() {
  static const OpDef def{
      .name = "arange",
      .family = OpFamily::Index,
      .min_inputs = 3,
      .max_inputs = 3,
      .infer = [](const InferArgs& a) {
        const FailFn fail = infer_fail(a);
        const DType dtype = a.attrs.get_dtype("dtype");
        if (is_bool(dtype)) a.fail("dtype bool is not supported");
        const char* names[] = {"start", "stop", "step"};
        for (int i = 0; i < 3; ++i)
          if (a.input(i).rank() != 0 || is_bool(a.input(i).dtype))
            a.fail(fmt::format("{} must be a numeric scalar, got {}", names[i], a.input(i).str()));
        const Array *start = constant_value(a.inputs[0]), *stop = constant_value(a.inputs[1]),
                    *step = constant_value(a.inputs[2]);
        if (step && step->item<double>() == 0) a.fail("step must not be zero");
        const std::int64_t n =
            start && stop && step ? arange_length(*start, *stop, *step, fail) : unknown_dim;
        return std::vector<TensorType>{{dtype, {n}}};
      },
      .eval = [](const EvalArgs& a) {
        const std::int64_t n = arange_length(a.inputs[0], a.inputs[1], a.inputs[2], eval_fail(a));
        Array out = Array::empty({n}, a.attrs().get_dtype("dtype"));
        // Integer bounds count in integers, so large int64 values stay exact.
        const bool ints = !is_float(a.inputs[0].dtype()) && !is_float(a.inputs[2].dtype());
        const Array &first = a.inputs[0], &step = a.inputs[2];
        const auto istart = ints ? first.item<std::int64_t>() : 0;
        const auto istep = ints ? step.item<std::int64_t>() : 0;
        const auto fstart = first.item<double>(), fstep = step.item<double>();
        visit_dtype(out.dtype(), [&](auto tag) {
          using T = typename decltype(tag)::type;
          T* p = out.data<T>();
          for (std::int64_t i = 0; i < n; ++i)
            p[i] = ints ? cast_value<T>(istart + i * istep)
                        : cast_value<T>(fstart + static_cast<double>(i) * fstep);
        });
        return std::vector<Array>{out};
      },
  };
  return def;
}

}  // namespace cgvm::ops
