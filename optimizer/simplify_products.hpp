#pragma once
// Products and quotients: cancellation, and masks moved outward.
//
// A tree of *, / and unary - is read as one fraction: its numerator and denominator factors
// (a*b/(c*d) -> [a, b] / [c, d], with a sign). A factor found above and below cancels when it
// can never be 0 (exp, sigmoid, softplus, a sum of exps, a nonzero constant...). This is what
// makes gradients of stabilized forms finite: the backward pass of log(softmax(x)) builds
// e * (g / p) / s with p = e / s, which underflows to 0 * inf = NaN at logits of magnitude
// 1000; cancelled it is g, exactly. The tree is rebuilt only where something cancels.
//
// Masks: where(m, a, 0) * k -> where(m, a*k, 0) (also / k and -), and inside where(m, t, f) a
// where(m, a, b) read by t is a (by f, b): the gradient of a masked value (the label of a
// cross-entropy, relu's active side) then carries no inf or NaN from the masked-out side.
// k * (a + b) -> k*a + k*b only where k cancels in a or b.
//
// As with x-x -> 0, these hold for the values a graph means (finite factors), which is the
// point: an intermediate inf or 0 that the mathematics cancels no longer poisons the result.
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> simplify_products_rules();

// A tree of *, /, unary - and broadcast_to read as one fraction: num / den, negated or not.
struct Fraction {
  std::vector<Var> num, den;
  bool negative = false;
  std::vector<Var> broadcasts;  // the broadcast_to nodes read through
  std::vector<Var> cancelled;   // factors that were above and below (one of each pair)
};
Fraction fraction_of(const Var& v);

// Whether `m`'s node is the root of its fraction: a float node not read only by *, / and -
// (rules that rebuild a fraction leave its inner links to the root).
bool fraction_root(const Match& m);

// The fraction rebuilt with `m`'s source line (1 where no factor is left), stretched
// to the node's shape (by one of its broadcasts, or to a cancelled factor's shape) where the
// factors left do not give it; null where none can.
Var build_fraction(const Match& m, const Fraction& f);

// Mathematically never 0, whatever the inputs: exp, sigmoid, softplus and cosh of anything,
// sums and products of positive values, nonzero constants, and negations of these.
bool never_zero(const Var& v);

}  // namespace cgvm
