// Gradients through scan (BPTT) against central differences in float64, for every form of
// scan: states with one and with several taps, sequence taps, map outputs, go_backwards,
// while loops (the executed steps), captured weights, a scan inside a scan.
#include "cgvm.hpp"
#include "support.hpp"

using cgvm::test::all_finite;

using namespace cgvm;

namespace {

Array random(std::uint64_t seed, const Shape& shape) {
  return Array::uniform(seed, shape, -0.8, 0.8, DType::Float64);
}

}  // namespace

TEST_CASE("scan grad: an RNN with a captured and a declared weight") {
  // in: xs [5, 3], h0 [4], w [3, 4] (captured), u [4, 4] (non-sequence)
  verify_grad(
      [](const std::vector<Var>& in) {
        const Var &w = in[2], &u = in[3];
        Var hs = scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + dot(v[1], v[2])); },
                      {.sequences = {in[0]}, .outputs_info = {in[1]}, .non_sequences = {u}})[0];
        return hs;  // all steps: a random projection of the stack
      },
      {random(1, {5, 3}), random(2, {4}), random(3, {3, 4}), random(4, {4, 4})});
}

TEST_CASE("scan grad: taps on states and sequences, map outputs beside states") {
  // s_t = tanh(a * s_{t-1} + s_{t-3} * x_{t+1} - x_{t-1}), m_t = s_{t-1} * x_t
  verify_grad(
      [](const std::vector<Var>& in) {
        std::vector<Var> out = scan(
            [&](const StepArgs& v) {
              // v: x[t-1], x[t], x[t+1], s[t-3], s[t-1], a
              Var next = tanh(v[5] * v[4] + v[3] * v[2] - v[0]);
              return std::vector<Var>{next, v[4] * v[1]};
            },
            {.sequences = {Sequence(in[0], {-1, 0, 1})},
             .outputs_info = {Recurrence(in[1], {-3, -1}), Recurrence(Var())},
             .non_sequences = {in[2]}});
        return out[0].sum() + (out[1] * out[1]).sum();
      },
      {random(5, {7, 2}), random(6, {3, 2}), random(7, {2})});
}

TEST_CASE("scan grad: go_backwards and a bounded n_steps") {
  verify_grad(
      [](const std::vector<Var>& in) {
        return scan([](const StepArgs& v) { return sin(v[0] * v[1]) + v[1]; },
                    {.sequences = {in[0]}, .outputs_info = {in[1]}, .n_steps = 4,
                     .go_backwards = true})[0];
      },
      {random(8, {6, 3}), random(9, {3})});
}

TEST_CASE("scan grad: a while loop differentiates the steps it ran") {
  // grows x until its sum passes 2; the number of steps is fixed by the point
  verify_grad(
      [](const std::vector<Var>& in) {
        Var grown = scan(
            [&](const StepArgs& v) {
              Var next = v[0] * in[1] + 0.3;
              return StepResult({next}, next.sum() > 2);
            },
            {.outputs_info = {in[0]}, .n_steps = 50})[0];
        return grown;
      },
      {Array::from_list<double>({0.1, 0.2}), Array::from_list<double>({1.2, 1.1})});
}

TEST_CASE("scan grad: a scan inside a scan, and a fold") {
  verify_grad(
      [](const std::vector<Var>& in) {
        Var rows = map(
            [&](const StepArgs& row) {
              return foldl([](const StepArgs& v) { return v[1] * v[0] + v[0]; }, {row[0]},
                           row[1]);
            },
            {in[0]}, {in[1]})[0];
        return rows;
      },
      {random(10, {3, 4}), Array::scalar<double>(0.5)});
}

TEST_CASE("scan grad: truncate_gradient stops after that many steps back") {
  Var xs = vector("xs"), s0 = scalar("s0");
  // s_t = s_{t-1} + x_t: d s_last / d x_t = 1 for every t, d/ds0 = 1 without truncation
  auto last = [&](int truncate) {
    return scan([](const StepArgs& v) { return v[0] + v[1]; },
                {.sequences = {xs}, .outputs_info = {s0}, .truncate_gradient = truncate})[0]
        [Index(-1)];
  };
  const Array x = Array::from_list<float>({1, 2, 3, 4, 5});
  const Array s = Array::scalar<float>(0);
  std::vector<Var> full = grad(last(-1), std::vector<Var>{xs, s0});
  std::vector<Var> cut = grad(last(2), std::vector<Var>{xs, s0});
  Outputs r = function({xs, s0}, {full[0], full[1], cut[0], cut[1]})(x, s);
  CHECK(r[0].to_double_vector() == std::vector<double>{1, 1, 1, 1, 1});
  CHECK(r[1].item<double>() == 1);
  CHECK(r[2].to_double_vector() == std::vector<double>{0, 0, 0, 1, 1});
  CHECK(r[3].item<double>() == 0);
  // a truncation longer than the loop is no truncation
  std::vector<Var> long_cut = grad(last(10), std::vector<Var>{xs, s0});
  Outputs q = function({xs, s0}, {long_cut[0], long_cut[1]})(x, s);
  CHECK(q[0].to_double_vector() == std::vector<double>{1, 1, 1, 1, 1});
  CHECK(q[1].item<double>() == 1);
}

TEST_CASE("scan grad: grad of grad") {
  // second derivative of sum(s_t) with s_t = s_{t-1} * a, through the loop
  verify_grad(
      [](const std::vector<Var>& in) {
        Var total = scan([](const StepArgs& v) { return v[0] * v[1]; },
                         {.outputs_info = {in[0]}, .non_sequences = {in[1]}, .n_steps = 3})[0]
                        .sum();
        return grad(total, in[1]);
      },
      {Array::scalar<double>(0.7), Array::scalar<double>(1.3)});
}

TEST_CASE("scan grad: go_backwards with sequence taps, until with state taps") {
  verify_grad(
      [](const std::vector<Var>& in) {
        return scan([](const StepArgs& v) { return tanh(v[0] - 2 * v[1] + v[2] * v[3]); },
                    {.sequences = {Sequence(in[0], {-1, 0, 2})}, .outputs_info = {in[1]},
                     .go_backwards = true})[0];
      },
      {random(11, {7, 2}), random(12, {2})});
  verify_grad(
      [](const std::vector<Var>& in) {
        return scan(
            [](const StepArgs& v) {
              Var next = v[0] * 0.5 + v[1] * 1.1 + 0.2;
              return StepResult({next}, next.sum() > 3);
            },
            {.outputs_info = {Recurrence(in[0], {-2, -1})}, .n_steps = 30})[0];
      },
      {Array::from_list<double>({0.1, 0.2, 0.3, 0.4}, {2, 2})});
}

TEST_CASE("scan grad: a weight captured together with its transpose counts once") {
  verify_grad(
      [](const std::vector<Var>& in) {
        const Var& w = in[2];
        return scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + dot(v[1], w.T())); },
                    {.sequences = {in[0]}, .outputs_info = {in[1]}})[0];
      },
      {random(13, {4, 3}), random(14, {3}), random(15, {3, 3})});
}

TEST_CASE("scan grad: integer sequences and states carry no gradient, and do not stop it") {
  // an embedding lookup by character ids, as a character-level language model does
  Var ids = vector("ids", DType::Int64), table = matrix("table"), h0 = vector("h0");
  Var count = scalar("count", DType::Int64);
  std::vector<Var> out = scan(
      [&](const StepArgs& v) {
        return std::vector<Var>{tanh(table[v[0]] + v[1]), v[2] + 1};
      },
      {.sequences = {ids}, .outputs_info = {h0, count}});
  Var cost = out[0].sum() + cast(out[1], DType::Float32).sum();
  std::vector<Var> g = grad(cost, std::vector<Var>{table, h0});
  Function f = function({ids, table, h0, count}, g);
  Outputs r = f(Array::from_list<std::int64_t>({1, 0, 1}), Array::uniform(3, {2, 4}, -1, 1),
                Array::zeros({4}), Array::scalar<std::int64_t>(0));
  CHECK(all_finite(r[0]));
  CHECK(r[0].shape() == Shape{2, 4});
  CHECK(r[1].shape() == Shape{4});
  // against finite differences, the table as the variable
  const Array chars = Array::from_list<std::int64_t>({1, 0, 1});
  verify_grad(
      [&](const std::vector<Var>& in) {
        Var ids_c = constant(chars);
        return scan([&](const StepArgs& v) { return tanh(in[0][v[0]] + v[1]); },
                    {.sequences = {ids_c}, .outputs_info = {in[1]}})[0];
      },
      {random(16, {2, 4}), random(17, {4})});
}

TEST_CASE("scan grad: no step back-propagated gives zeros, not an error") {
  Var xs = vector("xs"), s0 = scalar("s0");
  Var states = scan([](const StepArgs& v) { return v[0] * v[1]; },
                    {.sequences = {xs}, .outputs_info = {s0}})[0];
  Var cost = states.sum() + s0;
  std::vector<Var> g = grad(cost, std::vector<Var>{xs, s0});
  Outputs r = function({xs, s0}, g)(Array::zeros({0}), Array::scalar<float>(2));
  CHECK(r[0].size() == 0);
  CHECK(r[1].item<double>() == 1);
  Var cut = scan([](const StepArgs& v) { return v[0] * v[1]; },
                 {.sequences = {xs}, .outputs_info = {s0}, .truncate_gradient = 0})[0];
  Outputs q = function({xs, s0}, grad(cut.sum(), std::vector<Var>{xs, s0}))(
      Array::from_list<float>({1, 2}), Array::scalar<float>(2));
  CHECK(q[0].to_double_vector() == std::vector<double>{0, 0});
  CHECK(q[1].item<double>() == 0);
}
