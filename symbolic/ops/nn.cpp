// Neural-network building blocks (symbolic/nn.hpp): compositions of primitive ops, no OpDefs.
#include <fmt/format.h>

#include "symbolic/elementwise.hpp"
#include "symbolic/index.hpp"
#include "symbolic/nn.hpp"
#include "symbolic/reduce.hpp"

namespace cgvm {
namespace {

void check_not_null(const Var& x, std::string_view op, std::source_location loc) {
  if (x.is_null()) throw_error(op, "the input is a null Var", loc);
}

// Float math on integers and bools happens in the default float.
Var as_float(const Var& x, std::source_location loc) {
  return is_float(x.dtype()) ? x : cast(x, default_float, loc);
}

// x - max(x, axis), the shift that keeps exp() from overflowing: the largest shifted logit
// is 0, so logits of magnitude 1000 stay finite. The axis is checked here so that the error
// names the composition the user called.
Var shifted_logits(const Var& x, std::int64_t axis, std::string_view op,
                   std::source_location loc) {
  check_not_null(x, op, loc);
  if (normalize_axis(axis, x.rank()) < 0)
    throw_error(op,
                fmt::format("axis {} is out of range for rank {} (input: {})", axis, x.rank(),
                            x.type().str()),
                loc);
  Var xf = as_float(x, loc);
  return sub(xf, max(xf, axis, /*keepdims=*/true, loc), loc);
}

}  // namespace

// maximum(0, x), the constant first: maximum's gradient sends a tie to its first argument,
// so relu'(0) = 0 (grad.hpp's convention).
Var relu(const Var& x, std::source_location loc) {
  check_not_null(x, "relu", loc);
  return maximum(0, x, loc);
}

// x where x > 0, alpha * (exp(x) - 1) elsewhere (expm1 keeps small negative x accurate).
Var elu(const Var& x, double alpha, std::source_location loc) {
  check_not_null(x, "elu", loc);
  Var xf = as_float(x, loc);
  return where(gt(xf, 0, loc), xf, mul(expm1(xf, loc), alpha, loc), loc);
}

Var softmax(const Var& x, std::int64_t axis, std::source_location loc) {
  Var e = exp(shifted_logits(x, axis, "softmax", loc), loc);
  return true_div(e, sum(e, axis, /*keepdims=*/true, loc), loc);
}

Var log_softmax(const Var& x, std::int64_t axis, std::source_location loc) {
  Var s = shifted_logits(x, axis, "log_softmax", loc);
  return sub(s, log(sum(exp(s, loc), axis, /*keepdims=*/true, loc), loc), loc);
}

// Integer labels pick -log(p[label]) through a boolean one-hot mask: log(where(mask, p, 1))
// is log(p) at the label and exactly 0 elsewhere. Masking before the log, not after it (nor
// multiplying by the mask), keeps classes of probability 0 that are not the label out of
// both passes: 0 * log(0) would be NaN forward, and log's gradient there 0 / 0 backward.
// Distribution targets use the product, as documented.
Var categorical_crossentropy(const Var& probs, const Var& targets, std::source_location loc) {
  const char* op = "categorical_crossentropy";
  check_not_null(probs, op, loc);
  check_not_null(targets, op, loc);
  const TensorType &tp = probs.type(), &tt = targets.type();
  if (tp.rank() == 0)
    throw_error(op, fmt::format("probs must have a class axis, got {}", tp.str()), loc);
  Var p = as_float(probs, loc);
  if (is_integer(tt.dtype) && tt.rank() == tp.rank() - 1) {
    // The number of classes is probs' last size, static or symbolic.
    Var mask = one_hot(targets, probs.shape(tp.rank() - 1, loc), DType::Bool, loc);
    return neg(sum(log(where(mask, p, 1, loc), loc), -1, false, loc), loc);
  }
  bool same_shape = tt.rank() == tp.rank();
  for (int i = 0; same_shape && i < tp.rank(); ++i)
    same_shape = tt.shape[i] == tp.shape[i] || tt.shape[i] == unknown_dim ||
                 tp.shape[i] == unknown_dim;
  if (!same_shape)
    throw_error(op,
                fmt::format("targets {} must be integer labels of probs' shape without its "
                            "last axis, or a distribution of probs' shape {}",
                            tt.str(), tp.str()),
                loc);
  return neg(sum(mul(targets, log(p, loc), loc), -1, false, loc), loc);
}

// log1p(-p) is log(1 - p) without the cancellation for small p. Integer or bool targets
// take probs' dtype; two float dtypes promote.
Var binary_crossentropy(const Var& probs, const Var& targets, std::source_location loc) {
  const char* op = "binary_crossentropy";
  check_not_null(probs, op, loc);
  check_not_null(targets, op, loc);
  Var p = as_float(probs, loc);
  Var t = is_float(targets.dtype()) ? targets : cast(targets, p.dtype(), loc);
  return neg(add(mul(t, log(p, loc), loc), mul(sub(1, t, loc), log1p(neg(p, loc), loc), loc), loc),
             loc);
}

}  // namespace cgvm
