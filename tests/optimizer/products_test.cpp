// The product rules of canonicalize (simplify_products): cancellation of never-zero factors,
// masks moved outward, distribution where it cancels. Each rule printed, with values kept,
// and the cases where it must not fire.
#include "optimizer/simplify_products.hpp"
#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::check_same_values;
using cgvm::test::formula;
using cgvm::test::pass;

TEST_CASE("products: never-zero factors cancel across a fraction") {
  Var a = vector("a"), b = vector("b");
  Bindings binds{{a, Array::from_list<float>({0.5f, -1, 2})}, {b, Array::from_list<float>({3, 0.25f, -2})}};
  test::check_cases({
        {"a*e/e", a * exp(b) / exp(b), "a"},
        {"(e*a)*(b/e)", (exp(b) * a) * (b / exp(b)), "mul(a, b)"},
        {"e/(a*e)", exp(b) / (a * exp(b)), "true_div(1, a)"},
        {"sign kept", -(sigmoid(b) * a) / sigmoid(b), "neg(a)"},
        {"p = e/s cancels through", (exp(a) / sum(exp(a))) * (b / (exp(a) / sum(exp(a)))), "b"},
        {"nonzero constant", (a * 3) / 3, "a"},
        // every factor cancels: 1 with the sign, stretched to the shape the factors had
        {"all cancel, negated", (-exp(b)) / exp(b), "broadcast_to(-1, shape_of{axis=0}(b))"},
        {"all cancel", (sigmoid(a) * exp(b)) / (exp(b) * sigmoid(a)),
         "broadcast_to(1, shape_of{axis=0}(b))"},
      },
      binds, "canonicalize");
}

TEST_CASE("products: factors that may be 0 stay") {
  Var a = vector("a"), b = vector("b");
  // a*b/b is a only where b != 0: kept (at b = 0 it is NaN, and that is what was written)
  CHECK(formula(pass("canonicalize", a * b / b)) == "true_div(mul(a, b), b)");
  CHECK(formula(pass("canonicalize", a * tanh(b) / tanh(b))) == "true_div(mul(a, tanh(b)), tanh(b))");
  // a constant with a 0 element
  Var k = constant(Array::from_list<float>({1, 0, 2}));
  CHECK(formula(pass("canonicalize", a * k / k)).starts_with("true_div("));
}

TEST_CASE("products: never_zero") {
  Var a = vector("a");
  CHECK(never_zero(exp(a)));
  CHECK(never_zero(sum(exp(a))));
  CHECK(never_zero(-sigmoid(a) * softplus(a)));
  CHECK(never_zero(constant(-2.0, DType::Float32)));
  CHECK_FALSE(never_zero(a));
  CHECK_FALSE(never_zero(exp(a) - 1));
  CHECK_FALSE(never_zero(constant(Array::from_list<float>({1, 0}))));
  CHECK_FALSE(never_zero(tanh(a)));
}

TEST_CASE("products: masks move outward, and a known mask settles inner wheres") {
  Var a = vector("a"), b = vector("b");
  Var m = a > 0;
  Bindings binds{{a, Array::from_list<float>({0.5f, -1, 2})}, {b, Array::from_list<float>({3, 0.25f, -2})}};
  test::check_cases({
        {"* k", where(m, a, 0) * b, "where(gt(a, 0), mul(a, b), 0)"},
        {"k *", b * where(m, a, 0), "where(gt(a, 0), mul(a, b), 0)"},
        {"/ k", where(m, a, 0) / b, "where(gt(a, 0), true_div(a, b), 0)"},
        {"neg", -where(m, a, 0), "where(gt(a, 0), neg(a), 0)"},
        {"inner where in the taken branch", where(m, b / where(m, a, 1), 0),
         "where(gt(a, 0), true_div(b, a), 0)"},
        {"inner where in the other branch", where(m, b, exp(where(m, a, b))),
         "where(gt(a, 0), b, exp(b))"},
      },
      binds, "canonicalize");
  // must not fire: k / where(m, a, 0) (k/0 is not 0), a mask other than 0, another mask
  CHECK(formula(pass("canonicalize", b / where(m, a, 0))) == "true_div(b, where(gt(a, 0), a, 0))");
  CHECK(formula(pass("canonicalize", where(m, a, 2) * b)) == "mul(b, where(gt(a, 0), a, 2))");
  Var other = b > 0;
  CHECK(formula(pass("canonicalize", where(m, b / where(other, a, 1), 0))) ==
        "where(gt(a, 0), true_div(b, where(gt(b, 0), a, 1)), 0)");
}

TEST_CASE("products: k*(a+b) distributes only where k cancels") {
  Var a = vector("a"), b = vector("b");
  Bindings binds{{a, Array::from_list<float>({0.5f, -1, 2})}, {b, Array::from_list<float>({3, 0.25f, -2})}};
  Var e = exp(a);
  // e * (b/e + a) -> b + e*a
  Var before = e * (b / e + a);
  Var after = pass("canonicalize", before);
  CHECK(formula(after) == "add(b, mul(a, exp(a)))");
  check_same_values(before, after, binds);
  // through a mask: e * (where(m, b/e, 0) - a) -> where(m, b, 0) - e*a
  Var masked = e * (where(a > 0, b / e, 0) - a);
  Var settled = pass("canonicalize", masked);
  CHECK(formula(settled) == "sub(where(gt(a, 0), b, 0), mul(a, exp(a)))");
  check_same_values(masked, settled, binds);
  // nothing cancels: left as written
  CHECK(formula(pass("canonicalize", e * (b + a))) == "mul(exp(a), add(a, b))");
}

TEST_CASE("products: a long product built in reverse cancels once, at its root") {
  Var a = vector("a");
  Bindings binds{{a, Array::from_list<float>({0.5f, -1, 2})}};
  std::vector<Var> terms;
  for (int i = 0; i < 2000; ++i) terms.push_back(exp(a * (1.0 / (i + 1))));
  Var chain = terms.back();
  for (int i = 1998; i >= 0; --i) chain = chain * terms[i];
  Var before = chain / terms[0];
  Var after = pass("canonicalize", before);
  CHECK(formula(after).find("true_div") == std::string::npos);
  check_same_values(before, after, binds, 1e-4, 1e-5);
}
