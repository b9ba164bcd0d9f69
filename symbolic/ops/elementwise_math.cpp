// The elementwise family's float math functions, split from elementwise.cpp (which documents
// the family) only to keep files short: exp and log, roots, trigonometric and hyperbolic
// functions, sigmoid, softplus, erf, and rounding. Integer inputs were cast to the default
// float by the user functions; a gradient rule derives each output's slope (grad.hpp).
#include <cmath>
#include <numbers>

#include "symbolic/op_list.hpp"
#include "symbolic/ops/elementwise_kernel.hpp"
#include "symbolic/ops/elementwise_scalar.hpp"

namespace cgvm::ops {
using namespace detail;

namespace {
// Never evaluates exp of a large positive number, so no overflow for any x.
template <class T> T sigmoid_of(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); NaN stays NaN.
template <class T> T softplus_of(T x) {
  return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}
}  // namespace

namespace {

// 2 exp(-x^2) / sqrt(pi): the slope of erf, and minus that of erfc.
Var erf_slope(const Var& x, const std::source_location& l) {
  return mul(exp(neg(sqr(x, l), l), l), 2 * std::numbers::inv_sqrtpi, l);
}

// 1 / sqrt(1 - x^2): the slope of asin, and minus that of acos.
Var asin_slope(const Var& x, const std::source_location& l) {
  return rsqrt(sub(1, sqr(x, l), l), l);
}

}  // namespace

// d/dx exp(x) = exp(x)
const OpDef& exp_op() {
  static const OpDef def = unary_float(
      "exp", [](auto x) { return std::exp(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, d.y, d.l); })).emitting(emit_call("cgm::exp"));
  return def;
}

// d/dx 2^x = 2^x ln 2
const OpDef& exp2_op() {
  static const OpDef def = unary_float(
      "exp2", [](auto x) { return std::exp2(x); }, unary_grad([](const UnaryGrad& d) {
        return mul(d.g, mul(d.y, std::numbers::ln2, d.l), d.l);
      })).emitting(emit_call("cgm::exp2"));
  return def;
}

// d/dx (exp(x) - 1) = exp(x) = y + 1
const OpDef& expm1_op() {
  static const OpDef def = unary_float(
      "expm1", [](auto x) { return std::expm1(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, add(d.y, 1, d.l), d.l); })).emitting(emit_call("cgm::expm1"));
  return def;
}

// d/dx log(x) = 1/x
const OpDef& log_op() {
  static const OpDef def = unary_float(
      "log", [](auto x) { return std::log(x); },
      unary_grad([](const UnaryGrad& d) { return true_div(d.g, d.x, d.l); })).emitting(emit_call("cgm::log"));
  return def;
}

// d/dx log2(x) = 1/(x ln 2)
const OpDef& log2_op() {
  static const OpDef def = unary_float(
      "log2", [](auto x) { return std::log2(x); }, unary_grad([](const UnaryGrad& d) {
        return true_div(d.g, mul(d.x, std::numbers::ln2, d.l), d.l);
      })).emitting(emit_call("cgm::log2"));
  return def;
}

// d/dx log10(x) = 1/(x ln 10)
const OpDef& log10_op() {
  static const OpDef def = unary_float(
      "log10", [](auto x) { return std::log10(x); }, unary_grad([](const UnaryGrad& d) {
        return true_div(d.g, mul(d.x, std::numbers::ln10, d.l), d.l);
      })).emitting(emit_call("cgm::log10"));
  return def;
}

// d/dx log(1 + x) = 1/(1 + x)
const OpDef& log1p_op() {
  static const OpDef def = unary_float(
      "log1p", [](auto x) { return std::log1p(x); },
      unary_grad([](const UnaryGrad& d) { return true_div(d.g, add(d.x, 1, d.l), d.l); })).emitting(emit_call("cgm::log1p"));
  return def;
}

// d/dx sqrt(x) = 1/(2 sqrt(x))
const OpDef& sqrt_op() {
  static const OpDef def = unary_float(
      "sqrt", [](auto x) { return std::sqrt(x); },
      unary_grad([](const UnaryGrad& d) { return true_div(d.g, mul(d.y, 2, d.l), d.l); })).emitting(emit_call("detail::sqrt_"));
  return def;
}

// d/dx x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2
const OpDef& rsqrt_op() {
  static const OpDef def = unary_float(
      "rsqrt", [](auto x) { return 1 / std::sqrt(x); }, unary_grad([](const UnaryGrad& d) {
        return mul(d.g, mul(mul(sqr(d.y, d.l), d.y, d.l), -0.5, d.l), d.l);
      })).emitting([](const EmitArgs& a) { return "(" + std::string(a.out_type) + "(1) / detail::sqrt_(" + a[0] + "))"; });
  return def;
}

// d/dx sin(x) = cos(x)
const OpDef& sin_op() {
  static const OpDef def = unary_float(
      "sin", [](auto x) { return std::sin(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, cos(d.x, d.l), d.l); })).emitting(emit_call("cgm::sin"));
  return def;
}

// d/dx cos(x) = -sin(x)
const OpDef& cos_op() {
  static const OpDef def = unary_float(
      "cos", [](auto x) { return std::cos(x); },
      unary_grad([](const UnaryGrad& d) { return neg(mul(d.g, sin(d.x, d.l), d.l), d.l); })).emitting(emit_call("cgm::cos"));
  return def;
}

// d/dx tan(x) = 1 + tan(x)^2
const OpDef& tan_op() {
  static const OpDef def = unary_float(
      "tan", [](auto x) { return std::tan(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, add(sqr(d.y, d.l), 1, d.l), d.l); })).emitting(emit_call("cgm::tan"));
  return def;
}

// d/dx asin(x) = 1/sqrt(1 - x^2)
const OpDef& asin_op() {
  static const OpDef def = unary_float(
      "asin", [](auto x) { return std::asin(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, asin_slope(d.x, d.l), d.l); })).emitting(emit_call("cgm::asin"));
  return def;
}

// d/dx acos(x) = -1/sqrt(1 - x^2)
const OpDef& acos_op() {
  static const OpDef def = unary_float(
      "acos", [](auto x) { return std::acos(x); },
      unary_grad([](const UnaryGrad& d) { return neg(mul(d.g, asin_slope(d.x, d.l), d.l), d.l); })).emitting(emit_call("cgm::acos"));
  return def;
}

// d/dx atan(x) = 1/(1 + x^2)
const OpDef& atan_op() {
  static const OpDef def = unary_float(
      "atan", [](auto x) { return std::atan(x); }, unary_grad([](const UnaryGrad& d) {
        return true_div(d.g, add(sqr(d.x, d.l), 1, d.l), d.l);
      })).emitting(emit_call("cgm::atan"));
  return def;
}

// d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2); NaN at the origin.
const OpDef& atan2_op() {
  static const OpDef def = binary_float(
      "atan2", [](auto a, auto b) { return std::atan2(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        Var g_over_r2 = true_div(d.g, add(sqr(d.a, d.l), sqr(d.b, d.l), d.l), d.l);
        return {mul(g_over_r2, d.b, d.l), neg(mul(g_over_r2, d.a, d.l), d.l)};
      })).emitting(emit_call("cgm::atan2"));
  return def;
}

// d/dx sinh(x) = cosh(x)
const OpDef& sinh_op() {
  static const OpDef def = unary_float(
      "sinh", [](auto x) { return std::sinh(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, cosh(d.x, d.l), d.l); })).emitting(emit_call("cgm::sinh"));
  return def;
}

// d/dx cosh(x) = sinh(x)
const OpDef& cosh_op() {
  static const OpDef def = unary_float(
      "cosh", [](auto x) { return std::cosh(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, sinh(d.x, d.l), d.l); })).emitting(emit_call("cgm::cosh"));
  return def;
}

// d/dx tanh(x) = 1 - tanh(x)^2
const OpDef& tanh_op() {
  static const OpDef def = unary_float(
      "tanh", [](auto x) { return std::tanh(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, sub(1, sqr(d.y, d.l), d.l), d.l); })).emitting(emit_call("cgm::tanh"));
  return def;
}

// Both are written to stay finite for large |x|: see elementwise_scalar.hpp.
// d/dx sigmoid(x) = sigmoid(x) sigmoid(-x); 1 - y would round to 0 for large x
const OpDef& sigmoid_op() {
  static const OpDef def = unary_float(
      "sigmoid", [](auto x) { return sigmoid_of(x); }, unary_grad([](const UnaryGrad& d) {
        return mul(d.g, mul(d.y, sigmoid(neg(d.x, d.l), d.l), d.l), d.l);
      })).emitting(emit_call("cgm::sigmoid"));
  return def;
}

// d/dx log(1 + exp(x)) = sigmoid(x)
const OpDef& softplus_op() {
  static const OpDef def = unary_float(
      "softplus", [](auto x) { return softplus_of(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, sigmoid(d.x, d.l), d.l); })).emitting(emit_call("cgm::softplus"));
  return def;
}

// d/dx erf(x) = 2 exp(-x^2) / sqrt(pi)
const OpDef& erf_op() {
  static const OpDef def = unary_float(
      "erf", [](auto x) { return std::erf(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, erf_slope(d.x, d.l), d.l); })).emitting(emit_call("cgm::erf"));
  return def;
}

// d/dx erfc(x) = -2 exp(-x^2) / sqrt(pi)
const OpDef& erfc_op() {
  static const OpDef def = unary_float(
      "erfc", [](auto x) { return std::erfc(x); },
      unary_grad([](const UnaryGrad& d) { return neg(mul(d.g, erf_slope(d.x, d.l), d.l), d.l); })).emitting(emit_call("cgm::erfc"));
  return def;
}

// Rounding is the identity on integers, so the user functions never build these for them.
// d/dx = 0 for all four (piecewise constant)
const OpDef& floor_op() {
  static const OpDef def = unary_float(
      "floor", [](auto x) { return std::floor(x); }, zero_grad()).emitting(emit_call("detail::floor_"));
  return def;
}

const OpDef& ceil_op() {
  static const OpDef def = unary_float(
      "ceil", [](auto x) { return std::ceil(x); }, zero_grad()).emitting(emit_call("detail::ceil_"));
  return def;
}

const OpDef& round_op() {
  static const OpDef def = unary_float(
      "round", [](auto x) { return round_half_even(x); }, zero_grad()).emitting(emit_call("detail::round_half_even"));
  return def;
}

const OpDef& trunc_op() {
  static const OpDef def = unary_float(
      "trunc", [](auto x) { return std::trunc(x); }, zero_grad()).emitting(emit_call("detail::trunc_"));
  return def;
}

}  // namespace cgvm::ops
