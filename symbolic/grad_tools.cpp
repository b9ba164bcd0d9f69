// Products with the Jacobian, full Jacobians and Hessians, and the finite-difference check,
// all built on grad().
#include <fmt/format.h>

#include <cmath>

#include "symbolic/elementwise.hpp"
#include "symbolic/grad.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

std::vector<Var> Lop(const std::vector<Var>& f, const std::vector<Var>& wrt,
                     const std::vector<Var>& eval_points, std::source_location loc) {
  if (f.size() != eval_points.size())
    throw_error("Lop",
                fmt::format("{} outputs but {} eval points", f.size(), eval_points.size()), loc);
  GradOptions options{.disconnected = Disconnected::Zero};
  for (std::size_t i = 0; i < f.size(); ++i) options.known_grads.emplace_back(f[i], eval_points[i]);
  return grad(Var(), wrt, options, loc);
}

std::vector<Var> Rop(const std::vector<Var>& f, const std::vector<Var>& wrt,
                     const std::vector<Var>& eval_points, std::source_location loc) {
  if (wrt.size() != eval_points.size())
    throw_error("Rop",
                fmt::format("{} wrt but {} eval points", wrt.size(), eval_points.size()), loc);
  // u stands for a cotangent of each output; Lop(f, wrt, u) = J^T u is linear in u, so
  // d/du sum(J^T u * v) = J v.
  std::vector<Var> u;
  for (const Var& out : f) u.push_back(tensor("rop_u", out.dtype(), out.static_shape(), loc));
  std::vector<Var> pulled = Lop(f, wrt, u, loc);
  Var inner;
  for (std::size_t i = 0; i < pulled.size(); ++i) {
    Var term = sum(pulled[i] * eval_points[i], {}, false, loc);
    inner = inner.is_null() ? term : add(inner, term, loc);
  }
  std::vector<Var> jv = grad(inner, u, {.disconnected = Disconnected::Zero}, loc);
  // J v does not depend on u's value, but its graph may still mention u's shape: give u a
  // concrete stand-in of f's shape so the result has no free input of ours.
  Replacements stand_ins;
  for (std::size_t i = 0; i < f.size(); ++i) stand_ins.emplace_back(u[i], zeros_like(f[i], loc));
  return clone_replace(jv, stand_ins, /*strict=*/false);
}

Var Rop(const Var& f, const Var& wrt, const Var& eval_point, std::source_location loc) {
  return Rop(std::vector<Var>{f}, std::vector<Var>{wrt}, std::vector<Var>{eval_point}, loc)[0];
}

Var jacobian(const Var& y, const Var& x, std::source_location loc) {
  if (!y.type().fully_known())
    throw_error("jacobian",
                fmt::format("y has type {}; the Jacobian is built one row per element of y, so "
                            "y needs a static size",
                            y.type().str()),
                loc);
  std::int64_t n = shape_size(y.static_shape());
  Var flat = reshape(y, {-1}, loc);
  std::vector<Var> rows;
  for (std::int64_t i = 0; i < n; ++i)
    rows.push_back(grad(flat(Index(i, loc)), x, {.disconnected = Disconnected::Zero}, loc));
  Dims dims;
  for (auto d : y.static_shape()) dims.emplace_back(d);
  for (Dim& d : dims_of(x, loc)) dims.push_back(std::move(d));
  if (rows.empty()) return zeros(dims, x.dtype(), loc);
  return reshape(stack(rows, 0, loc), dims, loc);
}

Var hessian(const Var& cost, const Var& x, std::source_location loc) {
  if (!x.type().fully_known())
    throw_error("hessian",
                fmt::format("x has type {}; the Hessian is built one row per element of x, so "
                            "x needs a static size (declare it with tensor(name, dtype, shape))",
                            x.type().str()),
                loc);
  return jacobian(grad(cost, x, {}, loc), x, loc);
}

namespace {

double evaluate_scalar(const Var& cost, const std::vector<Var>& inputs,
                       const std::vector<Array>& values) {
  Bindings b;
  for (std::size_t i = 0; i < inputs.size(); ++i) b.emplace_back(inputs[i], values[i]);
  return evaluate(cost, b).item<double>();
}

}  // namespace

VerifyGradReport verify_grad(const std::function<Var(const std::vector<Var>&)>& fn,
                             const std::vector<Array>& points, const VerifyGradOptions& options,
                             std::source_location loc) {
  std::vector<Var> inputs;
  std::vector<Array> values;
  for (std::size_t i = 0; i < points.size(); ++i) {
    inputs.push_back(tensor(fmt::format("p{}", i), DType::Float64,
                            Shape(points[i].rank(), unknown_dim), loc));
    values.push_back(points[i].astype(DType::Float64));
  }
  Var out = fn(inputs);
  if (out.is_null() || !is_float(out.dtype()))
    throw_error("verify_grad", "fn must return a float tensor", loc);
  Var cost = out;
  if (out.rank() != 0) {
    // Project a non-scalar output onto a fixed random direction.
    Bindings b;
    for (std::size_t i = 0; i < inputs.size(); ++i) b.emplace_back(inputs[i], values[i]);
    Shape shape = evaluate(out, b).shape();
    Array direction = Array::uniform(options.seed, shape, 0.5, 1.5, DType::Float64);
    cost = sum(cast(out, DType::Float64, loc) * constant(direction, loc), {}, false, loc);
  } else if (out.dtype() != DType::Float64) {
    cost = cast(out, DType::Float64, loc);
  }

  std::vector<Var> grads = grad(cost, inputs, {.disconnected = Disconnected::Zero}, loc);
  Bindings b;
  for (std::size_t i = 0; i < inputs.size(); ++i) b.emplace_back(inputs[i], values[i]);
  std::vector<Array> analytic = evaluate(grads, b);

  VerifyGradReport report;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Array a = analytic[i].astype(DType::Float64);
    std::vector<double> got = a.to_double_vector();
    for (std::int64_t k = 0; k < values[i].size(); ++k) {
      std::vector<Array> probe = values;
      probe[i] = values[i].copy();
      double* p = probe[i].data<double>();
      double x0 = p[k];
      p[k] = x0 + options.eps;
      double up = evaluate_scalar(cost, inputs, probe);
      p[k] = x0 - options.eps;
      double down = evaluate_scalar(cost, inputs, probe);
      double numeric = (up - down) / (2 * options.eps);
      double abs_err = std::abs(got[static_cast<std::size_t>(k)] - numeric);
      double rel_err = abs_err / std::max(std::abs(numeric), 1e-12);
      report.max_abs_error = std::max(report.max_abs_error, abs_err);
      if (std::abs(numeric) > options.atol)
        report.max_rel_error = std::max(report.max_rel_error, rel_err);
      if (!(abs_err <= options.atol + options.rtol * std::abs(numeric)))
        throw_error("verify_grad",
                    fmt::format("gradient of input {} at flat index {} (of {}): symbolic {}, "
                                "numeric {}, abs error {:.3g}, rel error {:.3g}",
                                i, k, shape_str(values[i].shape()),
                                got[static_cast<std::size_t>(k)], numeric, abs_err, rel_err),
                    loc);
    }
  }
  return report;
}

}  // namespace cgvm
