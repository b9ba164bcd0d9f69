// The elementwise family: one definition block per op of CGVM_UNARY_OPS and
// CGVM_BINARY_OPS (symbolic/op_list.hpp). Most blocks are one builder call from
// elementwise_kernel.hpp around a scalar function; the semantics the functions implement
// (Python floor/mod, wrapping integers, NaN-propagating min/max...) are documented in
// symbolic/elementwise.hpp, and the non-trivial ones live in elementwise_scalar.hpp.
//
// The primitives are strict: one input dtype in the op's domain. Promotion, weak scalars and
// the bool/int-to-float rules happen in the user functions (elementwise_api.cpp), which insert
// `cast` nodes, so that every node a graph holds is already canonical.
#include <fmt/format.h>

#include <cmath>

#include "runtime/cast.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/elementwise_kernel.hpp"
#include "symbolic/ops/elementwise_scalar.hpp"

namespace cgvm::ops {
using namespace detail;

// --- conversion ----------------------------------------------------------------------------

// attrs: dtype. Converts with runtime/cast.hpp's rule, the one every runtime copy uses.
const OpDef& cast_op() {
  static const OpDef def{
      .name = "cast",
      .family = OpFamily::Elementwise,
      .min_inputs = 1,
      .max_inputs = 1,
      .infer =
          [](const InferArgs& a) {
            return std::vector<TensorType>{{a.attrs.get_dtype("dtype"), a.input(0).shape}};
          },
      .eval =
          [](const EvalArgs& a) {
            Array out = visit_dtype(a.inputs[0].dtype(), [&](auto from) {
              return visit_dtype(a.attrs().get_dtype("dtype"), [&](auto to) {
                using From = typename decltype(from)::type;
                using To = typename decltype(to)::type;
                return map_elements<To, From>(a, [](From v) { return cast_value<To>(v); });
              });
            });
            return std::vector<Array>{out};
          },
      .grad = {},  // gradients are a later facet
  };
  return def;
}

// --- arithmetic: integers wrap, bool never reaches them (the user functions use int64) -------

const OpDef& neg_op() {
  static const OpDef def = unary_numeric("neg", [](auto x) { return neg_of(x); });
  return def;
}

const OpDef& abs_op() {
  static const OpDef def = unary_numeric("abs", [](auto x) { return abs_of(x); });
  return def;
}

const OpDef& sign_op() {
  static const OpDef def = unary_numeric("sign", [](auto x) { return sign_of(x); });
  return def;
}

const OpDef& sqr_op() {
  static const OpDef def = unary_numeric("sqr", [](auto x) { return mul_of(x, x); });
  return def;
}

const OpDef& add_op() {
  static const OpDef def = binary_numeric("add", [](auto a, auto b) { return add_of(a, b); });
  return def;
}

const OpDef& sub_op() {
  static const OpDef def = binary_numeric("sub", [](auto a, auto b) { return sub_of(a, b); });
  return def;
}

const OpDef& mul_op() {
  static const OpDef def = binary_numeric("mul", [](auto a, auto b) { return mul_of(a, b); });
  return def;
}

// Integer division and mod by zero give 0; see elementwise_scalar.hpp.
const OpDef& true_div_op() {
  static const OpDef def = binary_float("true_div", [](auto a, auto b) { return a / b; });
  return def;
}

const OpDef& floor_div_op() {
  static const OpDef def =
      binary_numeric("floor_div", [](auto a, auto b) { return floor_div_of(a, b); });
  return def;
}

const OpDef& mod_op() {
  static const OpDef def = binary_numeric("mod", [](auto a, auto b) { return mod_of(a, b); });
  return def;
}

const OpDef& pow_op() {
  static const OpDef def = binary_numeric("pow", [](auto a, auto b) { return pow_of(a, b); });
  return def;
}

// --- float math: integer inputs were cast to the default float by the user functions -------

const OpDef& exp_op() {
  static const OpDef def = unary_float("exp", [](auto x) { return std::exp(x); });
  return def;
}

const OpDef& exp2_op() {
  static const OpDef def = unary_float("exp2", [](auto x) { return std::exp2(x); });
  return def;
}

const OpDef& expm1_op() {
  static const OpDef def = unary_float("expm1", [](auto x) { return std::expm1(x); });
  return def;
}

const OpDef& log_op() {
  static const OpDef def = unary_float("log", [](auto x) { return std::log(x); });
  return def;
}

const OpDef& log2_op() {
  static const OpDef def = unary_float("log2", [](auto x) { return std::log2(x); });
  return def;
}

const OpDef& log10_op() {
  static const OpDef def = unary_float("log10", [](auto x) { return std::log10(x); });
  return def;
}

const OpDef& log1p_op() {
  static const OpDef def = unary_float("log1p", [](auto x) { return std::log1p(x); });
  return def;
}

const OpDef& sqrt_op() {
  static const OpDef def = unary_float("sqrt", [](auto x) { return std::sqrt(x); });
  return def;
}

const OpDef& rsqrt_op() {
  static const OpDef def = unary_float("rsqrt", [](auto x) { return 1 / std::sqrt(x); });
  return def;
}

const OpDef& sin_op() {
  static const OpDef def = unary_float("sin", [](auto x) { return std::sin(x); });
  return def;
}

const OpDef& cos_op() {
  static const OpDef def = unary_float("cos", [](auto x) { return std::cos(x); });
  return def;
}

const OpDef& tan_op() {
  static const OpDef def = unary_float("tan", [](auto x) { return std::tan(x); });
  return def;
}

const OpDef& asin_op() {
  static const OpDef def = unary_float("asin", [](auto x) { return std::asin(x); });
  return def;
}

const OpDef& acos_op() {
  static const OpDef def = unary_float("acos", [](auto x) { return std::acos(x); });
  return def;
}

const OpDef& atan_op() {
  static const OpDef def = unary_float("atan", [](auto x) { return std::atan(x); });
  return def;
}

const OpDef& atan2_op() {
  static const OpDef def = binary_float("atan2", [](auto a, auto b) { return std::atan2(a, b); });
  return def;
}

const OpDef& sinh_op() {
  static const OpDef def = unary_float("sinh", [](auto x) { return std::sinh(x); });
  return def;
}

const OpDef& cosh_op() {
  static const OpDef def = unary_float("cosh", [](auto x) { return std::cosh(x); });
  return def;
}

const OpDef& tanh_op() {
  static const OpDef def = unary_float("tanh", [](auto x) { return std::tanh(x); });
  return def;
}

// Both are written to stay finite for large |x|: see elementwise_scalar.hpp.
const OpDef& sigmoid_op() {
  static const OpDef def = unary_float("sigmoid", [](auto x) { return sigmoid_of(x); });
  return def;
}

const OpDef& softplus_op() {
  static const OpDef def = unary_float("softplus", [](auto x) { return softplus_of(x); });
  return def;
}

const OpDef& erf_op() {
  static const OpDef def = unary_float("erf", [](auto x) { return std::erf(x); });
  return def;
}

const OpDef& erfc_op() {
  static const OpDef def = unary_float("erfc", [](auto x) { return std::erfc(x); });
  return def;
}

// Rounding is the identity on integers, so the user functions never build these for them.
const OpDef& floor_op() {
  static const OpDef def = unary_float("floor", [](auto x) { return std::floor(x); });
  return def;
}

const OpDef& ceil_op() {
  static const OpDef def = unary_float("ceil", [](auto x) { return std::ceil(x); });
  return def;
}

const OpDef& round_op() {
  static const OpDef def = unary_float("round", [](auto x) { return round_half_even(x); });
  return def;
}

const OpDef& trunc_op() {
  static const OpDef def = unary_float("trunc", [](auto x) { return std::trunc(x); });
  return def;
}

// --- min/max, comparisons, logic and predicates: any dtype ---------------------------------

const OpDef& minimum_op() {
  static const OpDef def = binary_any("minimum", [](auto a, auto b) { return minimum_of(a, b); });
  return def;
}

const OpDef& maximum_op() {
  static const OpDef def = binary_any("maximum", [](auto a, auto b) { return maximum_of(a, b); });
  return def;
}

const OpDef& eq_op() {
  static const OpDef def = comparison("eq", [](auto a, auto b) { return a == b; });
  return def;
}

const OpDef& neq_op() {
  static const OpDef def = comparison("neq", [](auto a, auto b) { return a != b; });
  return def;
}

const OpDef& lt_op() {
  static const OpDef def = comparison("lt", [](auto a, auto b) { return a < b; });
  return def;
}

const OpDef& le_op() {
  static const OpDef def = comparison("le", [](auto a, auto b) { return a <= b; });
  return def;
}

const OpDef& gt_op() {
  static const OpDef def = comparison("gt", [](auto a, auto b) { return a > b; });
  return def;
}

const OpDef& ge_op() {
  static const OpDef def = comparison("ge", [](auto a, auto b) { return a >= b; });
  return def;
}

const OpDef& logical_not_op() {
  static const OpDef def = unary_logical("logical_not", [](bool x) { return !x; });
  return def;
}

const OpDef& logical_and_op() {
  static const OpDef def = binary_logical("logical_and", [](bool a, bool b) { return a && b; });
  return def;
}

const OpDef& logical_or_op() {
  static const OpDef def = binary_logical("logical_or", [](bool a, bool b) { return a || b; });
  return def;
}

const OpDef& logical_xor_op() {
  static const OpDef def = binary_logical("logical_xor", [](bool a, bool b) { return a != b; });
  return def;
}

// Integers are never NaN or infinite.
const OpDef& isnan_op() {
  static const OpDef def = unary_predicate("isnan", [](auto x) {
    if constexpr (std::is_floating_point_v<decltype(x)>) return std::isnan(x);
    else return false;
  });
  return def;
}

const OpDef& isinf_op() {
  static const OpDef def = unary_predicate("isinf", [](auto x) {
    if constexpr (std::is_floating_point_v<decltype(x)>) return std::isinf(x);
    else return false;
  });
  return def;
}

// --- selection -----------------------------------------------------------------------------

// where(cond, a, b): cond is bool, a and b share a dtype; all three broadcast together.
const OpDef& where_op() {
  static const OpDef def{
      .name = "where",
      .family = OpFamily::Elementwise,
      .min_inputs = 3,
      .max_inputs = 3,
      .infer =
          [](const InferArgs& a) {
            if (a.input(0).dtype != DType::Bool)
              a.fail(fmt::format("the condition must be bool, got {}", a.input(0).str()));
            if (a.input(1).dtype != a.input(2).dtype)
              a.fail(fmt::format("both branches must share one dtype, got {} and {}",
                                 a.input(1).str(), a.input(2).str()));
            return std::vector<TensorType>{{a.input(1).dtype, broadcast_static_shapes(a)}};
          },
      .eval =
          [](const EvalArgs& a) {
            Array out = visit_dtype(a.inputs[1].dtype(), [&](auto tag) {
              using T = typename decltype(tag)::type;
              return map_elements<T, bool, T, T>(a, [](bool c, T x, T y) { return c ? x : y; });
            });
            return std::vector<Array>{out};
          },
      .grad = {},  // gradients are a later facet
  };
  return def;
}

}  // namespace cgvm::ops
