#pragma once
// Symbolic differentiation, as in Theano: grad() returns new Vars, so gradients can be
// printed, compiled, optimized and differentiated again (grad of grad works).
//
// Conventions at non-differentiable points (each op's block documents its own):
//   maximum/minimum at a tie: all of the gradient to the first argument, so relu, which is
//   maximum(0, x), has slope 0 at 0; clip passes the gradient at both bounds;
//   abs at 0: 0 (sign(0) = 0); max/min reductions with ties: split equally among the maxima;
//   floor, ceil, round, trunc, sign, comparisons: 0 everywhere.
// Integer and bool tensors carry no gradient: asking for the gradient with respect to one is
// an Error.
#include <cstdint>
#include <functional>
#include <source_location>
#include <vector>

#include "symbolic/graph.hpp"

namespace cgvm {

// What to do with a `wrt` the cost does not depend on.
enum class Disconnected { Raise, Warn, Zero };

struct GradOptions {
  // Gradients already known for intermediate Vars (Theano's known_grads); they are added to
  // what flows from the cost. With known_grads the cost may be a null Var.
  Replacements known_grads;
  // Vars treated as constants: no gradient flows through them.
  std::vector<Var> consider_constant;
  Disconnected disconnected = Disconnected::Raise;
};

// d cost / d wrt for each wrt. The cost must be a float scalar.
std::vector<Var> grad(const Var& cost, const std::vector<Var>& wrt,
                      const GradOptions& options = {},
                      std::source_location loc = std::source_location::current());
Var grad(const Var& cost, const Var& wrt, const GradOptions& options = {},
         std::source_location loc = std::source_location::current());

// Vector-Jacobian product (reverse mode): sum_i eval_point_i * d f_i / d wrt.
std::vector<Var> Lop(const std::vector<Var>& f, const std::vector<Var>& wrt,
                     const std::vector<Var>& eval_points,
                     std::source_location loc = std::source_location::current());
// Jacobian-vector product (forward mode), derived from the reverse mode by the
// double-pullback trick: d/du <Lop(f, wrt, u), v> = J v.
std::vector<Var> Rop(const std::vector<Var>& f, const std::vector<Var>& wrt,
                     const std::vector<Var>& eval_points,
                     std::source_location loc = std::source_location::current());
Var Rop(const Var& f, const Var& wrt, const Var& eval_point,
        std::source_location loc = std::source_location::current());

// The Jacobian of y with respect to x: shape y.shape + x.shape. y needs a static size (one
// row of the Jacobian is built per element of y).
Var jacobian(const Var& y, const Var& x,
             std::source_location loc = std::source_location::current());
// The Hessian of a scalar cost: shape x.shape + x.shape. x needs a static size.
Var hessian(const Var& cost, const Var& x,
            std::source_location loc = std::source_location::current());

// Identity forward; blocks the gradient backward.
Var stop_gradient(const Var& x, std::source_location loc = std::source_location::current());
// Identity forward; clips the gradient flowing back into x to [lo, hi].
Var grad_clip(const Var& x, double lo, double hi,
              std::source_location loc = std::source_location::current());

// Sums a gradient back to the static shape of `like` (the broadcasting that the forward op
// did is undone by summing over the stretched dims). Used by gradient blocks.
Var sum_to_shape(const Var& g, const TensorType& like, const std::source_location& loc);

// Checks the symbolic gradient of `fn` at `points` against central finite differences in
// float64. fn receives one float64 input per point and may return any shape (a non-scalar
// output is projected onto a fixed random direction first, as Theano did). Raises
// cgvm::Error naming the input, the worst element, both values and the errors when they
// differ by more than atol + rtol * |numeric|.
struct VerifyGradOptions {
  double eps = 1e-6;
  double rtol = 1e-4;
  double atol = 1e-6;
  std::uint64_t seed = 0;
};
struct VerifyGradReport {
  double max_abs_error = 0;
  double max_rel_error = 0;
};
VerifyGradReport verify_grad(const std::function<Var(const std::vector<Var>&)>& fn,
                             const std::vector<Array>& points,
                             const VerifyGradOptions& options = {},
                             std::source_location loc = std::source_location::current());

}  // namespace cgvm
