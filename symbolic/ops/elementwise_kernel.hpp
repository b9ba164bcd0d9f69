#pragma once
// Private to the elementwise family: the one broadcasting reference loop every elementwise
// eval shares, and the small builders that turn a scalar function into a whole OpDef.
//
// A builder fills the facets every elementwise op has in common (arity, dtype check,
// broadcast shape inference, typed eval through map_elements) and takes the op-specific
// ones as further arguments (the gradient; emitters later). It returns the OpDef by value,
// so a block may also set a facet on it before storing it:
//   const OpDef& exp_op() {
//     static const OpDef def = unary_float(
//         "exp", [](auto x) { return std::exp(x); },
//         unary_grad([](const UnaryGrad& d) { return mul(d.g, d.y, d.l); }));
//     return def;
//   }
#include <array>
#include <cstddef>
#include <source_location>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/nditer.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_def.hpp"

namespace cgvm::ops::detail {

// Which input dtypes a primitive op accepts. The user functions insert casts so that the
// primitive never sees anything else; a direct apply() with another dtype is a user error.
enum class Domain {
  Float,    // float32, float64
  Numeric,  // integers and floats (bool arithmetic is done in int64 by the user functions)
  Bool,     // bool only (logic)
  Any,
};

template <Domain D, class T>
inline constexpr bool accepts =
    D == Domain::Any || (D == Domain::Float && std::is_floating_point_v<T>) ||
    (D == Domain::Numeric && !std::is_same_v<T, bool>) ||
    (D == Domain::Bool && std::is_same_v<T, bool>);

bool accepts_dtype(Domain domain, DType dtype);
std::string_view domain_name(Domain domain);

// The output shape of an elementwise node from its input values, following the node's static
// types: an input dimension of static size 1 stretches; all others must agree, else a
// run-time Error through args.fail (two unknown dimensions that disagree).
Shape broadcast_values(const EvalArgs& args);

// Inference shared by the builders: all inputs of one dtype in `domain`, broadcast shape;
// the output is bool when `to_bool`, else of the input dtype.
std::vector<TensorType> infer_same_dtype(const InferArgs& args, Domain domain, bool to_bool);

template <class Out, class... In, class F, std::size_t... K>
void run_loop(Array& out, const std::array<Array, sizeof...(In)>& ins, F& f,
              std::index_sequence<K...>) {
  constexpr std::size_t n = sizeof...(In);
  CGVM_ASSERT(((ins[K].dtype() == dtype_of<In>) && ...), "elementwise input dtype mismatch");
  std::array<const Strides*, n + 1> strides{&ins[K].strides()..., &out.strides()};
  std::tuple<const In*...> src{static_cast<const In*>(ins[K].raw_data())...};
  Out* dst = static_cast<Out*>(out.raw_data());
  for (NdIter<n + 1> it(out.shape(), strides); !it.done(); it.next())
    dst[it.offset(n)] = static_cast<Out>(f(std::get<K>(src)[it.offset(K)]...));
}

// The reference loop: out[i] = f(in0[i], in1[i], ...) over the broadcast shape, reading each
// input through a stride-0 view where it stretches. `In` are the inputs' C++ element types.
template <class Out, class... In, class F>
Array map_elements(const EvalArgs& args, F f) {
  const Shape shape = broadcast_values(args);
  Array out = Array::empty(shape, dtype_of<Out>);
  std::array<Array, sizeof...(In)> ins;
  for (std::size_t k = 0; k < ins.size(); ++k) ins[k] = args.inputs[k].broadcast_to(shape);
  run_loop<Out, In...>(out, ins, f, std::index_sequence_for<In...>{});
  return out;
}

// An op applying f to N inputs of one dtype T in `D`; the output is T, or bool when ToBool.
template <int N, Domain D, bool ToBool, class F>
OpDef same_dtype_op(std::string_view name, F f, GradFn grad) {
  return OpDef{
      .name = name,
      .family = OpFamily::Elementwise,
      .min_inputs = N,
      .max_inputs = N,
      .infer = [](const InferArgs& a) { return infer_same_dtype(a, D, ToBool); },
      .eval =
          [f](const EvalArgs& a) {
            Array out = visit_dtype(a.inputs[0].dtype(), [&](auto tag) -> Array {
              using T = typename decltype(tag)::type;
              using Out = std::conditional_t<ToBool, bool, T>;
              if constexpr (!accepts<D, T>)
                throw InternalError("elementwise eval on a dtype its inference rejects");
              else if constexpr (N == 1)
                return map_elements<Out, T>(a, f);
              else
                return map_elements<Out, T, T>(a, f);
            });
            return std::vector<Array>{out};
          },
      .grad = std::move(grad),
  };
}

// --- gradients -----------------------------------------------------------------------------
// A gradient rule sees the gradient g of the cost with respect to the output y, the inputs,
// y itself (reused where the derivative is a function of it), and l, the forward node's
// location: every node a rule builds passes l, so errors in gradient code point at the
// user's line. Rules are written with the Var functions, so gradients differentiate again.
struct UnaryGrad {
  Var g, x, y;
  std::source_location l;
};
struct BinaryGrad {
  Var g, a, b, y;
  std::source_location l;
};
// Returns d cost / dx.
using UnaryRule = Var (*)(const UnaryGrad&);
// Returns d cost / da and d cost / db at the output's broadcast shape.
using BinaryRule = std::array<Var, 2> (*)(const BinaryGrad&);

GradFn unary_grad(UnaryRule rule);
// Sums each input's gradient back over the dims the forward op broadcast it along.
GradFn binary_grad(BinaryRule rule);
// Piecewise-constant float ops (floor, sign, floor_div...): zeros of each input's shape, not
// null, so the inputs stay connected to the cost (Theano's behaviour).
GradFn zero_grad();
// {where(mask, g, 0), where(mask, 0, g)}: the gradient routed to one of two sources.
std::array<Var, 2> route(const Var& mask, const Var& g, const std::source_location& l);

// The builders the definition blocks use.
template <class F> OpDef unary_float(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<1, Domain::Float, false>(n, f, std::move(grad));
}
template <class F> OpDef unary_numeric(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<1, Domain::Numeric, false>(n, f, std::move(grad));
}
template <class F> OpDef unary_predicate(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<1, Domain::Any, true>(n, f, std::move(grad));
}
template <class F> OpDef unary_logical(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<1, Domain::Bool, true>(n, f, std::move(grad));
}
template <class F> OpDef binary_float(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<2, Domain::Float, false>(n, f, std::move(grad));
}
template <class F> OpDef binary_numeric(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<2, Domain::Numeric, false>(n, f, std::move(grad));
}
template <class F> OpDef binary_any(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<2, Domain::Any, false>(n, f, std::move(grad));
}
template <class F> OpDef comparison(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<2, Domain::Any, true>(n, f, std::move(grad));
}
template <class F> OpDef binary_logical(std::string_view n, F f, GradFn grad = {}) {
  return same_dtype_op<2, Domain::Bool, true>(n, f, std::move(grad));
}

}  // namespace cgvm::ops::detail
