// The product user functions (symbolic/contraction.hpp): matmul() promotes its operands and
// applies the matmul op, gemm() applies gemm as it is; dot, outer and tensordot are
// compositions, plain Var code.
#include <fmt/format.h>

#include <algorithm>

#include "symbolic/contraction.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/shape.hpp"

namespace cgvm {
namespace {

void check_not_null(const Var& a, const Var& b, std::string_view op, std::source_location loc) {
  if (a.is_null() || b.is_null()) throw_error(op, "an operand is a null Var", loc);
}

// Both operands cast to their common dtype (runtime/dtype.hpp's promotion rule).
std::pair<Var, Var> promoted(const Var& a, const Var& b, std::source_location loc) {
  DType d = promote(a.dtype(), b.dtype());
  return {cast(a, d, loc), cast(b, d, loc)};
}

// Canonical axes of one tensordot operand; out-of-range or repeated axes are user errors.
Ints tensordot_axes(const Var& x, const std::vector<std::int64_t>& axes, std::string_view op,
                    std::source_location loc) {
  Ints out;
  for (auto axis : axes) {
    int n = normalize_axis(axis, x.rank());
    if (n < 0)
      throw_error(op, fmt::format("axis {} is out of range for rank {} ({})", axis, x.rank(),
                                  x.type().str()),
                  loc);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw_error(op, fmt::format("axis {} is repeated in [{}] ({})", axis,
                                  fmt::join(axes, ", "), x.type().str()),
                  loc);
    out.push_back(n);
  }
  return out;
}

// The axes of a rank-`rank` tensor that are not in `used`, in order.
Ints other_axes(int rank, const Ints& used) {
  Ints out;
  for (int d = 0; d < rank; ++d)
    if (std::find(used.begin(), used.end(), d) == used.end()) out.push_back(d);
  return out;
}

// The size of axis `ax` of x as a reshape argument: static when known (from x, or else from
// `fallback`, a paired axis's static size), else symbolic.
Dim size_of(const Var& x, std::int64_t ax, std::int64_t fallback, std::source_location loc) {
  std::int64_t d = x.static_shape()[ax];
  if (d == unknown_dim) d = fallback;
  if (d != unknown_dim) return Dim(d);
  return Dim(x.shape(ax, loc));
}

// The product of some dims, static when all are.
Dim dims_product(const std::vector<Dim>& dims, std::source_location loc) {
  std::int64_t known = 1;
  Var symbolic;
  for (const Dim& d : dims) {
    if (auto* size = std::get_if<std::int64_t>(&d.value)) known *= *size;
    else if (symbolic.is_null()) symbolic = std::get<Var>(d.value);
    else symbolic = mul(symbolic, std::get<Var>(d.value), loc);
  }
  if (symbolic.is_null()) return Dim(known);
  return known == 1 ? Dim(symbolic) : Dim(mul(symbolic, known, loc));
}

bool is_identity(const Ints& perm) {
  for (std::size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<std::int64_t>(i)) return false;
  return true;
}

// x as the matrix whose rows flatten x's axes `left` (sizes `left_dims`) and whose columns
// flatten its axes `right`. Where x holds them in that order it is a reshape; where it holds
// `right` first and then `left` (tensordot's sum over the leading axes: x^T @ y), it is the
// reshape to the other matrix, transposed: a view that BLAS reads with its transpose flag,
// where transposing first would make the reshape copy x. Else transposed, then reshaped.
Var as_matrix(const Var& x, const Ints& left, const Ints& right, const std::vector<Dim>& left_dims,
              const std::vector<Dim>& right_dims, std::source_location loc) {
  Ints perm = left, swapped = right;
  perm.insert(perm.end(), right.begin(), right.end());
  swapped.insert(swapped.end(), left.begin(), left.end());
  const bool matrix = left.size() == 1 && right.size() == 1;
  auto flat = [&](const Var& v, const std::vector<Dim>& r, const std::vector<Dim>& c) {
    // Already a matrix: reshape(x, x's own shape) -> x
    return matrix ? v : reshape(v, {dims_product(r, loc), dims_product(c, loc)}, loc);
  };
  if (is_identity(perm)) return flat(x, left_dims, right_dims);
  if (is_identity(swapped)) return transpose(flat(x, right_dims, left_dims), {1, 0}, loc);
  return flat(transpose(x, perm, loc), left_dims, right_dims);
}

// Sums a's axes_a against b's axes_b: both operands are brought to matrices whose summed axes
// meet in the middle (as_matrix), multiplied, and the free axes unflattened.
Var contract(const Var& a0, const Var& b0, const std::vector<std::int64_t>& axes_a0,
             const std::vector<std::int64_t>& axes_b0, std::string_view op,
             std::source_location loc) {
  check_not_null(a0, b0, op, loc);
  if (axes_a0.size() != axes_b0.size())
    throw_error(op, fmt::format("the axis lists differ in length: [{}] of {} and [{}] of {}",
                                fmt::join(axes_a0, ", "), a0.type().str(),
                                fmt::join(axes_b0, ", "), b0.type().str()),
                loc);
  Ints axes_a = tensordot_axes(a0, axes_a0, op, loc);
  Ints axes_b = tensordot_axes(b0, axes_b0, op, loc);
  // Each operand's reshape uses its own sizes (a static size may come from the paired
  // axis), so that sizes that disagree at run time surface as matmul's inner-dimension error.
  std::vector<Dim> summed_a, summed_b;
  for (std::size_t i = 0; i < axes_a.size(); ++i) {
    std::int64_t da = a0.static_shape()[axes_a[i]], db = b0.static_shape()[axes_b[i]];
    if (da != unknown_dim && db != unknown_dim && da != db)
      throw_error(op, fmt::format("summed axes differ in size: axis {} of {} and axis {} of {}",
                                  axes_a[i], a0.type().str(), axes_b[i], b0.type().str()),
                  loc);
    summed_a.push_back(size_of(a0, axes_a[i], db, loc));
    summed_b.push_back(size_of(b0, axes_b[i], da, loc));
  }
  auto [a, b] = promoted(a0, b0, loc);
  Ints free_a = other_axes(a.rank(), axes_a), free_b = other_axes(b.rank(), axes_b);
  std::vector<Dim> rows, cols;
  for (auto ax : free_a) rows.push_back(size_of(a, ax, unknown_dim, loc));
  for (auto ax : free_b) cols.push_back(size_of(b, ax, unknown_dim, loc));

  Var ta = as_matrix(a, free_a, axes_a, rows, summed_a, loc);
  Var tb = as_matrix(b, axes_b, free_b, summed_b, cols, loc);
  Var c = matmul(ta, tb, loc);
  if (free_a.size() == 1 && free_b.size() == 1) return c;
  rows.insert(rows.end(), cols.begin(), cols.end());
  return reshape(c, rows, loc);
}

}  // namespace

Var matmul(const Var& a, const Var& b, std::source_location loc) {
  check_not_null(a, b, "matmul", loc);
  auto [pa, pb] = promoted(a, b, loc);
  return apply(ops::matmul_op(), {pa, pb}, Attrs{}, loc);
}

// numpy.dot: a scalar operand multiplies; up to matrices it is matmul; beyond, it sums the
// last axis of a with the second-to-last of b (the only one of a vector).
Var dot(const Var& a, const Var& b, std::source_location loc) {
  check_not_null(a, b, "dot", loc);
  if (a.rank() == 0 || b.rank() == 0) return mul(a, b, loc);
  if (a.rank() <= 2 && b.rank() <= 2) return matmul(a, b, loc);
  return contract(a, b, {a.rank() - 1}, {b.rank() >= 2 ? b.rank() - 2 : 0}, "dot", loc);
}

Var gemm(const Var& a, const Var& b, const Var& c, double alpha, double beta,
         std::source_location loc) {
  check_not_null(a, b, "gemm", loc);
  check_not_null(c, c, "gemm", loc);
  return apply(ops::gemm_op(), {a, b, c}, Attrs{{"alpha", alpha}, {"beta", beta}}, loc);
}

// a[:, None] * b[None, :] over the flattened operands, as numpy.outer.
Var outer(const Var& a, const Var& b, std::source_location loc) {
  check_not_null(a, b, "outer", loc);
  Var fa = a.rank() == 1 ? a : flatten(a, 1, loc);
  Var fb = b.rank() == 1 ? b : flatten(b, 1, loc);
  return mul(dimshuffle(fa, {0, -1}, loc), dimshuffle(fb, {-1, 0}, loc), loc);
}

Var tensordot(const Var& a, const Var& b, std::int64_t axes, std::source_location loc) {
  check_not_null(a, b, "tensordot", loc);
  if (axes < 0 || axes > a.rank() || axes > b.rank())
    throw_error("tensordot",
                fmt::format("cannot sum over {} axes of {} and {}", axes, a.type().str(),
                            b.type().str()),
                loc);
  std::vector<std::int64_t> axes_a, axes_b;
  for (std::int64_t i = 0; i < axes; ++i) {
    axes_a.push_back(a.rank() - axes + i);
    axes_b.push_back(i);
  }
  return contract(a, b, axes_a, axes_b, "tensordot", loc);
}

Var tensordot(const Var& a, const Var& b, const std::vector<std::int64_t>& axes_a,
              const std::vector<std::int64_t>& axes_b, std::source_location loc) {
  return contract(a, b, axes_a, axes_b, "tensordot", loc);
}

}  // namespace cgvm
