// scan(): Theano's semantics against hand-written loops, interpreted and compiled; the
// forms built on it (map, foldl, foldr, reduce); every user mistake's error.
#include <cmath>

#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {

// The outputs of `outputs` for these inputs, interpreted and compiled; both must agree.
std::vector<Array> run_both(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                            const std::vector<Array>& values) {
  std::vector<Value> args(values.begin(), values.end());
  Outputs interpreted = function(inputs, outputs, {.mode = Mode::Interpret})(args);
  Outputs compiled = function(inputs, outputs)(args);
  std::vector<Array> result;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    CHECK(allclose(interpreted[i], compiled[i]));
    result.push_back(compiled[i]);
  }
  return result;
}

std::vector<double> values_of(const Array& a) { return a.astype(DType::Float64).to_double_vector(); }

}  // namespace

TEST_CASE("scan: a recurrence over a sequence, with captured and declared weights") {
  Var xs = matrix("xs"), h0 = vector("h0"), w = matrix("w"), u = matrix("u");
  // h_t = tanh(x_t @ w + h_{t-1} @ u): w is captured, u declared
  Var hs = scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + dot(v[1], v[2])); },
                {.sequences = {xs}, .outputs_info = {h0}, .non_sequences = {u}})[0];
  CHECK(hs.type().str() == "float32[?, ?]");
  const Array x = Array::uniform(1, {5, 3}, -1, 1), h = Array::uniform(2, {4}, -1, 1);
  const Array wv = Array::uniform(3, {3, 4}, -1, 1), uv = Array::uniform(4, {4, 4}, -1, 1);
  Array got = run_both({xs, h0, w, u}, {hs}, {x, h, wv, uv})[0];
  REQUIRE(got.shape() == Shape{5, 4});
  // the loop by hand, in float64
  std::vector<double> xd = values_of(x), hd = values_of(h), wd = values_of(wv), ud = values_of(uv);
  std::vector<double> g = values_of(got);
  for (int t = 0; t < 5; ++t) {
    std::vector<double> next(4);
    for (int j = 0; j < 4; ++j) {
      double acc = 0;
      for (int i = 0; i < 3; ++i) acc += xd[t * 3 + i] * wd[i * 4 + j];
      for (int i = 0; i < 4; ++i) acc += hd[i] * ud[i * 4 + j];
      next[j] = std::tanh(acc);
      CHECK(g[t * 4 + j] == doctest::Approx(next[j]).epsilon(1e-5));
    }
    hd = next;
  }
  // strict: w must be declared
  CHECK_ERROR(scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + v[1]); },
                   {.sequences = {xs}, .outputs_info = {h0}, .strict = true, .name = "rnn"}),
              {"scan 'rnn'", "'w'", "non_sequences", test::this_file()});
  // values computed from declared ones are fine under strict
  Var strict_ok = scan([&](const StepArgs& v) { return tanh(dot(v[1], v[2].T()) + v[0].sum()); },
                       {.sequences = {xs}, .outputs_info = {h0}, .non_sequences = {u},
                        .strict = true})[0];
  CHECK(strict_ok.rank() == 2);
}

TEST_CASE("scan: sequence taps, state taps, map outputs") {
  Var xs = vector("xs");
  // taps {-1, 0, 1}: a three-point window; n - 2 steps
  Var window = scan([](const StepArgs& v) { return v[0] + v[1] * 10 + v[2] * 100; },
                    {.sequences = {Sequence(xs, {-1, 0, 1})}})[0];
  Array got = run_both({xs}, {window}, {Array::from_list<float>({1, 2, 3, 4, 5})})[0];
  CHECK(values_of(got) == std::vector<double>{321, 432, 543});

  // as in Theano, the current element always counts: taps {1} run len - 1 steps reading the
  // next element, taps {-2, -1} len - 2 steps; walking backwards, tap +1 is still the next
  Var next = scan([](const StepArgs& v) { return v[0]; }, {.sequences = {Sequence(xs, {1})}})[0];
  Var past = scan([](const StepArgs& v) { return v[0] * 10 + v[1]; },
                  {.sequences = {Sequence(xs, {-2, -1})}})[0];
  Var back = scan([](const StepArgs& v) { return v[0] + v[1] * 10 + v[2] * 100; },
                  {.sequences = {Sequence(xs, {-1, 0, 1})}, .go_backwards = true})[0];
  std::vector<Array> t = run_both({xs}, {next, past, back}, {Array::from_list<float>({1, 2, 3, 4, 5})});
  CHECK(values_of(t[0]) == std::vector<double>{2, 3, 4, 5});
  CHECK(values_of(t[1]) == std::vector<double>{12, 23, 34});
  CHECK(values_of(t[2]) == std::vector<double>{543, 432, 321});

  // Fibonacci with taps {-2, -1} from [0, 1], and a map output (no state) beside it
  Var f0 = vector("f0", DType::Int64);
  std::vector<Var> fib = scan(
      [](const StepArgs& v) { return std::vector<Var>{v[0] + v[1], v[1] * 2}; },
      {.outputs_info = {Recurrence(f0, {-2, -1}), Recurrence(Var())}, .n_steps = 6});
  std::vector<Array> r = run_both({f0}, fib, {Array::from_list<std::int64_t>({0, 1})});
  CHECK(values_of(r[0]) == std::vector<double>{1, 2, 3, 5, 8, 13});
  CHECK(values_of(r[1]) == std::vector<double>{2, 2, 4, 6, 10, 16});  // 2 * f_{t-1}
  CHECK(fib[0].type().str() == "int64[6]");
}

TEST_CASE("scan: go_backwards, n_steps from a shape, until") {
  Var xs = vector("xs"), zero = scalar("zero");
  Var backwards = scan([](const StepArgs& v) { return v[0] + v[1]; },
                       {.sequences = {xs}, .outputs_info = {zero}, .go_backwards = true})[0];
  Array got = run_both({xs, zero}, {backwards},
                       {Array::from_list<float>({1, 2, 3}), Array::scalar<float>(0)})[0];
  CHECK(values_of(got) == std::vector<double>{3, 5, 6});  // 3, 3+2, 5+1

  // n_steps symbolic: half the sequence
  Var half = scan([](const StepArgs& v) { return v[0] + v[1]; },
                  {.sequences = {xs}, .outputs_info = {zero}, .n_steps = floor_div(xs.shape(0), 2)})[0];
  got = run_both({xs, zero}, {half}, {Array::from_list<float>({1, 2, 3, 4, 5}), Array::scalar<float>(0)})[0];
  CHECK(values_of(got) == std::vector<double>{1, 3});

  // until: double until above 100, at most 20 steps; the stopping step is included
  Var start = scalar("start");
  Var grow = scan(
      [](const StepArgs& v) {
        Var next = v[0] * 2;
        return StepResult({next}, next > 100);
      },
      {.outputs_info = {start}, .n_steps = 20})[0];
  got = run_both({start}, {grow}, {Array::scalar<float>(3)})[0];
  CHECK(values_of(got) == std::vector<double>{6, 12, 24, 48, 96, 192});
  got = run_both({start}, {grow}, {Array::scalar<float>(1e-30f)})[0];
  CHECK(got.shape() == Shape{20});  // the bound
}

TEST_CASE("scan: map, foldl, foldr, reduce, and a scan inside a scan") {
  Var xs = vector("xs"), acc = scalar("acc");
  Var squares = map([](const StepArgs& v) { return sqr(v[0]); }, {xs})[0];
  Var left = foldl([](const StepArgs& v) { return v[1] * 10 + v[0]; }, {xs}, acc);
  Var right = foldr([](const StepArgs& v) { return v[1] * 10 + v[0]; }, {xs}, acc);
  Var total = reduce([](const StepArgs& v) { return v[1] + v[0]; }, {xs}, acc);
  std::vector<Array> r = run_both({xs, acc}, {squares, left, right, total},
                                  {Array::from_list<float>({1, 2, 3}), Array::scalar<float>(0)});
  CHECK(values_of(r[0]) == std::vector<double>{1, 4, 9});
  CHECK(values_of(r[1]) == std::vector<double>{123});
  CHECK(values_of(r[2]) == std::vector<double>{321});
  CHECK(values_of(r[3]) == std::vector<double>{6});
  // a fold over no elements is its initial value
  r = run_both({xs, acc}, {left}, {Array::zeros({0}), Array::scalar<float>(7)});
  CHECK(values_of(r[0]) == std::vector<double>{7});

  // each row's running sum, by a scan over rows whose step is a scan over the row
  Var m = matrix("m");
  Var running = map(
      [&](const StepArgs& row) {
        return scan([](const StepArgs& v) { return v[0] + v[1]; },
                    {.sequences = {row[0]}, .outputs_info = {zeros({}, DType::Float32)}})[0];
      },
      {m})[0];
  Array got = run_both({m}, {running}, {Array::from_list<float>({1, 2, 3, 4, 5, 6}, {2, 3})})[0];
  CHECK(values_of(got) == std::vector<double>{1, 3, 6, 4, 9, 15});
}

TEST_CASE("scan: user mistakes name the scan and the line") {
  Var xs = vector("xs"), ys = vector("ys"), h0 = vector("h0"), s0 = scalar("s0");
  auto add = [](const StepArgs& v) { return v[0] + v[1]; };
  // sequences of different lengths: at run time
  Var two = scan([](const StepArgs& v) { return v[0] + v[1] + v[2]; },
                 {.sequences = {xs, ys}, .outputs_info = {s0}, .name = "pair"})[0];
  Function f = function({xs, ys, s0}, {two});
  CHECK_ERROR(f(Array::from_list<float>({1, 2, 3}), Array::from_list<float>({1, 2}),
                Array::scalar<float>(0)),
              {"scan 'pair'", "different numbers of steps: 3 and 2", test::this_file()});
  // an initial state whose shape or dtype differs from what the step returns
  CHECK_ERROR(scan([&](const StepArgs& v) { return v[1] + h0; },
                   {.sequences = {xs}, .outputs_info = {s0}, .name = "s"}),
              {"scan 's'", "returns float32[?] for output 0", "is float32[]"});
  CHECK_ERROR(scan([](const StepArgs& v) { return v[0].sum(); },
                   {.sequences = {xs}, .outputs_info = {h0}}),
              {"returns float32[] for output 0", "float32[?]", test::this_file()});
  Var i0 = scalar("i0", DType::Int32);
  CHECK_ERROR(scan(add, {.sequences = {xs}, .outputs_info = {i0}}),
              {"returns float32[]", "int32[]"});
  // taps deeper than the initial value: static, and at run time
  Var two_steps = tensor("two", DType::Float32, {2});
  CHECK_ERROR(scan(add, {.outputs_info = {Recurrence(two_steps, {-3, -1})}, .n_steps = 4}),
              {"reach 3 steps back", "holds 2"});
  Var deep = scan([](const StepArgs& v) { return v[0] + v[1]; },
                  {.outputs_info = {Recurrence(xs, {-3, -1})}, .n_steps = 4})[0];
  CHECK_ERROR(function({xs}, {deep})(Array::from_list<float>({1, 2})),
              {"has 2 steps along its first axis", "need 3"});
  // n_steps negative (static and at run time), n_steps beyond the sequences, no bound at all
  CHECK_ERROR(scan(add, {.outputs_info = {s0}, .n_steps = -1}), {"n_steps is -1"});
  // a step reading an argument it does not get
  CHECK_ERROR(scan(add, {.outputs_info = {s0}, .n_steps = 3, .name = "one"}),
              {"scan 'one': the step reads argument 1, but it gets 1: outputs_info[0] at t-1"});
  CHECK_ERROR(scan(add, {.outputs_info = {s0}, .n_steps = xs.shape(0) * 0.5}),
              {"n_steps must be an integer scalar, got float"});
  Var n = scalar("n", DType::Int64);
  Var counted = scan([](const StepArgs& v) { return v[0] + 1; },
                     {.outputs_info = {s0}, .n_steps = n})[0];
  CHECK_ERROR(function({s0, n}, {counted})(Array::scalar<float>(0), Array::scalar<std::int64_t>(-2)),
              {"n_steps is -2"});
  Var bounded = scan(add, {.sequences = {xs}, .outputs_info = {s0}, .n_steps = n})[0];
  CHECK_ERROR(function({xs, s0, n}, {bounded})(Array::from_list<float>({1}), Array::scalar<float>(0),
                                               Array::scalar<std::int64_t>(3)),
              {"n_steps is 3, but the sequences give only 1"});
  CHECK_ERROR(scan(add, {.outputs_info = {s0}}), {"without sequences, n_steps must be given"});
  CHECK_ERROR(scan(add, {.sequences = {s0}, .outputs_info = {s0}}), {"sequences[0] is a scalar"});
  CHECK_ERROR(scan(add, {.sequences = {Sequence(xs, {1, 0})}, .outputs_info = {s0}}),
              {"increasing and distinct"});
  CHECK_ERROR(scan(add, {.sequences = {xs}, .outputs_info = {Recurrence(s0, {0})}}),
              {"must be negative"});
}



TEST_CASE("scan: random draws inside a step are fresh at every step and advance the stream") {
  RandomStreams inside(11), outside(11);  // same seed: the same first draw's numbers
  Var xs = matrix("xs");
  Var noisy = scan([&](const StepArgs& v) { return v[0] + inside.uniform({3}); },
                   {.sequences = {xs}, .name = "noisy"})[0];
  Function f = function({xs}, {noisy});
  const Array zeros = Array::zeros({3, 3});
  const std::vector<double> first = values_of(f(zeros)), second = values_of(f(zeros));
  // three steps: three different rows; the next call goes on where the last one stopped
  Var once = outside.uniform({3});
  Function g = function({}, {once});
  std::vector<double> want;
  for (int call = 0; call < 6; ++call) {
    std::vector<double> row = values_of(g());
    want.insert(want.end(), row.begin(), row.end());
  }
  CHECK(first == std::vector<double>(want.begin(), want.begin() + 9));
  CHECK(second == std::vector<double>(want.begin() + 9, want.end()));
  // interpreted, from the same stream state, the same numbers
  inside.seed(11);
  Function interpreted = function({xs}, {noisy}, {.mode = Mode::Interpret});
  CHECK(values_of(interpreted(zeros)) == first);
}

TEST_CASE("scan: BPTT recomputes a step's draws from the same state (a dropout mask)") {
  RandomStreams rng(5);
  Var xs = matrix("xs"), h0 = vector("h0");
  // h_t = h_{t-1} + x_t * mask_t: d sum(h) / d x_t = (steps - t) * mask_t
  std::vector<Var> out = scan(
      [&](const StepArgs& v) {
        Var mask = rng.bernoulli({4}, 0.5);
        return StepResult(std::vector<Var>{v[1] + v[0] * mask, mask});
      },
      {.sequences = {xs}, .outputs_info = {h0, Var()}});
  Var gx = grad(out[0].sum(), xs);
  Function f = function({xs, h0}, {out[1], gx});
  Outputs r = f(Array::uniform(1, {5, 4}, -1, 1), Array::zeros({4}));
  const std::vector<double> masks = values_of(r[0]), g = values_of(r[1]);
  REQUIRE(masks.size() == 20);
  double ones = 0;
  for (std::size_t i = 0; i < masks.size(); ++i) {
    const double steps_after = static_cast<double>(5 - i / 4);
    CHECK(g[i] == doctest::Approx(steps_after * masks[i]));
    ones += masks[i];
  }
  CHECK(ones > 0);
  CHECK(ones < 20);
}

TEST_CASE("scan: draws in an inner loop advance the stream across the outer loop's steps") {
  RandomStreams rng(3);
  Var xs = matrix("xs");
  // outer step: an inner loop of 2 steps each drawing one number; rows differ across the
  // outer steps (the inner loop starts where the last outer step left the stream)
  Var rows = scan(
      [&](const StepArgs& v) {
        return StepResult(
            scan([&](const StepArgs&) { return StepResult(rng.uniform({})); }, {.n_steps = 2})[0] +
            v[0].sum() * 0);
      },
      {.sequences = {xs}})[0];
  Function f = function({xs}, {rows});
  const std::vector<double> got = values_of(f(Array::zeros({3, 2})));
  REQUIRE(got.size() == 6);
  for (std::size_t i = 0; i < got.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) CHECK(got[i] != got[j]);
}

TEST_CASE("scan: a step updating a shared variable sees its previous value; the last is kept") {
  SharedVar count = shared(Array::scalar<float>(10), "count");
  Var xs = vector("xs");
  // each step adds its element to the count and returns the count it saw
  Var seen = scan(
      [&](const StepArgs& v) {
        StepResult r(Var(count) + 0);
        r.updates = {{count, count + v[0]}};
        return r;
      },
      {.sequences = {xs}, .name = "counter"})[0];
  for (Mode mode : {Mode::Compiled, Mode::Interpret}) {
    count.set_value(Array::scalar<float>(10));
    Function f = function({xs}, {seen}, {.mode = mode});
    CHECK(values_of(f(Array::from_list<float>({1, 2, 3}))) == std::vector<double>{10, 11, 13});
    CHECK(count.get_value().item<double>() == 16);
    CHECK(values_of(f(Array::from_list<float>({4}))) == std::vector<double>{16});
    CHECK(count.get_value().item<double>() == 20);
  }
  // no step: the variable keeps its value
  Function f = function({xs}, {seen});
  f(Array::zeros({0}));
  CHECK(count.get_value().item<double>() == 20);
  // an explicit update in function() wins over the loop's
  Function g = function({xs}, {seen}, {.updates = {{count, count * 0}}});
  g(Array::from_list<float>({5}));
  CHECK(count.get_value().item<double>() == 0);
  // mistakes: a non-shared target, a value of another type
  Var plain = scalar("plain");
  CHECK_ERROR(scan([&](const StepArgs& v) { StepResult r(v[0]); r.updates = {{plain, v[0]}}; return r; },
                   {.sequences = {xs}, .name = "bad"}),
              {"scan 'bad'", "not a shared variable", test::this_file()});
  CHECK_ERROR(scan([&](const StepArgs& v) { StepResult r(v[0]); r.updates = {{count, xs}}; return r; },
                   {.sequences = {xs}, .name = "bad"}),
              {"scan 'bad'", "new value of", test::this_file()});
}
