// The scan_loops pass (optimizer/scan_loops.hpp) and the compiled loop it prepares: states
// read only through scan_last keep their last value, products of a sequence element by a
// fixed matrix move out of the loop, unread map outputs go; each with the values of the
// graph as written. The compiled loop writes its body's results in place.
#include "cgvm.hpp"
#include "optimizer/pipeline.hpp"
#include "optimizer/scan_loops.hpp"
#include "runtime/allocator.hpp"
#include "support.hpp"
#include "symbolic/op_list.hpp"

using namespace cgvm;

namespace {

// The pass with bodies left as they are (the pipeline optimizes them; here only the pass's
// own rewrites are looked at).
std::vector<Var> loops_pass(const std::vector<Var>& outputs, RewriteStats* stats) {
  return optimize_scan_loops(outputs, [](const std::vector<Var>& body) { return body; }, stats);
}

std::vector<const Node*> nodes_of(const std::vector<Var>& outputs, const OpDef& op) {
  std::vector<const Node*> found;
  for (const Node* n : topo_sort(outputs))
    if (&n->op() == &op) found.push_back(n);
  return found;
}

// Interpreted as written and compiled (the pipeline, this pass included) must agree.
void check_compiled(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                    const std::vector<Value>& args) {
  Outputs want = function(inputs, outputs, {.mode = Mode::Interpret})(args);
  Outputs got = function(inputs, outputs)(args);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    INFO("output ", i);
    CHECK(allclose(got[i], want[i], 1e-5, 1e-5));
  }
}

}  // namespace

TEST_CASE("scan_loops: a fold keeps only its last value; a state also read whole keeps all") {
  Var xs = matrix("xs"), s0 = vector("s0");
  Var folded = foldl([](const StepArgs& v) { return StepResult(v[1] * 0.5 + sqr(v[0])); }, {xs}, s0);
  RewriteStats stats;
  std::vector<Var> out = loops_pass({folded}, &stats);
  CHECK(stats.fired["scan state kept last only"] == 1);
  CHECK(nodes_of(out, ops::scan_last_op()).empty());
  REQUIRE(nodes_of(out, ops::scan_op()).size() == 1);
  CHECK(nodes_of(out, ops::scan_op())[0]->attrs().get_ints("last_only") == Ints{0});
  CHECK(out[0].type().str() == folded.type().str());
  const Array x = Array::uniform(1, {7, 3}, -1, 1), s = Array::uniform(2, {3}, -1, 1);
  check_compiled({xs, s0}, {folded}, {x, s});
  // no step: the initial value
  check_compiled({xs, s0}, {folded}, {Array::zeros({0, 3}), s});

  // the same loop's stack also returned: every row stays
  Var stack = folded.node()->input(0);
  RewriteStats kept;
  std::vector<Var> both = loops_pass({folded, stack}, &kept);
  CHECK(kept.fired.count("scan state kept last only") == 0);
  CHECK(nodes_of(both, ops::scan_op())[0]->attrs().get_ints("last_only").empty());
  check_compiled({xs, s0}, {folded, stack}, {x, s});
}

TEST_CASE("scan_loops: x_t @ W becomes one product before the loop, also for a tap ahead") {
  Var xs = matrix("xs"), h0 = vector("h0"), w = matrix("w"), u = matrix("u");
  // h_t = tanh(x_{t+1} @ w + x_t + h_{t-1} @ u): only the product of the element goes out
  Var hs = scan([&](const StepArgs& v) { return tanh(dot(v[1], w) + v[0] + dot(v[2], u)); },
                {.sequences = {Sequence(xs, {0, 1})}, .outputs_info = {h0}})[0];
  RewriteStats stats;
  std::vector<Var> out = loops_pass({hs}, &stats);
  CHECK(stats.fired["hoist product out of scan"] == 1);
  REQUIRE(nodes_of(out, ops::scan_op()).size() == 1);
  const Node& loop = *nodes_of(out, ops::scan_op())[0];
  CHECK(loop.attrs().get_ints("sequence_tap_counts") == Ints{2, 2});
  // one product stays in the body (the recurrent one); the hoisted one reads the whole sequence
  const Subgraph& body = *loop.attrs().get_subgraph("body");
  CHECK(nodes_of(body.outputs, ops::matmul_op()).size() == 1);
  CHECK(loop.input(2).node()->op().name != "input");
  const Array x = Array::uniform(1, {6, 3}, -1, 1), h = Array::uniform(2, {3}, -1, 1);
  const Array wv = Array::uniform(3, {3, 3}, -1, 1), uv = Array::uniform(4, {3, 3}, -1, 1);
  check_compiled({xs, h0, w, u}, {hs}, {x, h, wv, uv});

  // a product with a matrix computed in the step stays where it is
  Var kept = scan([&](const StepArgs& v) { return tanh(dot(v[0], u * v[1].sum())); },
                  {.sequences = {xs}, .outputs_info = {h0}})[0];
  RewriteStats none;
  loops_pass({kept}, &none);
  CHECK(none.fired.count("hoist product out of scan") == 0);
}

TEST_CASE("scan_loops: map outputs nobody reads are not computed") {
  Var xs = matrix("xs"), w = matrix("w");
  std::vector<Var> maps =
      map([&](const StepArgs& v) { return std::vector<Var>{exp(v[0]), dot(v[0], w)}; }, {xs});
  RewriteStats stats;
  std::vector<Var> out = loops_pass({maps[0]}, &stats);
  CHECK(stats.fired["unread scan output dropped"] == 1);
  CHECK(nodes_of(out, ops::scan_op())[0]->num_outputs() == 1);
  check_compiled({xs, w}, {maps[0].sum()},
                 {Array::uniform(1, {4, 3}, -1, 1), Array::uniform(2, {3, 2}, -1, 1)});
}

TEST_CASE("compiled scan: one loop step whose body runs fused kernels, results in place") {
  Var xs = matrix("xs"), h0 = vector("h0"), a = vector("a");
  Var hs = scan([&](const StepArgs& v) { return tanh(v[1] * a + v[0]); },
                {.sequences = {xs}, .outputs_info = {h0}, .name = "rnn"})[0];
  Function f = function({xs, h0, a}, {hs});
  const std::string program = f.program();
  INFO(program);
  CHECK(program.find("loop scan:") != std::string::npos);
  CHECK(program.find("  kernel cgk") != std::string::npos);  // the body's kernel, indented
  CHECK(program.find("  eval") == std::string::npos);        // nothing interpreted per step
  const Array h = Array::uniform(2, {64}, -1, 1), av = Array::uniform(3, {64}, -1, 1);
  auto allocations = [&](std::int64_t steps) {
    const Array x = Array::uniform(1, {steps, 64}, -1, 1);
    f(x, h, av);  // warm: the body's slots exist
    const std::uint64_t before = Allocator::global().stats().allocations;
    Array r = f(x, h, av);
    CHECK(r.shape() == Shape{steps, 64});
    return Allocator::global().stats().allocations - before;
  };
  // The body writes each step's state into its row: a call of 200 steps allocates no more
  // buffers than one of 10.
  CHECK(allocations(200) == allocations(10));
  check_compiled({xs, h0, a}, {hs}, {Array::uniform(1, {9, 64}, -1, 1), h, av});
  // debug mode checks the body's kernels at every step against the interpreter
  Function debug = function({xs, h0, a}, {hs}, {.mode = Mode::Debug});
  const Array x9 = Array::uniform(1, {9, 64}, -1, 1);
  CHECK(allclose(debug(x9, h, av), f(x9, h, av)));
  // the memory report reads a program with a loop step
  MemoryReport memory = f.memory_report({{9, 64}, {64}, {64}});
  CHECK(memory.argument_bytes == (9 * 64 + 64 + 64) * 4);
  // a shape mistake inside the step names the step's line
  CHECK_ERROR(f(Array::zeros({3, 5}), h, av), {"shapes do not match", test::this_file()});
}

TEST_CASE("scan_loops: BPTT's weight gradients leave the loop as one product each") {
  // h_t = tanh(x_t @ w + h_{t-1} @ u + b); the gradients of sum(h) w.r.t. w, u, b
  Var xs = tensor("xs", DType::Float64, {unknown_dim, 4, 3});
  Var h0 = tensor("h0", DType::Float64, {4, 5});
  Var w = tensor("w", DType::Float64, {3, 5}), u = tensor("u", DType::Float64, {5, 5});
  Var b = tensor("b", DType::Float64, {5});
  Var hs = scan([&](const StepArgs& v) { return tanh(dot(v[0], w) + dot(v[1], u) + b); },
                {.sequences = {xs}, .outputs_info = {h0}})[0];
  std::vector<Var> grads = grad(hs.sum(), std::vector<Var>{w, u, b});
  OptimizedGraph g = optimize(grads, {.check = true});
  // w's and u's sums (x_t^T @ dz_t, h_{t-1}^T @ dz_t) become products after the loop
  CHECK(g.passes[0].stats.fired["sum of products moved after scan"] == 2);
  // the forward loop stacks its h_{t-1} @ u for BPTT, which then does not multiply again
  CHECK(g.passes[0].stats.fired["scan product kept for its gradient"] == 1);
  // BPTT's recomputation of x_t @ w reads the forward's hoisted product: one product by w
  int products_by_w = 0;
  for (const Node* n : topo_sort(g.outputs))
    products_by_w += &n->op() == &ops::matmul_op() && n->input(1).same(w);
  CHECK(products_by_w == 1);
  std::vector<const Node*> loops = nodes_of(g.outputs, ops::scan_op());
  REQUIRE(loops.size() == 2);
  CHECK(loops[0]->num_outputs() == 2);  // h, and h_{t-1} @ u per step
  CHECK(loops[0]->attrs().get_ints("exports") == Ints{0, 1, 1});  // state 0, constant 1, output 1
  for (const Node* n : topo_sort(g.outputs))
    if (&n->op() == &ops::scan_op()) {
      INFO(n->attrs().str());
      CHECK(n->attrs().get_ints("state_tap_counts").size() <= 2);  // h's window and b's sum
    }
  const Array x = Array::uniform(1, {6, 4, 3}, -1, 1, DType::Float64);
  const Array h = Array::uniform(2, {4, 5}, -1, 1, DType::Float64);
  const Array wv = Array::uniform(3, {3, 5}, -1, 1, DType::Float64);
  const Array uv = Array::uniform(4, {5, 5}, -0.5, 0.5, DType::Float64);
  const Array bv = Array::uniform(5, {5}, -1, 1, DType::Float64);
  check_compiled({xs, h0, w, u, b}, grads, {x, h, wv, uv, bv});
  // no step: zero gradients
  check_compiled({xs, h0, w, u, b}, grads, {Array::zeros({0, 4, 3}, DType::Float64), h, wv, uv, bv});
}

TEST_CASE("scan_loops: an embedding looked up in the step leaves the loop, and so does its gradient") {
  // h_t = tanh(take(e, ids_t) @ w + h_{t-1} @ u); the gradients of sum(h) w.r.t. e, w, u
  Var ids = tensor("ids", DType::Int64, {unknown_dim, 4});
  Var e = tensor("e", DType::Float64, {10, 3}), h0 = tensor("h0", DType::Float64, {4, 5});
  Var w = tensor("w", DType::Float64, {3, 5}), u = tensor("u", DType::Float64, {5, 5});
  auto step = [&](const StepArgs& v) { return tanh(dot(take(e, v[0], 0), w) + dot(v[1], u)); };
  Var hs = scan(step, {.sequences = {ids}, .outputs_info = {h0}})[0];
  std::vector<Var> grads = grad(hs.sum(), std::vector<Var>{e, w, u});
  OptimizedGraph g = optimize(grads, {.check = true});
  const RewriteStats& stats = g.passes[0].stats;
  // The forward loop's lookup, and BPTT's recomputation of it over the same elements.
  CHECK(stats.fired.at("hoist lookup out of scan") == 2);
  // e's gradient: one inc_take of the stacked rows after BPTT, not a zero table per step
  CHECK(stats.fired.at("sum of scatters moved after scan") == 1);
  // One lookup in all (BPTT's is the forward's, selected), and its product by w hoisted too.
  CHECK(nodes_of(g.outputs, ops::take_op()).size() == 1);
  CHECK(nodes_of(g.outputs, ops::inc_take_op()).size() == 1);
  int products_by_w = 0;
  for (const Node* n : topo_sort(g.outputs))
    products_by_w += &n->op() == &ops::matmul_op() && n->input(1).same(w);
  CHECK(products_by_w == 1);
  for (const Node* loop : nodes_of(g.outputs, ops::scan_op())) {
    const Subgraph& body = *loop->attrs().get_subgraph("body");
    CHECK(nodes_of(body.outputs, ops::take_op()).empty());
    CHECK(nodes_of(body.outputs, ops::inc_take_op()).empty());
  }
  // Repeated ids add up; no step gives zero gradients.
  const Array id_values = Array::from_vector(
      std::vector<std::int64_t>{1, 2, 3, 3, 0, 9, 9, 9, 4, 1, 4, 1, 7, 7, 2, 5, 8, 6, 0, 3}, {5, 4});
  const Array ev = Array::uniform(1, {10, 3}, -1, 1, DType::Float64);
  const Array hv = Array::uniform(2, {4, 5}, -1, 1, DType::Float64);
  const Array wv = Array::uniform(3, {3, 5}, -1, 1, DType::Float64);
  const Array uv = Array::uniform(4, {5, 5}, -0.5, 0.5, DType::Float64);
  std::vector<Var> checked = grads;
  checked.push_back(hs);
  check_compiled({ids, e, h0, w, u}, checked, {id_values, ev, hv, wv, uv});
  check_compiled({ids, e, h0, w, u}, checked,
                 {Array::zeros({0, 4}, DType::Int64), ev, hv, wv, uv});
  // Lookups of two taps of the ids (the previous and the current element): one gather,
  // read at both taps.
  Var pairs = scan(
      [&](const StepArgs& v) {
        return tanh(dot(take(e, v[0], 0) - take(e, v[1], 0), w) + dot(v[2], u));
      },
      {.sequences = {Sequence(ids, {-1, 0})}, .outputs_info = {h0}})[0];
  RewriteStats tapped;
  std::vector<Var> tapped_out = loops_pass({pairs}, &tapped);
  CHECK(tapped.fired.at("hoist lookup out of scan") == 2);
  CHECK(nodes_of(tapped_out, ops::take_op()).size() == 1);
  check_compiled({ids, e, h0, w, u}, {pairs}, {id_values, ev, hv, wv, uv});

  // An id out of range is still the lookup's error, at the step function's line; where it is
  // among the ids names the step (3) and the row (2).
  Array bad_ids = id_values.copy();
  bad_ids.set<std::int64_t>({3, 2}, 10);
  CHECK_ERROR(function({ids, e, h0, w, u}, {hs})(bad_ids, ev, hv, wv, uv),
              {"take",
               "index 10 is out of bounds for axis 0 with size 10, at [3, 2] of the indices",
               test::this_file()});

  // Where the loop might not read every element, or the table changes, the lookup stays.
  Var n = scalar("n", DType::Int64);
  Var bounded = scan(step, {.sequences = {ids}, .outputs_info = {h0}, .n_steps = n})[0];
  Var until = scan([&](const StepArgs& v) {
                     Var h = tanh(dot(take(e, v[0], 0), w) + dot(v[1], u));
                     return StepResult({h}, h.sum() > 0);
                   },
                   {.sequences = {ids}, .outputs_info = {h0}})[0];
  Var changing = scan(
      [&](const StepArgs& v) {
        return StepResult(std::vector<Var>{v[1] * 0.5, take(v[1], v[0], 0)});
      },
      {.sequences = {ids}, .outputs_info = {e, Recurrence(Var())}})[1];
  for (const Var& loop : {bounded, until, changing}) {
    RewriteStats none;
    loops_pass({loop}, &none);
    CHECK(none.fired.count("hoist lookup out of scan") == 0);
  }
  check_compiled({ids, e, h0, w, u, n}, {bounded, until},
                 {id_values, ev, hv, wv, uv, Array::scalar<std::int64_t>(3)});
}
