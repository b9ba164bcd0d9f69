#pragma once
// The list of primitive ops: one row per op, X(name, family). Each row has one definition
// block `const OpDef& <name>_op()` in symbolic/ops/<family>.cpp. Compositions (softmax,
// mean, logsumexp, ...) are not ops and are not listed.
#include <vector>

#include "symbolic/op_def.hpp"

#define CGVM_SOURCE_OPS(X) X(input, Source) X(constant, Source) X(shared, Source)

#define CGVM_UNARY_OPS(X)                                                                 \
  X(cast, Elementwise) X(neg, Elementwise) X(abs, Elementwise) X(sign, Elementwise)      \
  X(exp, Elementwise) X(exp2, Elementwise) X(expm1, Elementwise) X(log, Elementwise)     \
  X(log2, Elementwise) X(log10, Elementwise) X(log1p, Elementwise) X(sqrt, Elementwise)  \
  X(rsqrt, Elementwise) X(sqr, Elementwise) X(sin, Elementwise) X(cos, Elementwise)      \
  X(tan, Elementwise) X(asin, Elementwise) X(acos, Elementwise) X(atan, Elementwise)     \
  X(sinh, Elementwise) X(cosh, Elementwise) X(tanh, Elementwise) X(sigmoid, Elementwise) \
  X(softplus, Elementwise) X(erf, Elementwise) X(erfc, Elementwise)                      \
  X(floor, Elementwise) X(ceil, Elementwise) X(round, Elementwise) X(trunc, Elementwise) \
  X(logical_not, Elementwise) X(isnan, Elementwise) X(isinf, Elementwise)

#define CGVM_BINARY_OPS(X)                                                                \
  X(add, Elementwise) X(sub, Elementwise) X(mul, Elementwise) X(true_div, Elementwise)   \
  X(floor_div, Elementwise) X(mod, Elementwise) X(pow, Elementwise) X(atan2, Elementwise) \
  X(minimum, Elementwise) X(maximum, Elementwise) X(eq, Elementwise) X(neq, Elementwise) \
  X(lt, Elementwise) X(le, Elementwise) X(gt, Elementwise) X(ge, Elementwise)            \
  X(logical_and, Elementwise) X(logical_or, Elementwise) X(logical_xor, Elementwise)     \
  X(where, Elementwise)

#define CGVM_REDUCE_OPS(X)                                                               \
  X(sum, Reduce) X(prod, Reduce) X(max, Reduce) X(min, Reduce) X(argmax, Reduce)         \
  X(argmin, Reduce) X(all, Reduce) X(any, Reduce)

#define CGVM_SHAPE_OPS(X)                                                                \
  X(reshape, Shape) X(dimshuffle, Shape) X(broadcast_to, Shape) X(concatenate, Shape)    \
  X(shape_of, Shape) X(make_vector, Shape)

#define CGVM_INDEX_OPS(X)                                                                \
  X(subtensor, Index) X(inc_subtensor, Index) X(take, Index) X(inc_take, Index)          \
  X(arange, Index)

#define CGVM_CONTRACTION_OPS(X) X(matmul, Contraction) X(gemm, Contraction)

#define CGVM_RANDOM_OPS(X) X(random_uniform, Random) X(random_normal, Random) \
  X(random_integers, Random)

// Identity forward, a changed gradient backward (symbolic/ops/gradient.cpp).
#define CGVM_GRADIENT_OPS(X) X(stop_gradient, Gradient) X(grad_clip, Gradient)

// Control flow: nodes holding graphs of their own (symbolic/ops/scan.cpp, ops/ifelse.cpp).
#define CGVM_CONTROL_OPS(X) X(scan, Control) X(scan_last, Control) X(ifelse, Control)

#define CGVM_OPS(X)                                                                      \
  CGVM_SOURCE_OPS(X) CGVM_UNARY_OPS(X) CGVM_BINARY_OPS(X) CGVM_REDUCE_OPS(X)             \
  CGVM_SHAPE_OPS(X) CGVM_INDEX_OPS(X) CGVM_CONTRACTION_OPS(X) CGVM_RANDOM_OPS(X)         \
  CGVM_GRADIENT_OPS(X) CGVM_CONTROL_OPS(X)

namespace cgvm::ops {

#define CGVM_DECLARE_OP(name, family) const OpDef& name##_op();
CGVM_OPS(CGVM_DECLARE_OP)
#undef CGVM_DECLARE_OP

// Every primitive op, in list order (table-driven tests iterate this).
const std::vector<const OpDef*>& all_ops();

}  // namespace cgvm::ops
