// The elementwise family: one definition block per op of CGVM_UNARY_OPS and
// CGVM_BINARY_OPS (symbolic/op_list.hpp). Most blocks are one builder call from
// elementwise_kernel.hpp around a scalar function; the semantics the functions implement
// (Python floor/mod, wrapping integers, NaN-propagating min/max...) are documented in
// symbolic/elementwise.hpp, and the non-trivial ones live in elementwise_scalar.hpp.
//
// The primitives are strict: one input dtype in the op's domain. Promotion, weak scalars and
// the bool/int-to-float rules happen in the user functions (elementwise_api.cpp), which insert
// `cast` nodes, so that every node a graph holds is already canonical.
//
// The float math functions (exp, log, trig, sigmoid, erf, rounding...) live in
// elementwise_math.cpp, only to keep files short.
//
// Gradients (symbolic/grad.hpp): each block passes its rule to the builder; a rule only runs
// for a float output, so the inputs of the same-dtype ops are float there too. Ops with
// integer or bool outputs (comparisons, logic, isnan, isinf) have none.
#include <fmt/format.h>

#include <cmath>

#include "runtime/cast.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/elementwise_kernel.hpp"
#include "symbolic/ops/elementwise_scalar.hpp"

namespace cgvm::ops {
using namespace detail;

// --- conversion ----------------------------------------------------------------------------

// attrs: dtype. Converts with runtime/cast.hpp's rule, the one every runtime copy uses.
// d/dx cast(x) = 1: the gradient is cast back to x's dtype (float -> float only: an integer
// or bool x carries no gradient, and a float -> integer cast's output never receives one).
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
      .grad =
          [](const GradArgs& a) {
            const Var& x = a.input(0);
            return std::vector<Var>{is_float(x.dtype()) ? cast(a.grad(), x.dtype(), a.loc())
                                                        : Var()};
          },
      .emit =
          [](const EmitArgs& a) {
            return "cgvm::cast_value<" + std::string(a.out_type) + ">(" + a[0] + ")";
          },
  };
  return def;
}

// --- arithmetic: integers wrap, bool never reaches them (the user functions use int64) -------

// d/dx -x = -1
const OpDef& neg_op() {
  static const OpDef def = unary_numeric(
      "neg", [](auto x) { return neg_of(x); },
      unary_grad([](const UnaryGrad& d) { return neg(d.g, d.l); })).emitting(emit_call("detail::neg_of"));
  return def;
}

// d/dx |x| = sign(x): 0 at x == 0 (grad.hpp)
const OpDef& abs_op() {
  static const OpDef def = unary_numeric(
      "abs", [](auto x) { return abs_of(x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, sign(d.x, d.l), d.l); })).emitting(emit_call("detail::abs_of"));
  return def;
}

// d/dx sign(x) = 0 (piecewise constant)
const OpDef& sign_op() {
  static const OpDef def = unary_numeric(
      "sign", [](auto x) { return sign_of(x); }, zero_grad()).emitting(emit_call("detail::sign_of"));
  return def;
}

// d/dx x^2 = 2x
const OpDef& sqr_op() {
  static const OpDef def = unary_numeric(
      "sqr", [](auto x) { return mul_of(x, x); },
      unary_grad([](const UnaryGrad& d) { return mul(d.g, mul(d.x, 2, d.l), d.l); })).emitting([](const EmitArgs& a) { return "detail::mul_of(" + a[0] + ", " + a[0] + ")"; });
  return def;
}

// d/da (a + b) = d/db (a + b) = 1
const OpDef& add_op() {
  static const OpDef def = binary_numeric(
      "add", [](auto a, auto b) { return add_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return {d.g, d.g};
      })).emitting(emit_call("detail::add_of"));
  return def;
}

// d/da (a - b) = 1, d/db (a - b) = -1
const OpDef& sub_op() {
  static const OpDef def = binary_numeric(
      "sub", [](auto a, auto b) { return sub_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return {d.g, neg(d.g, d.l)};
      })).emitting(emit_call("detail::sub_of"));
  return def;
}

// d/da ab = b, d/db ab = a
const OpDef& mul_op() {
  static const OpDef def = binary_numeric(
      "mul", [](auto a, auto b) { return mul_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return {mul(d.g, d.b, d.l), mul(d.g, d.a, d.l)};
      })).emitting(emit_call("detail::mul_of"));
  return def;
}

// Integer division and mod by zero give 0; see elementwise_scalar.hpp.
// d/da a/b = 1/b, d/db a/b = -a/b^2 = -y/b
const OpDef& true_div_op() {
  static const OpDef def = binary_float(
      "true_div", [](auto a, auto b) { return a / b; },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return {true_div(d.g, d.b, d.l), neg(mul(d.g, true_div(d.y, d.b, d.l), d.l), d.l)};
      })).emitting(emit_infix("/"));
  return def;
}

// d floor_div(a, b) = 0 (piecewise constant)
const OpDef& floor_div_op() {
  static const OpDef def = binary_numeric(
      "floor_div", [](auto a, auto b) { return floor_div_of(a, b); }, zero_grad()).emitting(emit_call("detail::floor_div_of"));
  return def;
}

// mod(a, b) = a - b floor(a/b): d/da = 1, d/db = -floor(a/b) (away from the jumps)
const OpDef& mod_op() {
  static const OpDef def = binary_numeric(
      "mod", [](auto a, auto b) { return mod_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return {d.g, neg(mul(d.g, floor_div(d.a, d.b, d.l), d.l), d.l)};
      })).emitting(emit_call("detail::mod_of"));
  return def;
}

// d/da a^b = b a^(b-1), d/db a^b = a^b log(a). Where the true value is finite but the formula
// is not, it is masked: d/da is 0 when b == 0 (also at a == 0, where a^-1 is inf), and d/db
// is 0 at a <= 0, where a^b is no differentiable function of b (real only at integer b for a
// < 0; 0 for every b > 0 at a == 0). The masked points compute with stand-ins (exponent 1,
// base 1) rather than being selected away afterwards, so that no inf or NaN reaches the
// unselected branch of a where at any order of differentiation.
const OpDef& pow_op() {
  static const OpDef def = binary_numeric(
      "pow",
      [](auto a, auto b) {
        if constexpr (std::is_floating_point_v<decltype(a)>) return std::pow(a, b);
        else return int_pow_of(a, b);
      },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        Var safe_b = where(eq(d.b, 0, d.l), 1, d.b, d.l);
        Var ga = mul(d.g, mul(d.b, pow(d.a, sub(safe_b, 1, d.l), d.l), d.l), d.l);
        Var positive = gt(d.a, 0, d.l);
        Var safe_a = where(positive, d.a, 1, d.l);
        Var slope_b = mul(pow(safe_a, d.b, d.l), log(safe_a, d.l), d.l);
        return {ga, where(positive, mul(d.g, slope_b, d.l), 0, d.l)};
      })).emitting([](const EmitArgs& a) {
        const char* f = is_float(a.in_dtype()) ? "cgm::pow(" : "detail::int_pow_of(";
        return f + a[0] + ", " + a[1] + ")";
      });
  return def;
}

// --- min/max, comparisons, logic and predicates: any dtype ---------------------------------

// d/da min(a, b) = [a <= b], d/db = [a > b]: at a tie all of it goes to a (grad.hpp)
const OpDef& minimum_op() {
  static const OpDef def = binary_any(
      "minimum", [](auto a, auto b) { return minimum_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return route(le(d.a, d.b, d.l), d.g, d.l);
      })).emitting(emit_call("detail::minimum_of"));
  return def;
}

// d/da max(a, b) = [a >= b], d/db = [a < b]: at a tie all of it goes to a (grad.hpp), so
// relu = maximum(0, x) has slope 0 at 0, and clip(x, lo, hi) = minimum(maximum(x, lo), hi)
// passes the gradient at both bounds
const OpDef& maximum_op() {
  static const OpDef def = binary_any(
      "maximum", [](auto a, auto b) { return maximum_of(a, b); },
      binary_grad([](const BinaryGrad& d) -> std::array<Var, 2> {
        return route(ge(d.a, d.b, d.l), d.g, d.l);
      })).emitting(emit_call("detail::maximum_of"));
  return def;
}

const OpDef& eq_op() {
  static const OpDef def = comparison("eq", [](auto a, auto b) { return a == b; }).emitting(emit_infix("=="));
  return def;
}

const OpDef& neq_op() {
  static const OpDef def = comparison("neq", [](auto a, auto b) { return a != b; }).emitting(emit_infix("!="));
  return def;
}

const OpDef& lt_op() {
  static const OpDef def = comparison("lt", [](auto a, auto b) { return a < b; }).emitting(emit_infix("<"));
  return def;
}

const OpDef& le_op() {
  static const OpDef def = comparison("le", [](auto a, auto b) { return a <= b; }).emitting(emit_infix("<="));
  return def;
}

const OpDef& gt_op() {
  static const OpDef def = comparison("gt", [](auto a, auto b) { return a > b; }).emitting(emit_infix(">"));
  return def;
}

const OpDef& ge_op() {
  static const OpDef def = comparison("ge", [](auto a, auto b) { return a >= b; }).emitting(emit_infix(">="));
  return def;
}

const OpDef& logical_not_op() {
  static const OpDef def = unary_logical("logical_not", [](bool x) { return !x; }).emitting([](const EmitArgs& a) { return "(!" + a[0] + ")"; });
  return def;
}

const OpDef& logical_and_op() {
  static const OpDef def = binary_logical("logical_and", [](bool a, bool b) { return a && b; }).emitting(emit_infix("&"));
  return def;
}

const OpDef& logical_or_op() {
  static const OpDef def = binary_logical("logical_or", [](bool a, bool b) { return a || b; }).emitting(emit_infix("|"));
  return def;
}

const OpDef& logical_xor_op() {
  static const OpDef def = binary_logical("logical_xor", [](bool a, bool b) { return a != b; }).emitting(emit_infix("!="));
  return def;
}

// Integers are never NaN or infinite.
const OpDef& isnan_op() {
  static const OpDef def = unary_predicate("isnan", [](auto x) { return isnan_(x); }).emitting(emit_call("detail::isnan_"));
  return def;
}

const OpDef& isinf_op() {
  static const OpDef def = unary_predicate("isinf", [](auto x) { return isinf_(x); }).emitting(emit_call("detail::isinf_"));
  return def;
}

// --- selection -----------------------------------------------------------------------------

// where(cond, a, b): cond is bool, a and b share a dtype; all three broadcast together.
// d/da = [cond], d/db = [!cond], each summed back to its branch's shape; cond gets none.
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
      .grad =
          [](const GradArgs& a) {
            std::array<Var, 2> g = route(a.input(0), a.grad(), a.loc());
            return std::vector<Var>{Var(), sum_to_shape(g[0], a.input(1).type(), a.loc()),
                                    sum_to_shape(g[1], a.input(2).type(), a.loc())};
          },
      .emit = [](const EmitArgs& a) { return "(" + a[0] + " ? " + a[1] + " : " + a[2] + ")"; },
  };
  return def;
}

}  // namespace cgvm::ops
