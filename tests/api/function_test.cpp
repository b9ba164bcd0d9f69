// function(): Theano's semantics for inputs, outputs, updates, givens and random streams.
#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
Array vec(std::initializer_list<float> v) { return Array::from_list<float>(v); }
}  // namespace

TEST_CASE("a function computes its outputs") {
  Var x = vector("x"), y = vector("y");
  auto f = function({x, y}, {x + y, x * y});
  auto out = f(vec({1, 2}), vec({3, 4}));
  REQUIRE(out.size() == 2);
  CHECK(allclose(out[0], vec({4, 6})));
  CHECK(allclose(out[1], vec({3, 8})));
  Array single = function({x}, {x * 2})(vec({5}));
  CHECK(allclose(single, vec({10})));
  CHECK_ERROR(static_cast<Array>(out), {"returns 2 outputs"});
}

TEST_CASE("numbers can be passed for rank-0 inputs") {
  Var a = scalar("a", int32), b = scalar("b");
  auto f = function({a, b}, {cast(a, float32) * b});
  CHECK(Array(f(3, 0.5)).item<float>() == doctest::Approx(1.5));
  CHECK_ERROR(f(2.5, 1.0), {"input 0 ('a')", "int32 cannot represent"});
}

TEST_CASE("updates are computed from the old state and written together") {
  auto a = shared(Array::scalar<float>(1), "a");
  auto b = shared(Array::scalar<float>(2), "b");
  // A swap only works when every new value is computed before any is written.
  auto swap = function({}, {a + b}, {.updates = {{a, b}, {b, a}}});
  CHECK(Array(swap()).item<float>() == 3);
  CHECK(a.get_value().item<float>() == 2);
  CHECK(b.get_value().item<float>() == 1);
  swap();
  CHECK(a.get_value().item<float>() == 1);
}

TEST_CASE("a training-style accumulator updates shared state on every call") {
  auto w = shared(vec({0, 0}), "w");
  Var g = vector("g");
  auto step = function({g}, {w}, {.updates = {{w, w - 0.5f * g}}});
  Array before = step(vec({2, 4}));
  CHECK(allclose(before, vec({0, 0})));  // outputs see the state before the update
  CHECK(allclose(w.get_value(), vec({-1, -2})));
  step(vec({2, 4}));
  CHECK(allclose(w.get_value(), vec({-2, -4})));
}

TEST_CASE("outputs never alias library state") {
  auto w = shared(vec({1, 2}), "w");
  auto f = function({}, {w});
  Array out = f();
  out.set<float>({0}, 100);
  CHECK(w.get_value().at<float>({0}) == 1);
}

TEST_CASE("givens substitute before compiling") {
  Var x = vector("x"), y = vector("y");
  auto w = shared(vec({10, 20}), "w");
  auto f = function({y}, {x + w}, {.givens = {{x, y * 2}}});
  CHECK(allclose(f(vec({1, 2})), vec({12, 24})));
  CHECK_ERROR(function({y}, {x + 1}, {.givens = {{x, matrix("m")}}}),
              {"givens", "float32[?]", "float32[?, ?]"});
}

TEST_CASE("on_unused_input raises, warns or ignores") {
  Var x = vector("x"), unused = vector("u");
  CHECK_ERROR(function({x, unused}, {x * 2}), {"input 1 ('u') is not used", "function_test.cpp"});
  std::vector<std::string> warnings;
  auto old = set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  function({x, unused}, {x * 2}, {.on_unused_input = OnUnusedInput::Warn});
  set_warning_handler(old);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("'u'") != std::string::npos);
  auto f = function({x, unused}, {x * 2}, {.on_unused_input = OnUnusedInput::Ignore});
  CHECK(allclose(f(vec({1}), vec({7})), vec({2})));
}

TEST_CASE("building a function rejects bad inputs, outputs and updates") {
  Var x = vector("x"), y = vector("y");
  auto w = shared(vec({1}), "w");
  CHECK_ERROR(function({x}, {x + y}), {"depend on input 'y'", "not in the inputs list"});
  CHECK_ERROR(function({x, x}, {x}), {"listed twice"});
  CHECK_ERROR(function({x * 2}, {x}), {"not a symbolic input"});
  CHECK_ERROR(function({w}, {x}), {"not a symbolic input"});
  CHECK_ERROR(function({x}, {x}, {.updates = {{x, x}}}), {"'x' is not a shared variable"});
  CHECK_ERROR(function({x}, {x}, {.updates = {{w, cast(x, float64)}}}),
              {"'w'", "float64[?]", "float32[?]"});
  CHECK_ERROR(function({x}, {x}, {.updates = {{w, x}, {w, x}}}), {"updated twice"});
}

TEST_CASE("calls with wrong inputs raise and modify nothing") {
  Var x = matrix("x");
  Var fixed = tensor("fixed", float32, {unknown_dim, 3});
  auto w = shared(Array::scalar<float>(0), "w");
  auto f = function({x, fixed}, {x.sum() + fixed.sum()}, {.updates = {{w, w + 1}}, .name = "step"});
  Array good = Array::ones({2, 3});
  f(good, good);
  CHECK(w.get_value().item<float>() == 1);
  CHECK_ERROR(f(good), {"function 'step'", "expected 2 inputs, got 1"});
  CHECK_ERROR(f(Array::ones({2, 3}, float64), good),
              {"input 0 ('x')", "expected float32[?, ?], got float64[2, 3]"});
  CHECK_ERROR(f(Array::ones({6}), good), {"input 0 ('x')", "got float32[6]"});
  CHECK_ERROR(f(good, Array::ones({2, 4})),
              {"input 1 ('fixed')", "expected float32[?, 3], got float32[2, 4]"});
  CHECK(w.get_value().item<float>() == 1);
}

TEST_CASE("random streams advance on every call and repeat with the same seed") {
  auto draw = [](std::uint64_t seed) {
    RandomStreams rng(seed);
    Var u = rng.uniform({3});
    auto f = function({}, {u});
    Array first = f(), second = f();
    return std::pair{first, second};
  };
  auto [a1, a2] = draw(42);
  auto [b1, b2] = draw(42);
  auto [c1, c2] = draw(7);
  CHECK(array_equal(a1, b1));
  CHECK(array_equal(a2, b2));
  CHECK_FALSE(array_equal(a1, a2));
  CHECK_FALSE(array_equal(a1, c1));
  for (double v : a1.to_double_vector()) CHECK((v >= 0 && v < 1));
}

TEST_CASE("random draws: shapes, ranges, dtypes, reseeding") {
  RandomStreams rng(1);
  Var n = scalar("n", int64);
  Var u = rng.uniform({n, 2}, -1, 1, float64);
  Var k = rng.integers({1000}, 3, 6);
  Var b = rng.bernoulli({1000}, 0.25);
  Var g = rng.normal({2000}, 5, 2);
  CHECK(u.type().str() == "float64[?, 2]");
  auto f = function({n}, {u, k, b, g});
  auto out = f(std::int64_t{4});
  CHECK(out[0].shape() == Shape{4, 2});
  for (double v : out[0].to_double_vector()) CHECK((v >= -1 && v < 1));
  auto ks = out[1].to_double_vector();
  CHECK(*std::min_element(ks.begin(), ks.end()) == 3);
  CHECK(*std::max_element(ks.begin(), ks.end()) == 5);
  double ones = 0;
  for (double v : out[2].to_double_vector()) ones += v;
  CHECK(ones / 1000 == doctest::Approx(0.25).epsilon(0.25));
  double mean = 0;
  for (double v : out[3].to_double_vector()) mean += v / 2000;
  CHECK(mean == doctest::Approx(5).epsilon(0.05));

  rng.seed(99);
  Array again1 = f(std::int64_t{4})[0];
  rng.seed(99);
  Array again2 = f(std::int64_t{4})[0];
  CHECK(array_equal(again1, again2));
  CHECK_ERROR(rng.uniform({2}, 1, 0), {"random_uniform", "low (1) must be < high (0)"});
  CHECK_ERROR(rng.integers({2}, 0, 5, float32), {"random_integers", "integer type"});
}

TEST_CASE("an explicit update of a random state overrides the automatic one") {
  RandomStreams rng(3);
  Var u = rng.uniform({2});
  SharedVar state = rng.states()[0];
  Array initial = state.get_value();
  auto f = function({}, {u}, {.updates = {{state, state}}});  // freeze the stream
  Array a = f(), b = f();
  CHECK(array_equal(a, b));
  CHECK(array_equal(state.get_value(), initial));
}
