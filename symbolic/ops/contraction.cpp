// Products: the matmul op (numpy.matmul semantics) and gemm (alpha * a @ b + beta * c, which
// the optimizer builds), both over one BLAS call per matrix product. The user functions
// (matmul, and the compositions dot, outer and tensordot) are in contraction_api.cpp.
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

// "float32[2, 3] @ float32[4, 5]": the operand values of a product, for run-time errors.
std::string values_str(const Array& a, const Array& b) {
  return fmt::format("{}{} @ {}{}", dtype_name(a.dtype()), shape_str(a.shape()),
                     dtype_name(b.dtype()), shape_str(b.shape()));
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
      e.fail("batch dimensions do not match: " + values_str(e.inputs[0], e.inputs[1]));
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

// c = alpha * (a @ b) + beta * c for one (m x k) @ (k x n) float product into a contiguous
// m x n block, reading a and b in place through their BLAS views. A product with one column
// or one row (matrix @ vector, vector @ matrix) goes to gemv, BLAS's kernel for it.
template <class T>
void blas_product(const T* a, const Layout& la, const T* b, const Layout& lb, T* c,
                  std::int64_t m, std::int64_t n, std::int64_t k, T alpha, T beta) {
  // A vector's element stride; any stride will do for a single element.
  auto step = [k](std::int64_t stride) { return k == 1 ? std::int64_t{1} : stride; };
  if (n == 1)  // c = op(A) b: A is stored m x k, or k x m when BLAS reads it transposed
    blas::gemv(la.blas.trans, la.blas.trans ? k : m, la.blas.trans ? m : k, alpha, a,
               la.blas.ld, b, step(lb.rs), beta, c, 1);
  else if (m == 1)  // c = B^T a: B is stored k x n, or n x k when BLAS reads it transposed
    blas::gemv(!lb.blas.trans, lb.blas.trans ? n : k, lb.blas.trans ? k : n, alpha, b,
               lb.blas.ld, a, step(la.cs), beta, c, 1);
  else
    blas::gemm(la.blas.trans, lb.blas.trans, m, n, k, alpha, a, la.blas.ld, b, lb.blas.ld,
               beta, c, n);
}

// The same product on a device: `out` (the result) says which; a, b and c are device
// addresses of the blocks.
void device_product(const Array& out, const void* a, const Layout& la, const void* b,
                     const Layout& lb, void* c, std::int64_t m, std::int64_t n, std::int64_t k,
                     double alpha, double beta) {
  out.context()->gemm(DeviceGemm{.dtype = out.dtype(), .trans_a = la.blas.trans,
                                 .trans_b = lb.blas.trans, .m = m, .n = n, .k = k,
                                 .alpha = alpha, .beta = beta, .a = a, .lda = la.blas.ld,
                                 .b = b, .ldb = lb.blas.ld, .c = c, .ldc = n});
}

void* offset_bytes(void* p, std::int64_t bytes) { return static_cast<char*>(p) + bytes; }

// One (m x k) @ (k x n) product into a contiguous m x n block.
template <class T>
void multiply_block(const T* a, const Layout& la, const T* b, const Layout& lb, T* c,
                    std::int64_t m, std::int64_t n, std::int64_t k) {
  if constexpr (std::is_floating_point_v<T>) {
    blas_product(a, la, b, lb, c, m, n, k, T(1), T(0));
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
    e.fail("inner dimensions do not match: " + values_str(a0, b0));
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
  Array out = a.new_empty(out_shape, a.dtype());
  Layout la = layout_of(a), lb = layout_of(b);
  Strides batch_a(a.strides().begin(), a.strides().end() - 2);
  Strides batch_b(b.strides().begin(), b.strides().end() - 2);
  if (!out.on_host()) {
    const std::size_t bytes = dtype_size(a.dtype());
    std::int64_t block = 0;
    for (NdIter<2> it(batch, {&batch_a, &batch_b}); !it.done(); it.next(), ++block)
      device_product(out, offset_bytes(a.raw_data(), it.offset(0) * bytes), la,
                     offset_bytes(b.raw_data(), it.offset(1) * bytes), lb,
                     offset_bytes(out.raw_data(), block * m * n * bytes), m, n, k, 1, 0);
    return {out.reshape(result_shape(batch, m, n, a_vec, b_vec))};
  }
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

// --- gemm: alpha * (a @ b) + beta * c -------------------------------------------------------

// c stretches to the product's [m, n] as an elementwise operand would (Theano's rule: only its
// dims of static size 1 stretch), but never makes the result larger than the product.
std::vector<TensorType> infer_gemm(const InferArgs& a) {
  const TensorType &ta = a.input(0), &tb = a.input(1), &tc = a.input(2);
  if (ta.rank() != 2 || tb.rank() != 2)
    a.fail(fmt::format("operands must be matrices: {} @ {}", ta.str(), tb.str()));
  if (!is_float(ta.dtype) || tb.dtype != ta.dtype || tc.dtype != ta.dtype)
    a.fail(fmt::format("takes float operands of one dtype: {} @ {} + {}", ta.str(), tb.str(),
                       tc.str()));
  if (ta.shape[1] != unknown_dim && tb.shape[0] != unknown_dim && ta.shape[1] != tb.shape[0])
    a.fail(fmt::format("inner dimensions do not match: {} @ {}", ta.str(), tb.str()));
  Shape out{ta.shape[0], tb.shape[1]};
  const Shape product = out;
  if (tc.rank() > 2)
    a.fail(fmt::format("the addend {} has more dims than the product {}", tc.str(),
                       TensorType{ta.dtype, product}.str()));
  for (int j = 0; j < tc.rank(); ++j) {
    const int d = j + 2 - tc.rank();
    const std::int64_t size = tc.shape[j];
    if (size == 1 || size == unknown_dim) continue;  // stretches; checked at run time
    if (out[d] == unknown_dim) out[d] = size;
    else if (out[d] != size)
      a.fail(fmt::format("the addend {} does not broadcast to the product's shape {}",
                         tc.str(), shape_str(product)));
  }
  return {TensorType{ta.dtype, out}};
}

std::vector<Array> eval_gemm(const EvalArgs& e) {
  Array a = e.inputs[0], b = e.inputs[1];
  const Array& c = e.inputs[2];
  const std::int64_t m = a.shape(0), k = a.shape(1), n = b.shape(1);
  if (b.shape(0) != k)
    e.fail("inner dimensions do not match: " + values_str(a, b));
  const Shape out_shape{m, n};
  const Shape& c_type = e.node.input(2).static_shape();
  for (int j = 0; j < c.rank(); ++j)
    if (c_type[j] != 1 && c.shape()[j] != out_shape[j + 2 - c.rank()])
      e.fail(fmt::format("the addend {}{} does not broadcast to the product's shape {} (only "
                         "dimensions of static size 1 stretch)",
                         dtype_name(c.dtype()), shape_str(c.shape()), shape_str(out_shape)));
  if (!layout_of(a).blas.ok) a = a.contiguous();
  if (!layout_of(b).blas.ok) b = b.contiguous();
  const double alpha = e.attrs().get_double("alpha"), beta = e.attrs().get_double("beta");
  Array out = a.new_empty(out_shape, a.dtype());
  if (beta != 0) out.assign(c);  // else BLAS overwrites the output without reading it
  const Layout la = layout_of(a), lb = layout_of(b);
  if (!out.on_host()) {
    device_product(out, a.raw_data(), la, b.raw_data(), lb, out.raw_data(), m, n, k, alpha, beta);
    return {out};
  }
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>)
      blas_product<T>(static_cast<const T*>(a.raw_data()), la,
                      static_cast<const T*>(b.raw_data()), lb, out.data<T>(), m, n, k,
                      static_cast<T>(alpha), static_cast<T>(beta));
    else
      throw InternalError("gemm eval on a dtype its inference rejects");
  });
  return {out};
}

// Y = alpha * A @ B + beta * C: dA = alpha * G @ B^T, dB = alpha * A^T @ G, and dC = beta * G
// summed over the dims C was stretched along.
std::vector<Var> gemm_grad(const GradArgs& args) {
  const auto& loc = args.loc();
  const Var &a = args.input(0), &b = args.input(1), &c = args.input(2), &g = args.grad();
  const double alpha = args.attrs().get_double("alpha"), beta = args.attrs().get_double("beta");
  auto scaled = [&](const Var& v, double k) { return k == 1 ? v : mul(v, k, loc); };
  Var da = scaled(matmul(g, swap_matrix_axes(b, loc), loc), alpha);
  Var db = scaled(matmul(swap_matrix_axes(a, loc), g, loc), alpha);
  Var dc = beta == 0 ? zeros_like(c, loc) : sum_to_shape(scaled(g, beta), c.type(), loc);
  return {da, db, dc};
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
      .on_device = [](const Node& n) { return is_float(n.output(0).dtype()); },
  };
  return def;
}

// alpha * (a @ b) + beta * c on float matrices a and b (float attrs alpha and beta), with c
// stretching to the product's shape: a bias row [n] or [1, n], a column [m, 1], a matrix or
// a scalar; with beta 0, c is not read (BLAS's rule). The specialize pass
// (optimizer/specialize.hpp) builds it from matmul, scales and additions. One BLAS call on
// the output initialised from c; transposed operands are read in place.
const OpDef& gemm_op() {
  static const OpDef def{
      .name = "gemm",
      .family = OpFamily::Contraction,
      .min_inputs = 3,
      .max_inputs = 3,
      .infer = infer_gemm,
      .eval = eval_gemm,
      .grad = gemm_grad,
      .on_device = any_device,
  };
  return def;
}

}  // namespace ops

}  // namespace cgvm
