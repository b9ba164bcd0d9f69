// The reduction user functions (symbolic/reduce.hpp) and Var's sum/mean/max/min methods.
// mean, var, std and logsumexp are compositions, not ops.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "symbolic/elementwise.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/reduce.hpp"

namespace cgvm {
namespace {

// Canonical axes for a reduce op's attrs: non-negative, sorted, unique; every axis for
// Axes{} (all). Out-of-range and repeated axes are user errors.
Ints normalize_axes(const Var& x, const Axes& axes, std::string_view op,
                    std::source_location loc) {
  Ints out;
  if (axes.all) {
    out.resize(static_cast<std::size_t>(x.rank()));
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  for (auto axis : axes.list) {
    int n = normalize_axis(axis, x.rank());
    if (n < 0)
      throw_error(op,
                  fmt::format("axis {} is out of range for rank {} (input: {})", axis,
                              x.rank(), x.type().str()),
                  loc);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw_error(op,
                  fmt::format("axis {} is repeated in [{}] (input: {})", axis,
                              fmt::join(axes.list, ", "), x.type().str()),
                  loc);
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Var reduce(const OpDef& op, const Var& x, const Axes& axes, bool keepdims,
           std::source_location loc) {
  if (x.is_null()) throw_error(op.name, "the input is a null Var", loc);
  Ints list = normalize_axes(x, axes, op.name, loc);
  // Reducing no axis changes nothing when the dtype stays: sum(x, {}) -> x
  bool keeps_dtype = &op == &ops::max_op() || &op == &ops::min_op() ||
                     ((&op == &ops::sum_op() || &op == &ops::prod_op()) && is_float(x.dtype()));
  if (list.empty() && keeps_dtype) return x;
  return apply(op, {x}, Attrs{{"axes", std::move(list)}, {"keepdims", keepdims}}, loc);
}

Var arg_reduce(const OpDef& op, const Var& x, const Axes& axes, bool keepdims,
               std::source_location loc) {
  if (x.is_null()) throw_error(op.name, "the input is a null Var", loc);
  if (!axes.all && axes.list.size() != 1)
    throw_error(op.name,
                fmt::format("takes one axis or all of them, got [{}] (input: {})",
                            fmt::join(axes.list, ", "), x.type().str()),
                loc);
  return apply(op, {x}, Attrs{{"axes", normalize_axes(x, axes, op.name, loc)},
                              {"keepdims", keepdims}},
               loc);
}

// Float math on integers and bools happens in the default float.
Var as_float(const Var& x, std::source_location loc) {
  return is_float(x.dtype()) ? x : cast(x, default_float, loc);
}

// How many elements each output element of a reduction over `axes` (normalised) sums, as a
// scalar of `dtype`: a literal when the sizes are static, else the product of x.shape(i).
Operand element_count(const Var& x, const Ints& axes, DType dtype, std::source_location loc) {
  double count = 1;
  Var symbolic;
  for (auto ax : axes) {
    std::int64_t d = x.static_shape()[ax];
    if (d != unknown_dim) {
      count *= static_cast<double>(d);
      continue;
    }
    Var size = x.shape(ax, loc);
    symbolic = symbolic.is_null() ? size : mul(symbolic, size, loc);
  }
  if (symbolic.is_null()) return Operand(count, loc);
  Var total = cast(symbolic, dtype, loc);
  return count == 1 ? Operand(total, loc) : Operand(mul(total, count, loc), loc);
}

}  // namespace

Var sum(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::sum_op(), x, axes, keepdims, loc);
}
Var prod(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::prod_op(), x, axes, keepdims, loc);
}
Var max(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::max_op(), x, axes, keepdims, loc);
}
Var min(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::min_op(), x, axes, keepdims, loc);
}
Var all(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::all_op(), x, axes, keepdims, loc);
}
Var any(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return reduce(ops::any_op(), x, axes, keepdims, loc);
}
Var argmax(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return arg_reduce(ops::argmax_op(), x, axes, keepdims, loc);
}
Var argmin(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  return arg_reduce(ops::argmin_op(), x, axes, keepdims, loc);
}

// sum / count. An integer sum is exact in int64 and converted once, to the default float.
// An empty reduction gives 0/0 = NaN, as in numpy.
Var mean(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  if (x.is_null()) throw_error("mean", "the input is a null Var", loc);
  Ints list = normalize_axes(x, axes, "mean", loc);
  Var total = as_float(sum(x, list, keepdims, loc), loc);
  return true_div(total, element_count(x, list, total.dtype(), loc), loc);
}

// mean((x - mean(x))^2) with count - ddof in the denominator, numpy's two-pass formula
// (no cancellation from subtracting E[x]^2).
Var var(const Var& x, const Axes& axes, bool keepdims, std::int64_t ddof,
        std::source_location loc) {
  if (x.is_null()) throw_error("var", "the input is a null Var", loc);
  Ints list = normalize_axes(x, axes, "var", loc);
  Var xf = as_float(x, loc);
  Var centered = sub(xf, mean(xf, list, /*keepdims=*/true, loc), loc);
  Var squares = sum(mul(centered, centered, loc), list, keepdims, loc);
  Operand count = element_count(xf, list, xf.dtype(), loc);
  Operand dof = count.is_scalar() ? Operand(count.scalar - static_cast<double>(ddof), loc)
                                  : Operand(sub(count.var, static_cast<double>(ddof), loc), loc);
  return true_div(squares, dof, loc);
}

Var std(const Var& x, const Axes& axes, bool keepdims, std::int64_t ddof,
        std::source_location loc) {
  if (x.is_null()) throw_error("std", "the input is a null Var", loc);
  Ints list = normalize_axes(x, axes, "std", loc);
  return sqrt(var(x, list, keepdims, ddof, loc), loc);
}

// m + log(sum(exp(x - m))) with m = max(x). Where m is infinite (a row of -inf, or one +inf)
// the shift is 0 instead, so that -inf rows give log(0) = -inf and +inf rows +inf, not the
// NaN of inf - inf.
Var logsumexp(const Var& x, const Axes& axes, bool keepdims, std::source_location loc) {
  if (x.is_null()) throw_error("logsumexp", "the input is a null Var", loc);
  Ints list = normalize_axes(x, axes, "logsumexp", loc);
  Var xf = as_float(x, loc);
  auto safe_max = [&](bool keep) {
    Var m = max(xf, list, keep, loc);
    return where(isinf(m, loc), 0, m, loc);
  };
  Var shifted = sub(xf, safe_max(true), loc);
  return add(log(sum(exp(shifted, loc), list, keepdims, loc), loc), safe_max(keepdims), loc);
}

// --- Var methods ---------------------------------------------------------------------------

Var Var::sum(const Axes& axes, bool keepdims, std::source_location loc) const {
  return cgvm::sum(*this, axes, keepdims, loc);
}
Var Var::sum(std::source_location loc) const { return cgvm::sum(*this, Axes{}, false, loc); }
Var Var::mean(const Axes& axes, bool keepdims, std::source_location loc) const {
  return cgvm::mean(*this, axes, keepdims, loc);
}
Var Var::mean(std::source_location loc) const { return cgvm::mean(*this, Axes{}, false, loc); }
Var Var::max(const Axes& axes, bool keepdims, std::source_location loc) const {
  return cgvm::max(*this, axes, keepdims, loc);
}
Var Var::max(std::source_location loc) const { return cgvm::max(*this, Axes{}, false, loc); }
Var Var::min(const Axes& axes, bool keepdims, std::source_location loc) const {
  return cgvm::min(*this, axes, keepdims, loc);
}
Var Var::min(std::source_location loc) const { return cgvm::min(*this, Axes{}, false, loc); }

}  // namespace cgvm
