// Reductions: sum, prod, max, min, argmax, argmin, all, any. The user functions and the
// compositions built on them (mean, var, std, logsumexp) are in reduce_api.cpp.
//
// Every reduce op has the attrs "axes" (normalised: sorted, unique, in range; all axes for
// a full reduction) and "keepdims". The user functions normalise; inference re-checks, so a
// hand-built node cannot carry a malformed axis list.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "runtime/nditer.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"

namespace cgvm {
namespace {

enum class Reduce { Sum, Prod, Max, Min, ArgMax, ArgMin, All, Any };

bool is_arg(Reduce k) { return k == Reduce::ArgMax || k == Reduce::ArgMin; }
// Ops without an identity value cannot reduce an empty axis.
bool needs_elements(Reduce k) {
  return k == Reduce::Max || k == Reduce::Min || is_arg(k);
}

// numpy's result types: integer and bool sums/products widen to int64, so that counting
// booleans or summing small integers does not wrap.
DType reduce_dtype(Reduce k, DType in) {
  switch (k) {
    case Reduce::Sum:
    case Reduce::Prod: return is_float(in) ? in : DType::Int64;
    case Reduce::Max:
    case Reduce::Min: return in;
    case Reduce::ArgMax:
    case Reduce::ArgMin: return DType::Int64;
    case Reduce::All:
    case Reduce::Any: break;
  }
  return DType::Bool;
}

Shape reduced_shape(const Shape& in, const Ints& axes, bool keepdims) {
  Shape out;
  std::size_t next = 0;
  for (int d = 0; d < static_cast<int>(in.size()); ++d) {
    bool reduced = next < axes.size() && axes[next] == d;
    if (reduced) ++next;
    if (!reduced) out.push_back(in[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

std::vector<TensorType> infer_reduce(Reduce kind, const InferArgs& a) {
  const TensorType& x = a.input(0);
  const Ints& axes = a.attrs.get_ints("axes");
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= x.rank())
      a.fail(fmt::format("axis {} is out of range for rank {}", axes[i], x.rank()));
    if (i > 0 && axes[i] <= axes[i - 1])
      a.fail(fmt::format("axes must be sorted and unique, got [{}]", fmt::join(axes, ", ")));
  }
  if (is_arg(kind) && axes.size() != 1 && static_cast<int>(axes.size()) != x.rank())
    a.fail(fmt::format("takes one axis or all of them, got [{}]", fmt::join(axes, ", ")));
  if (needs_elements(kind))
    for (auto ax : axes)
      if (x.shape[ax] == 0)
        a.fail(fmt::format("cannot reduce axis {} of size 0: {} has no identity value", ax,
                           a.op.name));
  bool keepdims = a.attrs.get_bool("keepdims");
  return {TensorType{reduce_dtype(kind, x.dtype), reduced_shape(x.shape, axes, keepdims)}};
}

// The input split into the dims that survive (outer loop, one output element each) and the
// reduced dims (inner loop, visited row-major, so float accumulation order is fixed).
struct Plan {
  Shape kept_shape, red_shape;
  Strides kept_strides, red_strides;
};

Plan make_plan(const Array& x, const Ints& axes) {
  Plan p;
  std::size_t next = 0;
  for (int d = 0; d < x.rank(); ++d) {
    bool reduced = next < axes.size() && axes[next] == d;
    if (reduced) ++next;
    (reduced ? p.red_shape : p.kept_shape).push_back(x.shape()[d]);
    (reduced ? p.red_strides : p.kept_strides).push_back(x.strides()[d]);
  }
  return p;
}

// Calls body(i, each) for output element i; each(f) calls f(value, j) for the j-th reduced
// element of that group.
template <class T, class Body>
void for_each_group(const Array& x, const Plan& p, Body body) {
  const T* data = static_cast<const T*>(x.raw_data());
  std::int64_t i = 0;
  for (NdIter<1> out(p.kept_shape, {&p.kept_strides}); !out.done(); out.next(), ++i) {
    const T* base = data + out.offset(0);
    auto each = [&](auto&& f) {
      std::int64_t j = 0;
      for (NdIter<1> in(p.red_shape, {&p.red_strides}); !in.done(); in.next(), ++j)
        f(base[in.offset(0)], j);
    };
    body(i, each);
  }
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Whether v replaces best as the running max (or min): NaN wins and then sticks (numpy
// propagates NaN; argmax reports the first NaN); on ties the earlier element stays.
template <class T>
bool better(Reduce k, T v, T best) {
  if (is_nan(best)) return false;
  if (is_nan(v)) return true;
  return (k == Reduce::Max || k == Reduce::ArgMax) ? v > best : v < best;
}

// Floats accumulate sums and products in double and round once at the end: one rounding
// instead of one per element, in a fixed order. Integers accumulate in uint64, whose
// wrap-around gives numpy's int64 result bit for bit without signed overflow (undefined
// behaviour in C++).
template <class T>
void reduce_typed(Reduce kind, const Array& x, const Plan& p, Array& out) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::uint64_t>;
  using Wide = std::conditional_t<std::is_floating_point_v<T>, T, std::int64_t>;
  switch (kind) {
    case Reduce::Sum:
    case Reduce::Prod: {
      Wide* o = out.data<Wide>();
      bool sum = kind == Reduce::Sum;
      for_each_group<T>(x, p, [&](std::int64_t i, auto each) {
        Acc acc = sum ? Acc(0) : Acc(1);
        each([&](T v, std::int64_t) {
          acc = sum ? acc + static_cast<Acc>(v) : acc * static_cast<Acc>(v);
        });
        o[i] = static_cast<Wide>(acc);
      });
      return;
    }
    case Reduce::Max:
    case Reduce::Min:
    case Reduce::ArgMax:
    case Reduce::ArgMin: {
      T* values = is_arg(kind) ? nullptr : out.data<T>();
      std::int64_t* positions = is_arg(kind) ? out.data<std::int64_t>() : nullptr;
      for_each_group<T>(x, p, [&](std::int64_t i, auto each) {
        T best{};
        std::int64_t where = 0;
        each([&](T v, std::int64_t j) {
          if (j == 0 || better(kind, v, best)) best = v, where = j;
        });
        if (positions) positions[i] = where;
        else values[i] = best;
      });
      return;
    }
    case Reduce::All:
    case Reduce::Any: {
      bool* o = out.data<bool>();
      bool all = kind == Reduce::All;
      for_each_group<T>(x, p, [&](std::int64_t i, auto each) {
        bool acc = all;
        // NaN counts as true, as in numpy (v != 0).
        each([&](T v, std::int64_t) { acc = all ? acc && v != T(0) : acc || v != T(0); });
        o[i] = acc;
      });
      return;
    }
  }
}

std::vector<Array> eval_reduce(Reduce kind, const EvalArgs& a) {
  const Array& x = a.inputs[0];
  const Ints& axes = a.attrs().get_ints("axes");
  Plan p = make_plan(x, axes);
  if (needs_elements(kind) && shape_size(p.red_shape) == 0)
    a.fail(fmt::format("cannot reduce an empty axis (axes [{}] of shape {} hold no elements): "
                       "{} has no identity value",
                       fmt::join(axes, ", "), shape_str(x.shape()), a.node.op().name));
  Array out = x.new_empty(reduced_shape(x.shape(), axes, a.attrs().get_bool("keepdims")),
                          a.output_type().dtype);
  if (!x.on_host()) {  // argmax, argmin: the kept axes, then the reduced ones, as rows
    CGVM_ASSERT(is_arg(kind), "only argmax and argmin reduce on a device through eval");
    std::vector<int> order;
    for (int d = 0; d < x.rank(); ++d)
      if (std::find(axes.begin(), axes.end(), d) == axes.end()) order.push_back(d);
    for (std::int64_t d : axes) order.push_back(static_cast<int>(d));
    const std::int64_t inner = shape_size(p.red_shape);
    x.context()->arg_reduce(out.reshape({out.size()}),
                            x.transpose(order).contiguous().reshape({out.size(), inner}),
                            kind == Reduce::ArgMax);
    return {out};
  }
  visit_dtype(x.dtype(), [&](auto tag) {
    reduce_typed<typename decltype(tag)::type>(kind, x, p, out);
  });
  return {out};
}

// --- gradients -------------------------------------------------------------------------

Axes reduced_axes(const GradArgs& a) { return Axes(a.attrs().get_ints("axes")); }

// v, of the reduce's output shape, with the reduced axes put back as size-1 dims so that it
// broadcasts against the input (keepdims form).
Var keepdims_form(const Var& v, const GradArgs& a) {
  if (a.attrs().get_bool("keepdims")) return v;
  const Ints& axes = a.attrs().get_ints("axes");
  std::vector<std::int64_t> pattern;
  std::int64_t next = 0;
  for (int d = 0; d < a.input(0).rank(); ++d)
    pattern.push_back(std::binary_search(axes.begin(), axes.end(), d) ? -1 : next++);
  return dimshuffle(v, pattern, a.loc());
}

// Ties split equally: d max / dx_i = [x_i == max] / (number of maxima in the slice). A NaN
// maximum equals no element, so its slice gets 0.
std::vector<Var> extremum_grad(const GradArgs& a) {
  const Var& x = a.input(0);
  const auto& loc = a.loc();
  Var is_extremum = eq(x, keepdims_form(a.output(), a), loc);
  Var count = cast(sum(is_extremum, reduced_axes(a), /*keepdims=*/true, loc), x.dtype(), loc);
  Var share = true_div(keepdims_form(a.grad(), a), count, loc);
  return {where(is_extremum, share, 0, loc)};
}

// The extreme value of a dtype, as a C++ literal: where max (lowest) and min (highest) start.
std::string extreme_literal(DType d, bool lowest) {
  if (is_float(d)) return lowest ? "-__builtin_huge_val()" : "__builtin_huge_val()";
  switch (d) {
    case DType::Int8: return lowest ? "-128" : "127";
    case DType::Int16: return lowest ? "-32768" : "32767";
    case DType::Int32: return lowest ? "(-2147483647 - 1)" : "2147483647";
    case DType::Int64: return lowest ? "(-9223372036854775807LL - 1)" : "9223372036854775807LL";
    case DType::UInt8: return lowest ? "0" : "255";
    default: return lowest ? "false" : "true";
  }
}

// Generated code accumulates in the output dtype (float sums in float, reassociated so they
// vectorize: results differ from the reference's double accumulation by rounding only).
// `x` is the element in the input dtype; integer sums and products wrap like the reference.
ReduceEmit emit_reduce(Reduce kind, const Node& node) {
  DType in = node.input(0).dtype(), out = node.output_types()[0].dtype;
  bool fp = is_float(in);
  std::string x = fp ? "{x}" : "(long long){x}";
  switch (kind) {
    case Reduce::Sum: return {"0", fp ? "{acc} + {x}" : "detail::add_of({acc}, " + x + ")"};
    case Reduce::Prod: return {"1", fp ? "{acc} * {x}" : "detail::mul_of({acc}, " + x + ")"};
    case Reduce::Max:
    case Reduce::Min: {
      bool max = kind == Reduce::Max;
      if (out == DType::Bool)
        return {max ? "false" : "true", max ? "({acc} | {x})" : "({acc} & {x})", false, false};
      // fmax/fmin skip NaN and vectorize; the NaN is tracked beside them.
      if (fp)
        return {extreme_literal(out, max),
                std::string(max ? "detail::fmax_" : "detail::fmin_") + "({acc}, {x})", true,
                false};
      return {extreme_literal(out, max),
              std::string(max ? "({x} > {acc})" : "({x} < {acc})") + " ? {x} : {acc}", false,
              false};
    }
    case Reduce::All: return {"true", "({acc} & ({x} != 0))"};
    case Reduce::Any: return {"false", "({acc} | ({x} != 0))"};
    case Reduce::ArgMax:
    case Reduce::ArgMin: break;
  }
  throw InternalError("argmax/argmin have no accumulator form");
}

// Integer and bool results (argmax, argmin, all, any) carry no gradient: grad stays empty.
OpDef reduce_op(std::string_view name, Reduce kind, GradFn grad = {}) {
  return OpDef{
      .name = name,
      .family = OpFamily::Reduce,
      .min_inputs = 1,
      .max_inputs = 1,
      .infer = [kind](const InferArgs& a) { return infer_reduce(kind, a); },
      .eval = [kind](const EvalArgs& a) { return eval_reduce(kind, a); },
      .grad = std::move(grad),
      // argmax/argmin track positions; compiled functions run them through eval (on a
      // device too: DeviceContext::arg_reduce).
      .on_device = is_arg(kind) ? any_device : std::function<bool(const Node&)>{},
      .device_work = {.arg_reduce = is_arg(kind)},
      .emit_reduce = is_arg(kind) ? ReduceEmitFn{}
                                  : [kind](const Node& n) { return emit_reduce(kind, n); },
  };
}

}  // namespace

namespace ops {

// Sum over `axes`; integer and bool inputs give int64.
const OpDef& sum_op() {
  // d sum / dx_i = 1: g spread over the reduced axes.
  static const OpDef def = reduce_op("sum", Reduce::Sum, [](const GradArgs& a) {
    Dims x_shape = dims_of(a.input(0), a.loc());
    return std::vector<Var>{broadcast_to(keepdims_form(a.grad(), a), x_shape, a.loc())};
  });
  return def;
}

// Product over `axes`; integer and bool inputs give int64.
const OpDef& prod_op() {
  // d prod / dx_i = the product of the other elements of x_i's slice, computed without
  // dividing by zero. With p the product of the slice's non-zero elements and z its number
  // of zeros:
  //   z == 0: p / x_i;   z == 1: p at the zero, 0 at the other elements;   z >= 2: 0.
  // This first derivative is exact for any number of zeros. Differentiated again it is
  // exact where the slice holds no zero; at a zero, the terms that cross the zero are lost.
  static const OpDef def = reduce_op("prod", Reduce::Prod, [](const GradArgs& a) {
    const Var& x = a.input(0);
    const auto& loc = a.loc();
    Axes axes = reduced_axes(a);
    Var is_zero = eq(x, 0, loc);
    Var zeros = sum(is_zero, axes, /*keepdims=*/true, loc);
    Var nonzero = where(is_zero, 1, x, loc);
    Var p = prod(nonzero, axes, /*keepdims=*/true, loc);
    Var at_zero = where(eq(zeros, 1, loc), p, 0, loc);
    Var elsewhere = where(eq(zeros, 0, loc), true_div(p, nonzero, loc), 0, loc);
    Var others = where(is_zero, at_zero, elsewhere, loc);
    return std::vector<Var>{mul(keepdims_form(a.grad(), a), others, loc)};
  });
  return def;
}

// Largest element (NaN if any is NaN); keeps the dtype; empty axes are an error.
const OpDef& max_op() {
  static const OpDef def = reduce_op("max", Reduce::Max, extremum_grad);
  return def;
}

const OpDef& min_op() {
  static const OpDef def = reduce_op("min", Reduce::Min, extremum_grad);
  return def;
}

// int64 position of the first largest element (the first NaN if any) along one axis, or in
// the flattened tensor when `axes` lists every axis.
const OpDef& argmax_op() {
  static const OpDef def = reduce_op("argmax", Reduce::ArgMax);
  return def;
}

const OpDef& argmin_op() {
  static const OpDef def = reduce_op("argmin", Reduce::ArgMin);
  return def;
}

// Logical and of (x != 0); bool.
const OpDef& all_op() {
  static const OpDef def = reduce_op("all", Reduce::All);
  return def;
}

const OpDef& any_op() {
  static const OpDef def = reduce_op("any", Reduce::Any);
  return def;
}

}  // namespace ops
}  // namespace cgvm
