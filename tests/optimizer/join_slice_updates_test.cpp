// The join_slice_updates rules (in canonicalize): sums of slice updates of zeros become one
// concatenate; a lone one a concatenate with zeros around it. Each case printed and its values
// kept (interpreter, before and after); cases where the rules must not fire; the gradient of a
// value read in four column slices (an LSTM's gates) compiled, against the interpreter.
#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::formula;
using cgvm::test::pass;

namespace {

void check_cases(const std::vector<test::Case>& cases, const Bindings& bindings) {
  test::check_cases(cases, bindings, "canonicalize");
}

int count_nodes(const Var& out, std::string_view name) {
  int n = 0;
  const std::vector<Var> outs{out};
  for (const Node* node : topo_sort(outs)) n += node->op().name == name;
  return n;
}

}  // namespace

TEST_CASE("join_slice_updates: updates of zeros in slices that meet -> concatenate") {
  Var a = matrix("a"), b = matrix("b"), c = matrix("c"), d = matrix("d"), m = matrix("m");
  Bindings binds{{a, Array::uniform(1, {3, 2}, -1, 1)}, {b, Array::uniform(2, {3, 2}, -1, 1)},
                 {c, Array::uniform(3, {3, 3}, -1, 1)}, {d, Array::uniform(4, {3, 1}, -1, 1)},
                 {m, Array::uniform(5, {3, 8}, -1, 1)}};
  Var z = zeros({3, 8});                   // static: the slices may cover it
  Var zu = zeros_like(m);                  // [?, ?]: what follows the last slice stays
  auto upd = [](const Var& base, std::int64_t i, std::int64_t k, const Var& y) {
    return inc_subtensor(base(slice(), slice(i, k)), y);
  };
  check_cases(
      {{"four slices covering the axis",
        upd(z, 0, 2, a) + upd(z, 2, 4, b) + upd(z, 4, 7, c) + upd(z, 7, 8, d),
        "concatenate{axis=1}(a, b, c, d)"},
       {"in any order",
        upd(z, 7, 8, d) + upd(z, 2, 4, b) + upd(z, 0, 2, a) + upd(z, 4, 7, c),
        "concatenate{axis=1}(a, b, c, d)"},
       {"the size known at run time only: zeros after the last slice",
        upd(zu, 0, 2, a) + upd(zu, 2, 4, b),
        "concatenate{axis=1}(a, b, subtensor{kinds=[1, 1], values=[-9223372036854775808, "
        "-9223372036854775808, 1, 4, -9223372036854775808, 1]}(broadcast_to(0, "
        "shape_of{axis=0}(m), shape_of{axis=1}(m))))"},
       {"a gap: zeros before the second run, two terms",
        upd(z, 0, 2, a) + upd(z, 4, 7, c),
        // (small zeros fold into constants; the + chain is sorted again)
        "add(concatenate{axis=1}(const<float32[3, 4]>, c, const<float32[3, 1]>), "
        "concatenate{axis=1}(a, const<float32[3, 6]>))"},
       {"other terms of the sum stay first",
        m + upd(z, 0, 2, a) + upd(z, 2, 4, b) + upd(z, 4, 7, c) + upd(z, 7, 8, d),
        "add(m, concatenate{axis=1}(a, b, c, d))"},
       {"a lone update: zeros around it",
        upd(z, 2, 4, b) * 2,
        "mul(2, concatenate{axis=1}(const<float32[3, 2]>, b, const<float32[3, 4]>))"}},
      binds);
}

TEST_CASE("join_slice_updates: what the rules leave alone") {
  Var a = matrix("a"), b = matrix("b"), m = matrix("m"), r = row("r");
  Bindings binds{{a, Array::uniform(1, {3, 2}, -1, 1)}, {b, Array::uniform(2, {3, 2}, -1, 1)},
                 {m, Array::uniform(5, {3, 8}, -1, 1)}, {r, Array::uniform(6, {1, 2}, -1, 1)}};
  Var z = zeros({3, 8});
  const std::vector<Var> untouched{
      // the base is not zeros
      inc_subtensor(m(slice(), slice(0, 2)), a) + inc_subtensor(m(slice(), slice(2, 4)), b),
      // the update stretches along the rows
      inc_subtensor(z(slice(), slice(0, 2)), r),
      // a step of 2
      inc_subtensor(z(slice(), slice(0, 4, 2)), a),
      // two axes sliced
      inc_subtensor(z(slice(0, 3), slice(0, 2)), a),
  };
  for (const Var& v : untouched) {
    CAPTURE(formula(v));
    Var after = pass("canonicalize", v);
    CHECK(count_nodes(after, "concatenate") == 0);
    CHECK(count_nodes(after, "inc_subtensor") == count_nodes(v, "inc_subtensor"));
    test::check_same_values(v, after, binds);
  }
}

TEST_CASE("join_slice_updates: the gradient of four gates, compiled") {
  // pre's four column ranges read apart, as an LSTM's gates: the gradient w.r.t. pre is one
  // concatenate of the gates' gradients, with no update of zeros left.
  Var x = matrix("x"), w = matrix("w");
  const std::int64_t H = 3;
  Var pre = dot(x, w);
  auto gate = [&](std::int64_t k) { return pre(slice(), slice(k * H, (k + 1) * H)); };
  Var cost = (sigmoid(gate(0)) * tanh(gate(2)) + sigmoid(gate(1)) * exp(gate(3))).sum();
  Var gw = grad(cost, w);
  std::vector<Var> optimized = optimize({gw}).outputs;
  CHECK(count_nodes(optimized[0], "inc_subtensor") == 0);
  CHECK(count_nodes(optimized[0], "concatenate") == 1);
  std::vector<Value> values{Array::uniform(1, {5, 4}, -1, 1), Array::uniform(2, {4, 4 * H}, -1, 1)};
  Function compiled = function({x, w}, {gw});
  Function reference = function({x, w}, {gw}, {.mode = Mode::Interpret});
  Array got = compiled(values), want = reference(values);
  CHECK(got.shape() == want.shape());
  CHECK(allclose(got, want, 1e-5, 1e-5));
  // and against central differences of the cost (float64)
  Var x64 = matrix("x64", DType::Float64), w64 = matrix("w64", DType::Float64);
  Var pre64 = dot(x64, w64);
  auto gate64 = [&](std::int64_t k) { return pre64(slice(), slice(k * H, (k + 1) * H)); };
  Var cost64 = (sigmoid(gate64(0)) * tanh(gate64(2)) + sigmoid(gate64(1)) * exp(gate64(3))).sum();
  Function f = function({x64, w64}, {cost64, grad(cost64, w64)});
  Array xv = Array::uniform(3, {5, 4}, -1, 1).astype(DType::Float64);
  Array wv = Array::uniform(4, {4, 4 * H}, -1, 1).astype(DType::Float64);
  Array g = f({xv, wv})[1];
  std::vector<double> wflat = wv.to_double_vector(), gflat = g.to_double_vector();
  const double eps = 1e-6;
  for (std::size_t i = 0; i < wflat.size(); ++i) {
    auto at = [&](double delta) {
      std::vector<double> moved = wflat;
      moved[i] += delta;
      return f({xv, Array::from_vector(moved, wv.shape())})[0].item<double>();
    };
    CHECK(std::abs((at(eps) - at(-eps)) / (2 * eps) - gflat[i]) < 1e-6);
  }
}
