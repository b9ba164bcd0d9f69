// The ifelse_branches pass: each branch goes through the pipeline's rewrites (stabilized,
// canonical, specialized), nested ifelse and ifelse inside scan bodies too; values are kept,
// and where the branch as written overflows, the compiled function's result is the finite,
// right one.
#include <cmath>

#include "optimizer/ifelse_branches.hpp"
#include "pass_helpers.hpp"
#include "symbolic/op_list.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::formula;

namespace {

// The branches of the first ifelse node the outputs reach.
const Node* first_ifelse(const std::vector<Var>& outputs) {
  for (const Node* n : topo_sort(outputs))
    if (&n->op() == &ops::ifelse_op()) return n;
  return nullptr;
}

std::string branch_formula(const Node& n, const char* which) {
  return formula(n.attrs().get_subgraph(which)->outputs[0]);
}

}  // namespace

TEST_CASE("ifelse_branches: each branch is rewritten as the outer graph is") {
  Var a = vector("a"), c = scalar("c");
  Var picked = ifelse(c > 0, log(1 + a * 1), log(sigmoid(a))) * 2;
  RewriteStats stats;
  const std::vector<Var> out =
      optimize_ifelse_branches({picked}, [](const std::vector<Var>& v) {
        return optimize(v, {.check = true}).outputs;
      }, &stats);
  CHECK(stats.fired.at("ifelse branches") == 1);
  const Node* n = first_ifelse(out);
  REQUIRE(n != nullptr);
  // (the branch's placeholder for the operand a prints as operand0)
  CHECK(branch_formula(*n, "then") == "log1p(operand0)");
  CHECK(branch_formula(*n, "else") == "neg(softplus(neg(operand0)))");
  // The graph around it is rebuilt on the new node, and keeps its values both ways.
  for (float cv : {1.0f, -1.0f}) {
    const Bindings b{{a, Array::from_list<float>({0.5f, -0.75f, 3})}, {c, Array::scalar(cv)}};
    test::check_same_values(picked, out[0], b);
  }
  // Nothing to do: the graph comes back as it was.
  Var plain = exp(a);
  CHECK(optimize_ifelse_branches({plain}, [](const std::vector<Var>& v) { return v; })[0].same(plain));
}

TEST_CASE("ifelse_branches: nested ifelse, ifelse in a scan step, and one that reads another") {
  Var a = vector("a"), c = scalar("c");
  Var inner = ifelse(c > 1, log(1 + a), a);
  Var outer = ifelse(c > 0, inner * 1, -a);
  Var after = ifelse(outer.sum() > 0, log(1 + outer), outer);  // reads the first one
  OptimizedGraph g = optimize({after}, {.check = true});
  CHECK(g.passes[1].name == "ifelse_branches");
  CHECK(g.passes[1].stats.fired.at("ifelse branches") == 2);  // inner goes with outer's branch
  for (const Node* n : topo_sort(g.outputs)) {
    if (&n->op() != &ops::ifelse_op()) continue;
    for (const char* which : {"then", "else"}) {
      const std::string f = branch_formula(*n, which);
      INFO(f);
      CHECK(f.find("log(add") == std::string::npos);  // every log(1 + x) became log1p
      CHECK(f.find("mul(") == std::string::npos);     // and x * 1 became x
    }
  }
  for (float cv : {2.0f, 0.5f, -1.0f}) {
    const Bindings b{{a, Array::from_list<float>({0.5f, 0.25f, 3})}, {c, Array::scalar(cv)}};
    test::check_same_values(after, g.outputs[0], b);
  }
  // Inside a scan step: the loop's body goes through this pass as well.
  Var xs = vector("xs"), s0 = scalar("s0");
  Var total = scan([](const StepArgs& v) { return v[1] + ifelse(v[0] > 0, log(1 + v[0]), v[0]); },
                   {.sequences = {xs}, .outputs_info = {s0}})[0];
  Function f = function({xs, s0}, {total});
  CHECK(Array(f(Array::from_list<float>({1e-8f, -2, 3}), Array::scalar<float>(0)))
            .to_double_vector()[0] == doctest::Approx(1e-8).epsilon(1e-6));  // log1p's accuracy
}

TEST_CASE("ifelse_branches: a compiled function's branch is stabilized where, as written, it overflows") {
  Var x = vector("x"), c = scalar("c");
  Var y = ifelse(c > 0, log(sigmoid(x)), log(1 - sigmoid(x)));
  Function as_written = function({x, c}, {y}, {.mode = Mode::Interpret});
  Function compiled = function({x, c}, {y});
  const Array xa = Array::from_list<float>({-200, 0, 200});
  // log(sigmoid(-200)) is log(0) = -inf as written; softplus keeps it: -200.
  Array wrong = as_written(xa, Array::scalar(1.0f)), right = compiled(xa, Array::scalar(1.0f));
  CHECK(std::isinf(wrong.to_double_vector()[0]));
  CHECK(right.to_double_vector()[0] == doctest::Approx(-200));
  CHECK(right.to_double_vector()[1] == doctest::Approx(std::log(0.5)));
  right = compiled(xa, Array::scalar(-1.0f));
  CHECK(right.to_double_vector()[2] == doctest::Approx(-200));  // log(1 - sigmoid(200))
  CHECK(compiled.compile_report().to_string().find("ifelse_branches") != std::string::npos);
}
