// The user functions of the elementwise family (symbolic/elementwise.hpp): they resolve weak
// scalars and dtype promotion, insert the casts, and apply the strict primitive ops of
// elementwise.cpp. All normalisation happens here, before apply(), so that hash-consing sees
// canonical nodes.
#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "runtime/log.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

// How an op's compute dtype follows from the operands' common dtype.
enum class Rule {
  Keep,        // comparisons, minimum/maximum, where, isnan/isinf
  Arithmetic,  // bool computes in int64 (True + True = 2)
  Float,       // integers and bool compute in the default float
};

DType apply_rule(Rule rule, DType dtype) {
  if (rule == Rule::Arithmetic && is_bool(dtype)) return DType::Int64;
  if (rule == Rule::Float && !is_float(dtype)) return default_float;
  return dtype;
}

bool is_float_literal(const Operand& o) { return o.is_scalar() && !o.scalar_is_integer; }
bool is_int_literal(const Operand& o) {
  return o.is_scalar() && o.scalar_is_integer && !o.scalar_is_bool;
}

// A literal's own dtype, used only when no tensor operand gives it one.
DType literal_dtype(const Operand& o) {
  if (o.scalar_is_bool) return DType::Bool;
  return o.scalar_is_integer ? DType::Int64 : default_float;
}

// "float64 upcast" is reported once per source line, so a loop does not flood the log.
void report_upcast(std::string_view op, const TensorType& f32, const TensorType& f64,
                   const std::source_location& loc) {
  static std::mutex mutex;
  static std::set<std::pair<std::string, std::uint_least32_t>> reported;
  {
    std::lock_guard lock(mutex);
    if (!reported.emplace(loc.file_name(), loc.line()).second) return;
  }
  warn(fmt::format("float64 upcast: {} of {} and {} at {}", op, f32.str(), f64.str(),
                   format_location(loc)));
}

// The operands as Vars of one dtype: tensors promote with runtime/dtype.hpp's promote(); weak
// literals take the tensors' dtype, except that a float literal makes an integer or bool
// result the default float, and an integer literal makes a bool result int64. `rule` then
// adjusts the common dtype for the op.
std::vector<Var> unify(std::string_view op, std::initializer_list<const Operand*> operands,
                       Rule rule, const std::source_location& loc) {
  std::optional<DType> common;
  const TensorType* f32 = nullptr;
  const TensorType* f64 = nullptr;
  bool float_literal = false, int_literal = false;
  for (const Operand* o : operands)
    if (!o->is_scalar() && o->var.is_null())
      throw_error(op, "an operand is a null Var (default-constructed)", loc);
  for (const Operand* o : operands) {
    float_literal |= is_float_literal(*o);
    int_literal |= is_int_literal(*o);
    if (o->is_scalar()) continue;
    const TensorType& t = o->var.type();
    common = common ? promote(*common, t.dtype) : t.dtype;
    if (t.dtype == DType::Float32 && !f32) f32 = &t;
    if (t.dtype == DType::Float64 && !f64) f64 = &t;
  }
  if (!common) {
    for (const Operand* o : operands)
      common = common ? promote(*common, literal_dtype(*o)) : literal_dtype(*o);
  } else if (float_literal && !is_float(*common)) {
    common = default_float;
  } else if (int_literal && is_bool(*common)) {
    common = DType::Int64;
  }
  if (f32 && f64) report_upcast(op, *f32, *f64, loc);
  const DType dtype = apply_rule(rule, *common);

  std::vector<Var> vars;
  for (const Operand* o : operands)
    vars.push_back(o->is_scalar() ? constant(o->scalar, dtype, loc) : cast(o->var, dtype, loc));
  return vars;
}

void check_not_null(const OpDef& op, const Var& x, const std::source_location& loc) {
  if (x.is_null()) throw_error(op.name, "the input is a null Var (default-constructed)", loc);
}

Var unary(const OpDef& op, Rule rule, const Var& x, const std::source_location& loc) {
  check_not_null(op, x, loc);
  return apply(op, {cast(x, apply_rule(rule, x.dtype()), loc)}, {}, loc);
}

// floor(int_x) is int_x itself: rounding is the identity on integers and bool.
Var rounding(const OpDef& op, const Var& x, const std::source_location& loc) {
  check_not_null(op, x, loc);
  return is_float(x.dtype()) ? apply(op, {x}, {}, loc) : x;
}

Var binary(const OpDef& op, Rule rule, const Operand& a, const Operand& b,
           const std::source_location& loc) {
  std::vector<Var> v = unify(op.name, {&a, &b}, rule, loc);
  return apply(op, std::move(v), {}, loc);
}

// Logic takes bool: anything else is compared with 0 first (numpy's truthiness).
Var as_bool(const Operand& o, const std::source_location& loc) {
  if (o.is_scalar()) return constant(o.scalar != 0 ? 1.0 : 0.0, DType::Bool, loc);
  if (o.var.is_null()) throw_error("logical", "an operand is a null Var (default-constructed)", loc);
  return is_bool(o.var.dtype()) ? o.var : neq(o.var, 0, loc);
}

Var logical(const OpDef& op, const Operand& a, const Operand& b,
            const std::source_location& loc) {
  return apply(op, {as_bool(a, loc), as_bool(b, loc)}, {}, loc);
}

// Operators cannot take a location argument: the operands captured it where they were
// converted, i.e. on the user's line. A scalar on the left defers to the right operand.
const std::source_location& operator_loc(const Operand& a, const Operand& b) {
  return a.is_scalar() ? b.loc : a.loc;
}

}  // namespace

Operand::Operand(const Array& a, std::source_location l)
    : var(constant(a, l)), from_var(true), loc(l) {}

Var Var::astype(DType dtype, std::source_location loc) const { return cast(*this, dtype, loc); }

Var cast(const Var& x, DType dtype, std::source_location loc) {
  check_not_null(ops::cast_op(), x, loc);
  if (x.dtype() == dtype) return x;  // cast to the same dtype -> x
  return apply(ops::cast_op(), {x}, Attrs{{"dtype", dtype}}, loc);
}

// --- named unary functions ---------------------------------------------------------------

#define CGVM_UNARY(name, rule) \
  Var name(const Var& x, std::source_location loc) { return unary(ops::name##_op(), rule, x, loc); }
CGVM_UNARY(neg, Rule::Arithmetic)
CGVM_UNARY(abs, Rule::Arithmetic)
CGVM_UNARY(sign, Rule::Arithmetic)
CGVM_UNARY(sqr, Rule::Arithmetic)
CGVM_UNARY(exp, Rule::Float)
CGVM_UNARY(exp2, Rule::Float)
CGVM_UNARY(expm1, Rule::Float)
CGVM_UNARY(log, Rule::Float)
CGVM_UNARY(log2, Rule::Float)
CGVM_UNARY(log10, Rule::Float)
CGVM_UNARY(log1p, Rule::Float)
CGVM_UNARY(sqrt, Rule::Float)
CGVM_UNARY(rsqrt, Rule::Float)
CGVM_UNARY(sin, Rule::Float)
CGVM_UNARY(cos, Rule::Float)
CGVM_UNARY(tan, Rule::Float)
CGVM_UNARY(asin, Rule::Float)
CGVM_UNARY(acos, Rule::Float)
CGVM_UNARY(atan, Rule::Float)
CGVM_UNARY(sinh, Rule::Float)
CGVM_UNARY(cosh, Rule::Float)
CGVM_UNARY(tanh, Rule::Float)
CGVM_UNARY(sigmoid, Rule::Float)
CGVM_UNARY(softplus, Rule::Float)
CGVM_UNARY(erf, Rule::Float)
CGVM_UNARY(erfc, Rule::Float)
CGVM_UNARY(isnan, Rule::Keep)
CGVM_UNARY(isinf, Rule::Keep)
#undef CGVM_UNARY

Var floor(const Var& x, std::source_location loc) { return rounding(ops::floor_op(), x, loc); }
Var ceil(const Var& x, std::source_location loc) { return rounding(ops::ceil_op(), x, loc); }
Var round(const Var& x, std::source_location loc) { return rounding(ops::round_op(), x, loc); }
Var trunc(const Var& x, std::source_location loc) { return rounding(ops::trunc_op(), x, loc); }

Var logical_not(const Var& x, std::source_location loc) {
  check_not_null(ops::logical_not_op(), x, loc);
  return apply(ops::logical_not_op(), {as_bool(x, loc)}, {}, loc);
}

// --- named binary functions ----------------------------------------------------------------

#define CGVM_BINARY(name, rule)                                                \
  Var name(const Operand& a, const Operand& b, std::source_location loc) {     \
    return binary(ops::name##_op(), rule, a, b, loc);                          \
  }
CGVM_BINARY(add, Rule::Arithmetic)
CGVM_BINARY(sub, Rule::Arithmetic)
CGVM_BINARY(mul, Rule::Arithmetic)
CGVM_BINARY(floor_div, Rule::Arithmetic)
CGVM_BINARY(mod, Rule::Arithmetic)
CGVM_BINARY(pow, Rule::Arithmetic)
CGVM_BINARY(true_div, Rule::Float)
CGVM_BINARY(atan2, Rule::Float)
CGVM_BINARY(minimum, Rule::Keep)
CGVM_BINARY(maximum, Rule::Keep)
CGVM_BINARY(eq, Rule::Keep)
CGVM_BINARY(neq, Rule::Keep)
CGVM_BINARY(lt, Rule::Keep)
CGVM_BINARY(le, Rule::Keep)
CGVM_BINARY(gt, Rule::Keep)
CGVM_BINARY(ge, Rule::Keep)
#undef CGVM_BINARY

Var logical_and(const Operand& a, const Operand& b, std::source_location loc) {
  return logical(ops::logical_and_op(), a, b, loc);
}
Var logical_or(const Operand& a, const Operand& b, std::source_location loc) {
  return logical(ops::logical_or_op(), a, b, loc);
}
Var logical_xor(const Operand& a, const Operand& b, std::source_location loc) {
  return logical(ops::logical_xor_op(), a, b, loc);
}

Var where(const Operand& cond, const Operand& a, const Operand& b, std::source_location loc) {
  Var c = as_bool(cond, loc);
  std::vector<Var> v = unify("where", {&a, &b}, Rule::Keep, loc);
  return apply(ops::where_op(), {c, v[0], v[1]}, {}, loc);
}

Var clip(const Var& x, const Operand& lo, const Operand& hi, std::source_location loc) {
  return minimum(maximum(x, lo, loc), hi, loc);
}

// --- operators -------------------------------------------------------------------------------

Var operator+(const Operand& a, const Operand& b) { return add(a, b, operator_loc(a, b)); }
Var operator-(const Operand& a, const Operand& b) { return sub(a, b, operator_loc(a, b)); }
Var operator*(const Operand& a, const Operand& b) { return mul(a, b, operator_loc(a, b)); }
Var operator/(const Operand& a, const Operand& b) { return true_div(a, b, operator_loc(a, b)); }
Var operator%(const Operand& a, const Operand& b) { return mod(a, b, operator_loc(a, b)); }
Var operator<(const Operand& a, const Operand& b) { return lt(a, b, operator_loc(a, b)); }
Var operator<=(const Operand& a, const Operand& b) { return le(a, b, operator_loc(a, b)); }
Var operator>(const Operand& a, const Operand& b) { return gt(a, b, operator_loc(a, b)); }
Var operator>=(const Operand& a, const Operand& b) { return ge(a, b, operator_loc(a, b)); }
Var operator&(const Operand& a, const Operand& b) {
  return logical_and(a, b, operator_loc(a, b));
}
Var operator|(const Operand& a, const Operand& b) {
  return logical_or(a, b, operator_loc(a, b));
}
Var operator^(const Operand& a, const Operand& b) {
  return logical_xor(a, b, operator_loc(a, b));
}
Var operator-(const VarAt& x) { return neg(x.var, x.loc); }
Var operator~(const VarAt& x) { return logical_not(x.var, x.loc); }

}  // namespace cgvm
