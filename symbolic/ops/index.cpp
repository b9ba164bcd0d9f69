// Index ops: basic indexing (subtensor), gathers (take), their in-place-looking updates
// (inc_subtensor, inc_take: a fresh copy with a region set or incremented) and arange.
// The attribute encoding of a basic index is documented in ops/index_detail.hpp; the user
// functions that canonicalise it live in ops/index_api.cpp.
// Gradients rebuild the forward node's own indexing (same attributes, same index inputs)
// on the output gradient, which is the exact inverse; index inputs get no gradient.
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "runtime/cast.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/index.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/index_detail.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm::ops {
namespace {

using namespace index_detail;

FailFn infer_fail(const InferArgs& a) {
  return [&a](const std::string& m) { a.fail(m); };
}
FailFn eval_fail(const EvalArgs& a) {
  return [&a](const std::string& m) { a.fail(m); };
}

// Indices a device holds, as its index kernels read them (DeviceIndexFault): a contiguous
// int64 vector there.
Array device_rows(const Array& indices) {
  const Array rows = indices.dtype() == DType::Int64 ? indices : indices.astype(DType::Int64);
  return rows.contiguous().reshape({indices.size()});
}
// Where a device notes an index out of range: the call's note, naming the node, which the
// executor finds again (api/executor.cpp).
FaultSite fault_site(const EvalArgs& a) {
  CGVM_ASSERT(a.faults, "a device executor gives its evals a note of index faults");
  return {.note = a.faults, .site = reinterpret_cast<std::uintptr_t>(&a.node)};
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

// --- gradients ---------------------------------------------------------------------------

// The forward node's basic index applied to `base`: base[entries] (subtensor), or a copy of
// base with that region set to / incremented by `y` (inc_subtensor). The index scalars are
// the node's inputs from `first` on.
std::vector<Var> with_index_scalars(std::vector<Var> inputs, const GradArgs& a, int first) {
  inputs.insert(inputs.end(), a.node.inputs().begin() + first, a.node.inputs().end());
  return inputs;
}
Attrs index_attrs(const GradArgs& a) {
  return Attrs{{"kinds", a.attrs().get_ints("kinds")}, {"values", a.attrs().get_ints("values")}};
}
Var region_of(const GradArgs& a, int first, const Var& base) {
  return apply(subtensor_op(), with_index_scalars({base}, a, first), index_attrs(a), a.loc());
}
Var update_region(const GradArgs& a, int first, const Var& base, const Var& y,
                  const std::string& mode) {
  return apply(inc_subtensor_op(), with_index_scalars({base, y}, a, first),
               index_attrs(a).set("mode", mode), a.loc());
}
// A copy of base with take(base, indices, axis) set to / incremented by y.
Var update_taken(const Var& base, const Var& indices, std::int64_t axis, const Var& y,
                 const std::string& mode, const std::source_location& loc) {
  return apply(inc_take_op(), {base, indices, y}, Attrs{{"axis", axis}, {"mode", mode}}, loc);
}

// The value written over a "set" region in x's gradient: that part of x was overwritten.
Var zero_for(const Var& g, const std::source_location& loc) {
  return constant(0.0, g.dtype(), loc);
}

// Static indices that name each slot once: no write of a "set" is overwritten.
bool known_unique(const Var& indices, std::int64_t size) {
  const Array* value = constant_value(indices);
  if (!value) return false;
  std::set<std::int64_t> seen;
  for (std::int64_t i : value->to_vector<std::int64_t>()) {
    if (i < 0 && size == unknown_dim) return false;  // -1 may be the same slot as n - 1
    if (!seen.insert(i < 0 ? i + size : i).second) return false;
  }
  return true;
}

// With repeated indices, "set" keeps the last write of each slot: 1 where indices[j] is the
// last occurrence of its value, else 0, in `dtype` and the shape of indices. Found by
// writing each position's number into its slot (the last one stays) and reading it back.
Var last_write_mask(const Var& x, const Var& indices, std::int64_t axis, DType dtype,
                    const std::source_location& loc) {
  const Var flat = reshape(indices, {-1}, loc);
  const Var order = arange(flat.shape(0, loc), DType::Int64, loc);
  const Var slots = zeros({x.shape(axis, loc)}, DType::Int64, loc);
  const Var winner = take(update_taken(slots, flat, 0, order, "set", loc), flat, 0, loc);
  return reshape(cast(eq(winner, order, loc), dtype, loc),
                 dims_of(indices, loc), loc);
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
      // d x[idx]/dx: g added into zeros_like(x) at the same region.
      .grad = [](const GradArgs& a) {
        std::vector<Var> grads(a.node.inputs().size());
        const Var& x = a.input(0);
        grads[0] = update_region(a, 1, zeros_like(x, a.loc()), a.grad(), "inc");
        return grads;
      },
      .view = true,
      .on_device = any_device,
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
      // x: g, with the region zeroed in "set" mode (it was overwritten); y: g[idx], summed
      // back over the dims that y was broadcast along.
      .grad = [](const GradArgs& a) {
        std::vector<Var> grads(a.node.inputs().size());
        const Var& g = a.grad();
        const bool set = a.attrs().get_string("mode") == "set";
        grads[0] = set ? update_region(a, 2, g, zero_for(g, a.loc()), "set") : g;
        grads[1] = sum_to_shape(region_of(a, 2, g), a.input(1).type(), a.loc());
        return grads;
      },
      .on_device = any_device,
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
        const Array &x = a.inputs[0], &indices = a.inputs[1];
        const int axis = static_cast<int>(a.attrs().get_int("axis"));
        Array out = x.new_empty(take_shape(x.shape(), indices.shape(), axis), x.dtype());
        // Row j of the flattened index dims is x's slice at list[j].
        Shape flat = x.shape();
        flat[axis] = indices.size();
        Array rows = out.reshape(flat);
        if (!x.on_host() && !indices.on_host()) {
          x.context()->gather(rows, x.contiguous(), device_rows(indices), axis, fault_site(a));
          return std::vector<Array>{out};
        }
        const auto list = checked_indices(indices, x.shape()[axis], axis, eval_fail(a));
        if (!x.on_host()) {
          x.context()->gather(rows, x.contiguous(), list, axis);
          return std::vector<Array>{out};
        }
        for (std::size_t j = 0; j < list.size(); ++j)
          rows.index(axis, static_cast<std::int64_t>(j)).assign(x.index(axis, list[j]));
        return std::vector<Array>{out};
      },
      // d take(x, i)/dx: g added into zeros_like(x) at the indices; a repeated index (an
      // embedding row used twice) accumulates every use.
      .grad = [](const GradArgs& a) {
        const Var& x = a.input(0);
        return std::vector<Var>{update_taken(zeros_like(x, a.loc()), a.input(1),
                                             a.attrs().get_int("axis"), a.grad(), "inc",
                                             a.loc()),
                                Var()};
      },
      .on_device = any_device,
      .anywhere_inputs = {1},
      .device_work = {.lookups = true},
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
        const Array &x = a.inputs[0], &indices = a.inputs[1];
        const int axis = static_cast<int>(a.attrs().get_int("axis"));
        const Shape region = take_shape(x.shape(), indices.shape(), axis);
        const Array y = broadcast_update(a.node.input(2).type(), a.inputs[2], region, fail);
        Shape flat = x.shape();
        flat[axis] = indices.size();
        const bool set = is_set_mode(a.attrs(), fail);
        Array out = x.copy();
        auto device_y = [&] { return y.to(x.context()).contiguous().reshape(flat); };
        if (!x.on_host() && !indices.on_host()) {
          x.context()->scatter(out, device_y(), device_rows(indices), axis, set, fault_site(a));
          return std::vector<Array>{out};
        }
        const auto list = checked_indices(indices, x.shape()[axis], axis, fail);
        if (!x.on_host()) {
          x.context()->scatter(out, device_y(), ScatterRows::group(list), axis, set);
          return std::vector<Array>{out};
        }
        const Array rows = y.reshape(flat);
        for (std::size_t j = 0; j < list.size(); ++j)
          write_region(out.index(axis, list[j]), rows.index(axis, static_cast<std::int64_t>(j)),
                       set);
        return std::vector<Array>{out};
      },
      // x: g, with the written slots zeroed in "set" mode; y: take(g, indices), summed back
      // over y's broadcast dims. In "set" mode only the last write of a repeated index
      // reached the output, so the earlier ones get 0.
      .grad = [](const GradArgs& a) {
        const Var &x = a.input(0), &indices = a.input(1);
        const std::int64_t axis = a.attrs().get_int("axis");
        const bool set = a.attrs().get_string("mode") == "set";
        const Var& g = a.grad();
        Var gy = take(g, indices, axis, a.loc());
        if (set && !known_unique(indices, x.static_shape()[axis])) {
          // The mask has indices' dims; they sit at `axis` in the region.
          Ints pattern(static_cast<std::size_t>(axis), -1);
          for (int k = 0; k < indices.rank(); ++k) pattern.push_back(k);
          pattern.resize(gy.rank(), -1);
          const Var mask = last_write_mask(x, indices, axis, g.dtype(), a.loc());
          gy = mul(gy, dimshuffle(mask, pattern, a.loc()), a.loc());
        }
        const Var gx = set ? update_taken(g, indices, axis, zero_for(g, a.loc()), "set", a.loc())
                           : g;
        return std::vector<Var>{gx, Var(), sum_to_shape(gy, a.input(2).type(), a.loc())};
      },
      .on_device = any_device,
      .anywhere_inputs = {1},
      .device_work = {.lookups = true},
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
      // Only a float arange receives a gradient (Theano's rule): out[i] = start + i * step,
      // so start gets sum(g) and step sum(g * i). stop only sets the length (a piecewise-
      // constant size input): none.
      .grad = [](const GradArgs& a) {
        const Var& g = a.grad();
        const Var i = arange(a.output().shape(0, a.loc()), g.dtype(), a.loc());
        return std::vector<Var>{sum(g, {}, false, a.loc()), Var(),
                                sum(mul(g, i, a.loc()), {}, false, a.loc())};
      },
  };
  return def;
}

}  // namespace cgvm::ops
