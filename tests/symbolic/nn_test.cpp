// The nn compositions: relu, elu, softmax and log_softmax (hand values, rows summing to 1,
// finite results at logits of magnitude 1000, any axis), the cross-entropies against
// hand-computed values, and the user errors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/log.hpp"
#include "support.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/nn.hpp"
#include "symbolic/reduce.hpp"
#include "symbolic/source.hpp"
#include "symbolic/value_checks.hpp"  // tests/symbolic/

using namespace cgvm;
using test::all_finite;
using test::CapturedWarnings;
using test::check_array;
using test::make;
using test::this_file;
using test::Values;

namespace {

// Error messages must point at this file (the user's line). Kept alive here: a temporary's
// c_str() in CHECK_ERROR's list would dangle.
const std::string file_name = this_file();
const char* const file = file_name.c_str();

// softmax of one row, in double.
Values softmax_row(const Values& row) {
  double total = 0;
  for (double x : row) total += std::exp(x);
  Values out;
  for (double x : row) out.push_back(std::exp(x) / total);
  return out;
}


}  // namespace

TEST_CASE("nn: relu and elu") {
  Var x = vector("x");
  Array v = make(float32, {-2, -0.5, 0, 3}, {4});
  check_array(evaluate(relu(x), {{x, v}}), float32, {4}, {0, 0, 0, 3});
  Var i = vector("i", int32);
  check_array(evaluate(relu(i), {{i, make(int32, {-4, 5}, {2})}}), int32, {2}, {0, 5});
  check_array(evaluate(elu(x), {{x, v}}), float32, {4},
              {std::expm1(-2.0), std::expm1(-0.5), 0, 3});
  check_array(evaluate(elu(x, 0.5), {{x, v}}), float32, {4},
              {0.5 * std::expm1(-2.0), 0.5 * std::expm1(-0.5), 0, 3});
  Var d = vector("d", float64);
  check_array(evaluate(elu(d, 2.0), {{d, make(float64, {-1e-9, 1}, {2})}}), float64, {2},
              {2 * std::expm1(-1e-9), 1}, 1e-12);
  CHECK_ERROR(relu(Var()), {"relu", "null", file});
  CHECK_ERROR(elu(Var()), {"elu", "null", file});
}

TEST_CASE("nn: softmax matches hand values and its rows sum to 1") {
  Var x = matrix("x");
  Array v = make(float32, {1, 2, 3, 1, 1, 1, -1, 0, 5}, {3, 3});
  Values want = softmax_row({1, 2, 3});
  for (double p : softmax_row({1, 1, 1})) want.push_back(p);
  for (double p : softmax_row({-1, 0, 5})) want.push_back(p);
  Array y = evaluate(softmax(x), {{x, v}});
  check_array(y, float32, {3, 3}, want, 1e-6);
  check_array(evaluate(sum(softmax(x), 1), {{x, v}}), float32, {3}, {1, 1, 1}, 1e-6);
  // Along axis 0 each column is a distribution.
  Values col0 = softmax_row({1, 1, -1}), col1 = softmax_row({2, 1, 0}),
         col2 = softmax_row({3, 1, 5});
  check_array(evaluate(softmax(x, 0), {{x, v}}), float32, {3, 3},
              {col0[0], col1[0], col2[0], col0[1], col1[1], col2[1], col0[2], col1[2], col2[2]},
              1e-6);
  // A middle axis of a 3-d tensor, in float64.
  Var t = tensor3("t", float64);
  Array tv = make(float64, {0, 10, 1, 20, 2, 30, 3, 40}, {2, 2, 2});
  Values a = softmax_row({0, 1}), b = softmax_row({10, 20}), c = softmax_row({2, 3}),
         d = softmax_row({30, 40});
  check_array(evaluate(softmax(t, 1), {{t, tv}}), float64, {2, 2, 2},
              {a[0], b[0], a[1], b[1], c[0], d[0], c[1], d[1]}, 1e-12);
  // Integer logits compute in the default float.
  Var i = vector("i", int32);
  check_array(evaluate(softmax(i), {{i, make(int32, {0, 0}, {2})}}), float32, {2}, {0.5, 0.5});
}

TEST_CASE("nn: softmax and log_softmax stay finite at logits of magnitude 1000") {
  Var x = matrix("x");
  Array v = make(float32, {1000, -1000, -1000, 1000, 1000, 1000, -1000, -1000}, {4, 2});
  Array p = evaluate(softmax(x), {{x, v}});
  CHECK(all_finite(p));
  check_array(p, float32, {4, 2}, {1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5}, 1e-6);
  Array lp = evaluate(log_softmax(x), {{x, v}});
  CHECK(all_finite(lp));
  const double l2 = std::log(2.0);
  check_array(lp, float32, {4, 2}, {0, -2000, -2000, 0, -l2, -l2, -l2, -l2}, 1e-6);
  Var d = vector("d", float64);
  check_array(evaluate(log_softmax(d), {{d, make(float64, {1, 2, 3}, {3})}}), float64, {3},
              {std::log(softmax_row({1, 2, 3})[0]), std::log(softmax_row({1, 2, 3})[1]),
               std::log(softmax_row({1, 2, 3})[2])},
              1e-12);
  // Each column holds two logits of 1000 and two of -1000.
  check_array(evaluate(log_softmax(x, 0), {{x, v}}), float32, {4, 2},
              {-l2, -2000 - l2, -2000 - l2, -l2, -l2, -l2, -2000 - l2, -2000 - l2}, 1e-6);
}

TEST_CASE("nn: categorical_crossentropy with labels and with distributions") {
  Var p = tensor("p", float32, {unknown_dim, 3});
  Array pv = make(float32, {0.7, 0.2, 0.1, 0.1, 0.1, 0.8}, {2, 3});
  Var labels = vector("labels", int64);
  Var y = categorical_crossentropy(p, labels);
  CHECK(y.static_shape() == Shape{unknown_dim});
  check_array(evaluate(y, {{p, pv}, {labels, make(int64, {0, 2}, {2})}}), float32, {2},
              {-std::log(0.7), -std::log(0.8)}, 1e-6);
  // A zero probability on a class that is not the label does not turn the loss into NaN.
  check_array(evaluate(categorical_crossentropy(p, labels),
                       {{p, make(float32, {1, 0, 0, 0, 0.5, 0.5}, {2, 3})},
                        {labels, make(int64, {0, 2}, {2})}}),
              float32, {2}, {0, std::log(2.0)}, 1e-6);

  Var dist = matrix("dist");
  check_array(evaluate(categorical_crossentropy(p, dist),
                       {{p, pv}, {dist, make(float32, {1, 0, 0, 0, 0.5, 0.5}, {2, 3})}}),
              float32, {2}, {-std::log(0.7), -(0.5 * std::log(0.1) + 0.5 * std::log(0.8))},
              1e-6);
  // One-hot integers of probs' shape are a distribution too.
  Var onehot = matrix("onehot", int32);
  check_array(evaluate(categorical_crossentropy(p, onehot),
                       {{p, pv}, {onehot, make(int32, {1, 0, 0, 0, 0, 1}, {2, 3})}}),
              float32, {2}, {-std::log(0.7), -std::log(0.8)}, 1e-6);
  // float64 targets promote the result (and the upcast is reported).
  CapturedWarnings warnings;
  Var dist64 = matrix("dist64", float64);
  CHECK(categorical_crossentropy(p, dist64).dtype() == float64);
  CHECK(warnings.messages.size() == 1);
  // Labels of a batch of sequences: probs (batch, time, classes), labels (batch, time).
  Var p3 = tensor("p3", float64, {1, 2, 2});
  Var l2 = matrix("l2", int32);
  check_array(evaluate(categorical_crossentropy(p3, l2),
                       {{p3, make(float64, {0.25, 0.75, 0.5, 0.5}, {1, 2, 2})},
                        {l2, make(int32, {1, 0}, {1, 2})}}),
              float64, {1, 2}, {-std::log(0.75), std::log(2.0)}, 1e-12);
}

TEST_CASE("nn: binary_crossentropy") {
  Var p = vector("p"), t = vector("t");
  check_array(evaluate(binary_crossentropy(p, t),
                       {{p, make(float32, {0.9, 0.2, 0.5}, {3})},
                        {t, make(float32, {1, 0, 0.5}, {3})}}),
              float32, {3}, {-std::log(0.9), -std::log(0.8), std::log(2.0)}, 1e-6);
  Var ti = vector("ti", int32);
  check_array(evaluate(binary_crossentropy(p, ti),
                       {{p, make(float32, {0.9, 0.2}, {2})}, {ti, make(int32, {1, 0}, {2})}}),
              float32, {2}, {-std::log(0.9), -std::log(0.8)}, 1e-6);
  Var tb = vector("tb", bool_);
  CHECK(binary_crossentropy(p, tb).dtype() == float32);
  CapturedWarnings warnings;
  Var p64 = vector("p64", float64);
  Var y = binary_crossentropy(p64, t);
  CHECK(y.dtype() == float64);
  CHECK(!warnings.messages.empty());
  check_array(evaluate(y, {{p64, make(float64, {0.25}, {1})}, {t, make(float32, {1}, {1})}}),
              float64, {1}, {std::log(4.0)}, 1e-12);
}

TEST_CASE("nn: user errors name the function, the types and the line") {
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(softmax(x, 2), {"softmax", "axis 2", "rank 2", "float32[2, 3]", file});
  CHECK_ERROR(log_softmax(x, -3), {"log_softmax", "axis -3", "float32[2, 3]", file});
  CHECK_ERROR(softmax(Var()), {"softmax", "null", file});

  Var labels = vector("labels", int64);
  // An unknown class count is fine: it is read from probs at run time.
  Var unknown = matrix("p");
  check_array(evaluate(categorical_crossentropy(unknown, labels),
                       {{unknown, make(float32, {0.5, 0.25, 0.25, 0.1, 0.1, 0.8}, {2, 3})},
                        {labels, make(int64, {0, 2}, {2})}}),
              float32, {2}, {std::log(2.0), -std::log(0.8)}, 1e-6);
  CHECK_ERROR(categorical_crossentropy(x, tensor("t", float32, {2})),
              {"categorical_crossentropy", "float32[2]", "float32[2, 3]", file});
  CHECK_ERROR(categorical_crossentropy(x, tensor("t", float32, {2, 4})),
              {"categorical_crossentropy", "float32[2, 4]", "float32[2, 3]", file});
  CHECK_ERROR(categorical_crossentropy(x, tensor("t", int32, {2, 3, 1})),
              {"categorical_crossentropy", "int32[2, 3, 1]", file});
  CHECK_ERROR(categorical_crossentropy(scalar("s"), labels),
              {"categorical_crossentropy", "float32[]", file});
  CHECK_ERROR(categorical_crossentropy(x, Var()), {"categorical_crossentropy", "null", file});
  CHECK_ERROR(binary_crossentropy(Var(), x), {"binary_crossentropy", "null", file});
}
