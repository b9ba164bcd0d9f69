// The elementwise family's rules beyond single values: broadcasting (static and at run
// time), dtype promotion and weak scalars, the float64 upcast report, operators and their
// source lines, where/clip, and the user errors.
#include <string>
#include <vector>

#include "runtime/log.hpp"
#include "support.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using test::CapturedWarnings;
using test::this_file;

namespace {

// CHECK_ERROR takes C strings; a temporary's c_str() would dangle inside its loop.
const std::string file = this_file();

std::string op_of(const Var& y) { return std::string(y.node()->op().name); }

Array f32(std::initializer_list<float> v, Shape shape = {}) { return Array::from_list(v, shape); }

bool same_values(const Array& got, const std::vector<double>& want) {
  return got.to_double_vector() == want;
}


}  // namespace

TEST_CASE("elementwise: broadcasting") {
  SUBCASE("row + col") {
    Var r = row("r"), c = col("c");
    Var y = r + c;
    CHECK(y.static_shape() == Shape{unknown_dim, unknown_dim});
    Array v = evaluate(y, {{r, f32({1, 2, 3}, {1, 3})}, {c, f32({10, 20}, {2, 1})}});
    CHECK(v.shape() == Shape{2, 3});
    CHECK(same_values(v, {11, 12, 13, 21, 22, 23}));
  }
  SUBCASE("rank 0 with a matrix, padded on the left") {
    Var s = scalar("s"), m = matrix("m");
    Var y = s * m;
    CHECK(y.static_shape() == Shape{unknown_dim, unknown_dim});
    CHECK(same_values(evaluate(y, {{s, Array::scalar(2.0f)}, {m, f32({1, 2, 3, 4}, {2, 2})}}),
                      {2, 4, 6, 8}));
    Var v = tensor("v", float32, {3});
    CHECK((tensor("t", float32, {2, 1, 3}) + tensor("u", float32, {4, 1})).static_shape() ==
          Shape{2, 4, 3});
    CHECK((v - 1).static_shape() == Shape{3});
  }
  SUBCASE("static sizes fold: size-1 dims stretch, unknown meets static k gives k") {
    Var a = tensor("a", float32, {3, 1}), b = tensor("b", float32, {1, 4});
    CHECK((a * b).static_shape() == Shape{3, 4});
    CHECK((tensor("p", float32, {unknown_dim, 3}) + tensor("q", float32, {2, 3})).static_shape() ==
          Shape{2, 3});
    CHECK((tensor("p", float32, {1}) + vector("q")).static_shape() == Shape{unknown_dim});
    Array v = evaluate(a * b, {{a, f32({1, 2, 3}, {3, 1})}, {b, f32({1, 10, 100, 1000}, {1, 4})}});
    CHECK(same_values(v, {1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000}));
  }
  SUBCASE("empty arrays") {
    Var x = vector("x");
    Array v = evaluate(x + 1, {{x, f32({})}});
    CHECK(v.shape() == Shape{0});
    Var e = tensor("e", float32, {0, 3}), r = tensor("r", float32, {1, 3});
    CHECK((e + r).static_shape() == Shape{0, 3});
    CHECK(evaluate(e + r, {{e, Array::zeros({0, 3})}, {r, f32({1, 2, 3}, {1, 3})}}).shape() ==
          Shape{0, 3});
    Var m = matrix("m");
    CHECK(evaluate(where(m > 0, m, 0.0), {{m, Array::zeros({2, 0})}}).shape() == Shape{2, 0});
  }
  SUBCASE("where broadcasts all three operands") {
    Var c = tensor("c", bool_, {3, 1}), a = tensor("a", float32, {1, 4});
    Var y = where(c, a, 0.5);
    CHECK(y.static_shape() == Shape{3, 4});
    Array cv = Array::from_vector(std::vector<bool>{true, false, true}, {3, 1});
    CHECK(same_values(evaluate(y, {{c, cv}, {a, f32({1, 2, 3, 4}, {1, 4})}}),
                      {1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5, 1, 2, 3, 4}));
  }
}

TEST_CASE("elementwise: promotion and weak scalars") {
  Var i = vector("i", int32), f = vector("f", float32), d = vector("d", float64);
  Var b = vector("b", bool_);
  CHECK((i + 2.5).dtype() == float32);  // a float literal makes integers the default float
  CHECK((i * 2).dtype() == int32);      // an integer literal takes the tensor's dtype
  CHECK((f * 2).dtype() == float32);
  CHECK((d * 2.5f).dtype() == float64);
  CHECK((b + b).dtype() == int64);  // bool arithmetic is int64
  CHECK((b + 1).dtype() == int64);
  CHECK((b + true).dtype() == int64);
  CHECK((b * 2.5).dtype() == float32);
  CHECK((b & true).dtype() == bool_);
  CHECK((i < 2.5).dtype() == bool_);
  CHECK((i / i).dtype() == float32);  // true division of integers
  CHECK(floor_div(i, 2).dtype() == int32);
  CHECK(exp(i).dtype() == float32);
  CHECK(sqrt(b).dtype() == float32);
  CHECK(neg(i).dtype() == int32);
  CHECK(abs(vector("u", uint8)).dtype() == uint8);
  CHECK(sign(b).dtype() == int64);
  CHECK(isnan(i).dtype() == bool_);
  CHECK(add(2, 3).dtype() == int64);  // literals alone: int64, bool or the default float
  CHECK(add(2, 0.5).dtype() == float32);
  CHECK(where(true, 1, 0).dtype() == int64);

  Array bv = Array::from_vector(std::vector<bool>{true, true, false});
  CHECK(same_values(evaluate(b + b, {{b, bv}}), {2, 2, 0}));  // True + True = 2
  CHECK(same_values(evaluate(i + 2.5, {{i, Array::from_list<std::int32_t>({1, -3})}}),
                    {3.5, -0.5}));
  CHECK(same_values(evaluate(add(2, 0.5)), {2.5}));
  CHECK(same_values(evaluate(mod(i, 2.5), {{i, Array::from_list<std::int32_t>({7})}}), {2}));

  // An Array operand is a constant tensor, not a weak scalar.
  Var y = d + Array::from_list<double>({1, 2});
  CHECK(is_constant(y.node()->input(1)));
  CHECK(same_values(evaluate(y, {{d, Array::from_list<double>({1, 1})}}), {2, 3}));
  CHECK((f + Array::scalar<std::int64_t>(1)).dtype() == float32);
}

TEST_CASE("elementwise: identities return the input Var") {
  Var i = vector("i", int32), f = vector("f", float32);
  CHECK(floor(i).same(i));
  CHECK(ceil(i).same(i));
  CHECK(round(i).same(i));
  CHECK(trunc(vector("b", bool_)).dtype() == bool_);
  CHECK(cast(f, float32).same(f));
  CHECK(f.astype(float32).same(f));
  CHECK(op_of(f.astype(int32)) == "cast");
  CHECK(op_of(floor(f)) == "floor");
  CHECK((f + 1).same(f + 1));  // hash-consed: weak scalars make canonical constants
}

TEST_CASE("elementwise: float32 meeting float64 is promoted and reported once per line") {
  CapturedWarnings warnings;
  Var f = vector("f", float32), d = tensor("d", float64, {3});
  for (int k = 0; k < 3; ++k) {
    Var y = f + d;
    CHECK(y.dtype() == float64);
  }
  REQUIRE(warnings.messages.size() == 1);
  const std::string& m = warnings.messages[0];
  INFO(m);
  CHECK(m.find("float64 upcast: add of float32[?] and float64[3] at") != std::string::npos);
  CHECK(m.find(this_file()) != std::string::npos);
  Var z = minimum(d, f);  // another line: reported again
  CHECK(z.dtype() == float64);
  CHECK(warnings.messages.size() == 2);
  CHECK(warnings.messages.back().find("minimum of float32[?] and float64[3]") != std::string::npos);
  (void)(d * 2.5);  // weak literals and explicit casts are not upcasts
  (void)f.astype(float64);
  CHECK(warnings.messages.size() == 2);
}

TEST_CASE("elementwise: operators build the named ops at the user's line") {
  Var x = vector("x"), y = vector("y");
  Var b = vector("b", bool_), c = vector("c", bool_);
  CHECK(op_of(x + y) == "add");
  CHECK(op_of(x - y) == "sub");
  CHECK(op_of(x * y) == "mul");
  CHECK(op_of(x / y) == "true_div");
  CHECK(op_of(x % y) == "mod");
  CHECK(op_of(-x) == "neg");
  CHECK(op_of(x < y) == "lt");
  CHECK(op_of(x <= y) == "le");
  CHECK(op_of(x > y) == "gt");
  CHECK(op_of(x >= y) == "ge");
  CHECK(op_of(b & c) == "logical_and");
  CHECK(op_of(b | c) == "logical_or");
  CHECK(op_of(b ^ c) == "logical_xor");
  CHECK(op_of(~b) == "logical_not");
  CHECK((x + y).same(add(x, y)));
  CHECK((2 - x).node()->input(0).dtype() == float32);

  Var s = x + 1; const unsigned line1 = __LINE__;
  Var t = 1 - x; const unsigned line2 = __LINE__;
  Var u = exp(x); const unsigned line3 = __LINE__;
  CHECK(s.node()->location().line() == line1);
  CHECK(t.node()->location().line() == line2);
  CHECK(u.node()->location().line() == line3);
  CHECK(same_values(evaluate(1 - x, {{x, f32({3})}}), {-2}));
}

TEST_CASE("elementwise: clip and where") {
  Var f = vector("f"), i = vector("i", int32), c = vector("c", int32);
  CHECK(same_values(evaluate(clip(f, 0, 1), {{f, f32({-2, 0.5, 3})}}), {0, 0.5, 1}));
  Array ci = evaluate(clip(i, 0, 5), {{i, Array::from_list<std::int32_t>({-5, 3, 10})}});
  CHECK(ci.dtype() == int32);
  CHECK(same_values(ci, {0, 3, 5}));
  Array cn = evaluate(clip(f, 0, 1), {{f, f32({std::numeric_limits<float>::quiet_NaN()})}});
  CHECK(std::isnan(cn.to_double_vector()[0]));
  // A non-bool condition is compared with 0.
  Var w = where(c, f, -1);
  CHECK(w.dtype() == float32);
  CHECK(same_values(evaluate(w, {{c, Array::from_list<std::int32_t>({0, 5})}, {f, f32({7, 8})}}),
                    {-1, 8}));
}

TEST_CASE("elementwise: user errors name the op, the types and the user's line") {
  SUBCASE("static sizes that differ and are not 1") {
    Var a = tensor("a", float32, {3, 4}), b = tensor("b", float32, {5});
    CHECK_ERROR(a + b, {"add: cannot broadcast float32[3, 4] with float32[5]", file.c_str()});
    Var c = tensor("c", bool_, {2});
    CHECK_ERROR(where(c, tensor("x", float32, {3}), 0.0),
                {"where: cannot broadcast bool[2] with float32[3]", file.c_str()});
  }
  SUBCASE("unknown dims that disagree at run time") {
    Var a = matrix("a"), b = matrix("b");
    Var y = a + b;
    CHECK_ERROR(evaluate(y, {{a, Array::zeros({2, 3})}, {b, Array::zeros({4, 3})}}),
                {"add", "float32[2, 3]", "float32[4, 3]", file.c_str()});
    // An unknown dim that turns out to be 1 does not stretch (Theano's rule).
    CHECK_ERROR(evaluate(y, {{a, Array::zeros({1, 3})}, {b, Array::zeros({4, 3})}}),
                {"add", "float32[1, 3]", "float32[4, 3]", file.c_str()});
    Var r = row("r");
    CHECK(evaluate(r + b, {{r, Array::zeros({1, 3})}, {b, Array::zeros({4, 3})}}).shape() ==
          Shape{4, 3});
  }
  SUBCASE("primitives applied directly check their dtypes") {
    Var f = vector("f"), i = vector("i", int32);
    std::source_location here = std::source_location::current();
    CHECK_ERROR(apply(ops::add_op(), {f, i}, {}, here),
                {"add", "float32[?]", "int32[?]", file.c_str()});
    CHECK_ERROR(apply(ops::exp_op(), {i}, {}, here), {"exp", "float", "int32[?]", file.c_str()});
    CHECK_ERROR(apply(ops::add_op(), {vector("b", bool_), vector("c", bool_)}, {}, here),
                {"add", "bool[?]"});
    CHECK_ERROR(apply(ops::where_op(), {f, f, f}, {}, here), {"where", "bool", "float32[?]"});
    CHECK_ERROR(apply(ops::where_op(), {vector("b", bool_), f, i}, {}, here),
                {"where", "float32[?]", "int32[?]"});
    CHECK_ERROR(exp(Var()), {"exp", "null", file.c_str()});
  }
}
