// ifelse(): the branch taken, and only it, computed (interpreted and compiled); inside scan;
// its lazy gradient against finite differences; user mistakes. The control-flow family's
// coverage check closes the file.
#include "cgvm.hpp"
#include "support.hpp"

using cgvm::test::all_finite;

using namespace cgvm;

TEST_CASE("ifelse: picks a branch and computes only that one") {
  Var x = vector("x"), m = matrix("m");
  // the else branch fails when computed: a product of mismatched shapes at run time
  Var picked = ifelse(x.sum() > 0, exp(x), dot(m, x) * 2);
  for (Mode mode : {Mode::Interpret, Mode::Compiled}) {
    CAPTURE(static_cast<int>(mode));
    Function f = function({x, m}, {picked}, {.mode = mode});
    const Array bad = Array::zeros({2, 5});  // 5 columns for a 3-vector
    Array got = f(Array::from_list<float>({1, 2, 3}), bad);
    CHECK(allclose(got, Array::from_list<float>({std::exp(1.f), std::exp(2.f), std::exp(3.f)})));
    // the other way round the else branch runs, and its mistake is reported at its line
    CHECK_ERROR(f(Array::from_list<float>({-1, -2, -3}), bad),
                {"inner dimensions do not match", test::this_file()});
    got = f(Array::from_list<float>({-1, -2, -3}), Array::ones({2, 3}));
    CHECK(allclose(got, Array::from_list<float>({-12, -12})));
    // compiled, each branch is a program of its own, its kernels in the function's unit
    if (mode == Mode::Compiled) {
      const std::string program = f.program();
      CHECK(program.find("branch ifelse") != std::string::npos);
      CHECK(program.find("then:\n  kernel cgk") != std::string::npos);  // exp(x), fused
    }
  }
  // several values; a static size the branches disagree on is unknown
  Var t = tensor("t", DType::Float32, {2, 3});
  std::vector<Var> both = ifelse(scalar("c") > 0, std::vector<Var>{t, t.sum()},
                                 std::vector<Var>{t.T().T() * 0 + 1, t.max()});
  CHECK(both[0].type().str() == "float32[2, 3]");
  Var v = ifelse(scalar("c2") > 0, t.reshape({6}), vector("w"));
  CHECK(v.type().str() == "float32[?]");
}

TEST_CASE("ifelse: inside a scan step") {
  Var xs = vector("xs"), s0 = scalar("s0");
  // add positive elements, subtract the square of negative ones
  Var total = scan(
      [](const StepArgs& v) { return v[1] + ifelse(v[0] > 0, v[0], -sqr(v[0])); },
      {.sequences = {xs}, .outputs_info = {s0}})[0];
  Function f = function({xs, s0}, {total});
  CHECK(Array(f(Array::from_list<float>({1, -2, 3}), Array::scalar<float>(0))).to_double_vector() ==
        std::vector<double>{1, -3, 0});
}

TEST_CASE("ifelse: the gradient is the taken branch's") {
  auto fn = [](const std::vector<Var>& in) {
    return ifelse(in[0].sum() > in[1], tanh(in[0]) * in[1], exp(in[0] * 0.5) - in[1]);
  };
  verify_grad(fn, {Array::from_list<double>({0.3, 0.4}), Array::scalar<double>(0.2)});  // then
  verify_grad(fn, {Array::from_list<double>({0.3, 0.4}), Array::scalar<double>(0.9)});  // else
  // a branch that does not read an input gives it no gradient
  Var a = scalar("a"), b = scalar("b");
  Var g = grad(ifelse(a > 0, a * 3, b * 5), b);
  Function f = function({a, b}, {g}, {.on_unused_input = OnUnusedInput::Ignore});
  CHECK(Array(f(Array::scalar<float>(1), Array::scalar<float>(1))).item<double>() == 0);
  CHECK(Array(f(Array::scalar<float>(-1), Array::scalar<float>(1))).item<double>() == 5);
}

TEST_CASE("ifelse: user mistakes") {
  Var x = vector("x"), y = vector("y"), i = vector("i", DType::Int32), m = matrix("m");
  CHECK_ERROR(ifelse(x > 0, x, y), {"ifelse", "condition must be a scalar", "where()",
                                    test::this_file()});
  CHECK_ERROR(ifelse(x.sum() > 0, x, i), {"value 0 is float32[?] in the then branch and int32[?]"});
  CHECK_ERROR(ifelse(x.sum() > 0, x, m), {"one dtype and rank"});
  CHECK_ERROR(ifelse(x.sum() > 0, std::vector<Var>{x, y}, std::vector<Var>{x}),
              {"the branches give 2 and 1 values"});
}

TEST_CASE("ifelse: gradients through operands computed from one another, and random draws") {
  // gradient clipping: n = |g|, g * (c / n) where n > c
  auto clip = [](const std::vector<Var>& in) {
    Var n = sqrt(sqr(in[0]).sum());
    return ifelse(n > 1, in[0] * (1 / n), in[0]);
  };
  verify_grad(clip, {Array::from_list<double>({0.9, 1.2})});  // clipped
  verify_grad(clip, {Array::from_list<double>({0.3, 0.2})});  // not
  // a draw read by a branch is made outside it; dropout after the branch differentiates
  Var x = vector("x");
  RandomStreams rng(3);
  Var noisy = ifelse(x.sum() > 0, x + rng.uniform({3}), x);
  Var cost = (noisy * rng.uniform({3})).sum();
  Function f = function({x}, {grad(cost, x)});
  CHECK(all_finite(f(Array::from_list<float>({1, 2, 3}))));
  // a view of a buffer the branch keeps between calls is returned as a copy: the next call
  // does not overwrite the first one's result
  Function r = function({x}, {ifelse(x.sum() > 0, (x * 2).reshape({3, 1}), x.reshape({3, 1}))});
  const Array first = r(Array::from_list<float>({1, 2, 3}));
  (void)r(Array::from_list<float>({4, 5, 6}));
  CHECK(first.to_double_vector() == std::vector<double>{2, 4, 6});
  // a constant returned by the taken branch is a copy, never the constant's own storage
  Function k = function({x}, {ifelse(x.sum() > 0, constant(Array::ones({3})), x)});
  Array one = k(Array::from_list<float>({1, 1, 1}));
  one.data<float>()[0] = 5;
  CHECK(Array(k(Array::from_list<float>({1, 1, 1}))).to_double_vector() == std::vector<double>{1, 1, 1});
}

TEST_CASE("control flow: scan, scan_last and ifelse are the family's ops") {
  test::check_op_coverage(OpFamily::Control, {"scan", "scan_last", "ifelse"});
}
