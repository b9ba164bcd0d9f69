// Products: the matmul op (numpy.matmul semantics) and the compositions over it (dot, outer,
// tensordot), which are plain Var code.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <type_traits>

#include "runtime/blas.hpp"
#include "runtime/nditer.hpp"
#include "symbolic/contraction.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/shape.hpp"

namespace cgvm {
namespace {

// numpy.matmul's 1-d promotion: a vector on the left is a row (1, k), on the right a column
// (k, 1); those dims are dropped from the result again.
Shape as_matrix_shape(const Shape& s, bool left) {
  if (s.size() != 1) return s;
  return left ? Shape{1, s[0]} : Shape{s[0], 1};
}

Shape result_shape(const Shape& batch, std::int64_t m, std::int64_t n, bool a_vec, bool b_vec) {
  Shape out = batch;
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);
  return out;
}

// Theano's broadcasting of the batch dims, right-aligned; a missing dim is a static 1. Only a
// static 1 stretches; an unknown dim meeting a static size takes it (checked at run time).
// Returns false on a static mismatch.
bool broadcast_batch(const Shape& a, const Shape& b, Shape& out) {
  std::size_t n = std::max(a.size(), b.size());
  out.assign(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == 1) out[i] = db;
    else if (db == 1 || db == unknown_dim || da == db) out[i] = da;
    else if (da == unknown_dim) out[i] = db;
    else return false;
  }
  return true;
}

Shape batch_of(const Shape& matrix_shape) {
  return Shape(matrix_shape.begin(), matrix_shape.end() - 2);
}

std::vector<TensorType> infer_matmul(const InferArgs& a) {
  const TensorType &ta = a.input(0), &tb = a.input(1);
  if (ta.rank() == 0 || tb.rank() == 0)
    a.fail("operands must have rank >= 1 (multiply scalars with *)");
  if (ta.dtype != tb.dtype)
    a.fail(fmt::format("operand dtypes differ: {} @ {}", ta.str(), tb.str()));
  Shape sa = as_matrix_shape(ta.shape, true), sb = as_matrix_shape(tb.shape, false);
  std::int64_t ka = sa.back(), kb = sb[sb.size() - 2];
  if (ka != unknown_dim && kb != unknown_dim && ka != kb)
    a.fail(fmt::format("inner dimensions do not match: {} @ {}", ta.str(), tb.str()));
  Shape batch;
  if (!broadcast_batch(batch_of(sa), batch_of(sb), batch))
    a.fail(fmt::format("batch dimensions do not broadcast: {} @ {}", ta.str(), tb.str()));
  return {TensorType{ta.dtype, result_shape(batch, sa[sa.size() - 2], sb.back(),
                                            ta.rank() == 1, tb.rank() == 1)}};
}

// Run-time batch shape: a dim whose static type is 1 (or missing) stretches; all others must
// agree exactly, even when one of them happens to be 1 (Theano's rule).
Shape runtime_batch(const EvalArgs& e, const Shape& sa, const Shape& sb) {
  const TensorType &ta = e.node.input(0).type(), &tb = e.node.input(1).type();
  Shape a = batch_of(sa), b = batch_of(sb);
  Shape static_a = batch_of(as_matrix_shape(ta.shape, true));
  Shape static_b = batch_of(as_matrix_shape(tb.shape, false));
  std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    bool has_a = i >= n - a.size(), has_b = i >= n - b.size();
    std::size_t ia = i - (n - a.size()), ib = i - (n - b.size());
    bool stretch_a = !has_a || static_a[ia] == 1, stretch_b = !has_b || static_b[ib] == 1;
    std::int64_t da = has_a ? a[ia] : 1, db = has_b ? b[ib] : 1;
    if (stretch_a) out[i] = db;
    else if (stretch_b || da == db) out[i] = da;
    else
      e.fail(fmt::format("batch dimensions do not match: {}{} @ {}{}",
                         dtype_name(e.inputs[0].dtype()), shape_str(e.inputs[0].shape()),
                         dtype_name(e.inputs[1].dtype()), shape_str(e.inputs[1].shape())));
  }
  return out;
}

// How BLAS can read a rows x cols matrix with element strides (rs, cs) in place: row-major
// (trans = false) or as the transpose of a row-major cols x rows matrix (trans = true), with
// leading dimension `ld`. Strides of size-1 dims do not matter.
struct BlasView {
  bool ok = false, trans = false;
  std::int64_t ld = 0;
};

BlasView blas_view(std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs) {
  std::int64_t min_row = std::max<std::int64_t>(1, cols), min_col = std::max<std::int64_t>(1, rows);
  if ((cols == 1 || cs == 1) && (rows == 1 || rs >= min_row))
    return {true, false, rows == 1 ? min_row : rs};
  if ((rows == 1 || rs == 1) && (cols == 1 || cs >= min_col))
    return {true, true, cols == 1 ? min_col : cs};
  return {};
}

// A batch of matrices as the product loop sees it: element strides of the matrix dims and,
// for floats, how BLAS reads them.
struct Layout {
  std::int64_t rs, cs;
  BlasView blas;
};

Layout layout_of(const Array& m) {
  int r = m.rank();
  std::int64_t rs = m.strides()[r - 2], cs = m.strides()[r - 1];
  return {rs, cs, blas_view(m.shape()[r - 2], m.shape()[r - 1], rs, cs)};
}

// One (m x k) @ (k x n) product into a contiguous m x n block.
template <class T>
void multiply_block(const T* a, const Layout& la, const T* b, const Layout& lb, T* c,
                    std::int64_t m, std::int64_t n, std::int64_t k) {
  if constexpr (std::is_floating_point_v<T>) {
    blas::gemm(la.blas.trans, lb.blas.trans, m, n, k, T(1), a, la.blas.ld, b, lb.blas.ld, T(0),
               c, n);
  } else {
    // Exact: integers wrap like numpy's fixed-width arithmetic (done in uint64, whose
    // modular result truncates to the same bits); bool is the logical or of ands.
    using Acc = std::conditional_t<std::is_same_v<T, bool>, bool, std::uint64_t>;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        Acc acc{};
        for (std::int64_t p = 0; p < k; ++p) {
          T x = a[i * la.rs + p * la.cs], y = b[p * lb.rs + j * lb.cs];
          if constexpr (std::is_same_v<T, bool>) acc = acc || (x && y);
          else acc += static_cast<Acc>(x) * static_cast<Acc>(y);
        }
        c[i * n + j] = static_cast<T>(acc);
      }
  }
}

std::vector<Array> eval_matmul(const EvalArgs& e) {
  const Array &a0 = e.inputs[0], &b0 = e.inputs[1];
  bool a_vec = a0.rank() == 1, b_vec = b0.rank() == 1;
  Array a = a_vec ? a0.expand_dims(0) : a0;
  Array b = b_vec ? b0.expand_dims(1) : b0;
  std::int64_t m = a.shape(-2), k = a.shape(-1), n = b.shape(-1);
  if (b.shape(-2) != k)
    e.fail(fmt::format("inner dimensions do not match: {}{} @ {}{}", dtype_name(a0.dtype()),
                       shape_str(a0.shape()), dtype_name(b0.dtype()), shape_str(b0.shape())));
  Shape batch = runtime_batch(e, a.shape(), b.shape());
  // BLAS takes any row or column stride; other layouts (broadcast or reversed matrix dims)
  // are copied once, before the batch broadcast repeats them.
  if (is_float(a.dtype()) && !layout_of(a).blas.ok) a = a.contiguous();
  if (is_float(b.dtype()) && !layout_of(b).blas.ok) b = b.contiguous();
  Shape full_a = batch, full_b = batch, out_shape = batch;
  full_a.insert(full_a.end(), {m, k});
  full_b.insert(full_b.end(), {k, n});
  out_shape.insert(out_shape.end(), {m, n});
  a = a.broadcast_to(full_a);
  b = b.broadcast_to(full_b);
  Array out = Array::empty(out_shape, a.dtype());
  Layout la = layout_of(a), lb = layout_of(b);
  Strides batch_a(a.strides().begin(), a.strides().end() - 2);
  Strides batch_b(b.strides().begin(), b.strides().end() - 2);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* pc = out.data<T>();
    std::int64_t block = 0;
    for (NdIter<2> it(batch, {&batch_a, &batch_b}); !it.done(); it.next(), ++block)
      multiply_block<T>(pa + it.offset(0), la, pb + it.offset(1), lb, pc + block * m * n, m, n, k);
  });
  return {out.reshape(result_shape(batch, m, n, a_vec, b_vec))};
}

// x with its last two axes swapped (the batched transpose).
Var swap_matrix_axes(const Var& x, std::source_location loc) {
  std::vector<std::int64_t> perm(static_cast<std::size_t>(x.rank()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return transpose(x, perm, loc);
}

// C = A @ B: dA = G @ B^T and dB = A^T @ G on the matrix forms the forward used (a vector
// operand promoted to a row or a column, G with the dropped axes restored). Batch dims that
// the forward broadcast are summed back, then a promoted axis is dropped again.
std::vector<Var> matmul_grad(const GradArgs& args) {
  const auto& loc = args.loc();
  const Var &a = args.input(0), &b = args.input(1);
  bool a_vec = a.rank() == 1, b_vec = b.rank() == 1;
  Var am = a_vec ? expand_dims(a, 0, loc) : a;
  Var bm = b_vec ? expand_dims(b, 1, loc) : b;
  Var gm = args.grad();
  // The result is batch + [m unless a_vec] + [n unless b_vec].
  if (a_vec) gm = expand_dims(gm, b_vec ? gm.rank() : gm.rank() - 1, loc);
  if (b_vec) gm = expand_dims(gm, gm.rank(), loc);
  Var da = sum_to_shape(matmul(gm, swap_matrix_axes(bm, loc), loc), am.type(), loc);
  Var db = sum_to_shape(matmul(swap_matrix_axes(am, loc), gm, loc), bm.type(), loc);
  return {a_vec ? squeeze(da, 0, loc) : da, b_vec ? squeeze(db, -1, loc) : db};
}

}  // namespace

namespace ops {

// numpy.matmul on operands of rank >= 1 and equal dtype: 1-d operands are promoted to a row
// (left) or a column (right), batch dims broadcast (only static 1 stretches). Floats go
// through BLAS, integers and bools use exact loops.
const OpDef& matmul_op() {
  static const OpDef def{
      .name = "matmul",
      .family = OpFamily::Contraction,
      .min_inputs = 2,
      .max_inputs = 2,
      .infer = infer_matmul,
      .eval = eval_matmul,
      .grad = matmul_grad,
  };
  return def;
}

}  // namespace ops

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

// Sums a's axes_a against b's axes_b: both operands are transposed so that the summed axes
// meet in the middle, flattened to matrices, multiplied, and the free axes unflattened.
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

  Ints perm_a = free_a, perm_b = axes_b;
  perm_a.insert(perm_a.end(), axes_a.begin(), axes_a.end());
  perm_b.insert(perm_b.end(), free_b.begin(), free_b.end());
  Var ta = is_identity(perm_a) ? a : transpose(a, perm_a, loc);
  Var tb = is_identity(perm_b) ? b : transpose(b, perm_b, loc);
  // Already a matrix: reshape(x, x's own shape) -> x
  if (free_a.size() != 1 || axes_a.size() != 1)
    ta = reshape(ta, {dims_product(rows, loc), dims_product(summed_a, loc)}, loc);
  if (free_b.size() != 1 || axes_b.size() != 1)
    tb = reshape(tb, {dims_product(summed_b, loc), dims_product(cols, loc)}, loc);
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
