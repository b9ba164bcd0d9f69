#pragma once
// Elementwise ops: arithmetic, math functions, comparisons, logic, casts and where.
//
// Broadcasting follows Theano's model (symbolic/type.hpp): only dimensions of static size 1
// stretch; ranks align to the right (the shorter operand gets leading size-1 dims). Two
// static sizes that differ, neither 1, are an Error when the node is built ("cannot
// broadcast float32[3, 4] with float32[5]"); unknown vs static k gives k; two unknown dims
// must agree when the graph runs (an unknown dim that turns out to be 1 does not stretch).
//
// Dtypes. The primitive ops take inputs of one dtype; these functions promote operands
// (runtime/dtype.hpp promote()) by inserting cast nodes. A float32 tensor meeting a float64
// tensor gives float64 and is reported once per source line through cgvm::warn ("float64
// upcast: add of float32[?] and float64[3] at file:line"). C++ number literals are *weak*:
// they take the tensor's dtype (x * 2.0 stays float32 when x is float32), except that a
// float literal with an integer or bool tensor gives the default float (float32), and an
// integer literal with a bool tensor gives int64; literals alone are int64, bool or the
// default float. An integer literal that does not fit the tensor's dtype wraps. An Array
// operand is a constant tensor, not weak.
//
// Op by op:
//   - arithmetic (+ - * % floor_div pow neg abs sign sqr) on bool computes in int64
//     (True + True = 2); integers keep their dtype and wrap on overflow like numpy;
//   - float math (exp, log, sqrt, trig, sigmoid, softplus, erf, true division, atan2) on
//     integers or bool computes in the default float; sigmoid and softplus stay finite for
//     any |x|;
//   - floor_div and mod follow Python (floor; mod takes the divisor's sign); integer
//     division or mod by zero gives 0 (no trap); float division by zero gives inf/NaN;
//   - pow on integers with a negative exponent gives 0, except for the bases 1 and -1;
//   - minimum/maximum propagate NaN; sign gives -1/0/1 and keeps NaN; round is half to
//     even; floor/ceil/round/trunc of an integer or bool tensor return that Var itself;
//   - comparisons, logic and isnan/isinf give bool; logic on non-bool operands compares
//     them with 0 first; isnan/isinf of integers are false.
// Operators record the user's line through their Operand arguments (the first tensor
// operand's); unary - and ~ likewise through VarAt. Logical not is ~ (numpy's spelling),
// not !, so that `if (!v)` on a Var cannot silently build a node.
#include <concepts>
#include <source_location>
#include <type_traits>

#include "symbolic/node.hpp"

namespace cgvm {

// An operand of a binary elementwise op: a Var, a weak scalar literal, or an Array (made a
// constant). It records the call site, since operators cannot take default arguments.
struct Operand {
  Var var;  // null for a scalar
  bool from_var = false;  // built from a Var (or an Array): a null one is an Error, not 0
  double scalar = 0;
  bool scalar_is_integer = false;
  bool scalar_is_bool = false;
  std::source_location loc;

  Operand(const Var& v, std::source_location l = std::source_location::current())
      : var(v), from_var(true), loc(l) {}
  Operand(const Array& a, std::source_location l = std::source_location::current());
  template <class S>
    requires std::is_arithmetic_v<S>
  Operand(S s, std::source_location l = std::source_location::current())
      : scalar(static_cast<double>(s)),
        scalar_is_integer(std::is_integral_v<S>),
        scalar_is_bool(std::is_same_v<S, bool>),
        loc(l) {}
  bool is_scalar() const { return !from_var; }
};

// Arithmetic. `/` is true division (integers give the default float); floor_div and mod
// follow Python (mod takes the sign of the divisor).
Var operator+(const Operand& a, const Operand& b);
Var operator-(const Operand& a, const Operand& b);
Var operator*(const Operand& a, const Operand& b);
Var operator/(const Operand& a, const Operand& b);
Var operator%(const Operand& a, const Operand& b);
// The operand of a unary operator, with the call site.
struct VarAt {
  Var var;
  std::source_location loc;
  VarAt(const Var& v, std::source_location l = std::source_location::current())
      : var(v), loc(l) {}
};
Var operator-(const VarAt& x);
// Comparisons give bool tensors. == and != are not overloaded (Var identity); use eq/neq.
Var operator<(const Operand& a, const Operand& b);
Var operator<=(const Operand& a, const Operand& b);
Var operator>(const Operand& a, const Operand& b);
Var operator>=(const Operand& a, const Operand& b);
// Logic on bool tensors (other dtypes are compared with 0 first).
Var operator&(const Operand& a, const Operand& b);
Var operator|(const Operand& a, const Operand& b);
Var operator^(const Operand& a, const Operand& b);
Var operator~(const VarAt& x);  // logical_not

#define CGVM_BINARY_FN(name)                                  \
  Var name(const Operand& a, const Operand& b,                \
           std::source_location loc = std::source_location::current());
CGVM_BINARY_FN(add)
CGVM_BINARY_FN(sub)
CGVM_BINARY_FN(mul)
CGVM_BINARY_FN(true_div)
CGVM_BINARY_FN(floor_div)
CGVM_BINARY_FN(mod)
CGVM_BINARY_FN(pow)
CGVM_BINARY_FN(atan2)
CGVM_BINARY_FN(minimum)
CGVM_BINARY_FN(maximum)
CGVM_BINARY_FN(eq)
CGVM_BINARY_FN(neq)
CGVM_BINARY_FN(lt)
CGVM_BINARY_FN(le)
CGVM_BINARY_FN(gt)
CGVM_BINARY_FN(ge)
CGVM_BINARY_FN(logical_and)
CGVM_BINARY_FN(logical_or)
CGVM_BINARY_FN(logical_xor)
#undef CGVM_BINARY_FN

#define CGVM_UNARY_FN(name) \
  Var name(const Var& x, std::source_location loc = std::source_location::current());
CGVM_UNARY_FN(neg)
CGVM_UNARY_FN(abs)
CGVM_UNARY_FN(sign)
CGVM_UNARY_FN(exp)
CGVM_UNARY_FN(exp2)
CGVM_UNARY_FN(expm1)
CGVM_UNARY_FN(log)
CGVM_UNARY_FN(log2)
CGVM_UNARY_FN(log10)
CGVM_UNARY_FN(log1p)
CGVM_UNARY_FN(sqrt)
CGVM_UNARY_FN(rsqrt)
CGVM_UNARY_FN(sqr)
CGVM_UNARY_FN(sin)
CGVM_UNARY_FN(cos)
CGVM_UNARY_FN(tan)
CGVM_UNARY_FN(asin)
CGVM_UNARY_FN(acos)
CGVM_UNARY_FN(atan)
CGVM_UNARY_FN(sinh)
CGVM_UNARY_FN(cosh)
CGVM_UNARY_FN(tanh)
CGVM_UNARY_FN(sigmoid)
CGVM_UNARY_FN(softplus)
CGVM_UNARY_FN(erf)
CGVM_UNARY_FN(erfc)
CGVM_UNARY_FN(floor)
CGVM_UNARY_FN(ceil)
CGVM_UNARY_FN(round)  // half to even, like numpy
CGVM_UNARY_FN(trunc)
CGVM_UNARY_FN(logical_not)
CGVM_UNARY_FN(isnan)
CGVM_UNARY_FN(isinf)
#undef CGVM_UNARY_FN

// Converts to `dtype` (C conversion rules; float -> integer truncates toward zero; anything
// -> bool is != 0). A cast to the same dtype returns x.
Var cast(const Var& x, DType dtype, std::source_location loc = std::source_location::current());
// cond ? a : b elementwise (both sides are computed; see ifelse for the lazy form).
Var where(const Operand& cond, const Operand& a, const Operand& b,
          std::source_location loc = std::source_location::current());
// Theano's name for where.
inline Var switch_(const Operand& cond, const Operand& a, const Operand& b,
                   std::source_location loc = std::source_location::current()) {
  return where(cond, a, b, loc);
}
// minimum(maximum(x, lo), hi).
Var clip(const Var& x, const Operand& lo, const Operand& hi,
         std::source_location loc = std::source_location::current());

// Type inference shared by every elementwise op: the broadcast static shape of `types`, or
// a failure through `args` naming the dimension that does not match.
Shape broadcast_static_shapes(const struct InferArgs& args);

}  // namespace cgvm
