// The pipeline: pass order and report, and that only what the outputs need is computed.
#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::formula;

TEST_CASE("pipeline: passes run in order and report what they did") {
  Var x = vector("x");
  OptimizedGraph g = optimize({log(1 + x * 1)}, {.check = true});
  std::vector<std::string> names;
  for (const PassReport& p : g.passes) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"scan_loops", "ifelse_branches", "canonicalize",
                                          "stabilize", "canonicalize", "specialize",
                                          "fuse_kernels"});
  CHECK_FALSE(g.passes[0].changed);  // no loop
  CHECK_FALSE(g.passes[1].changed);  // no ifelse
  CHECK(g.passes[2].changed);
  CHECK(g.passes[2].stats.fired.at("x*1 -> x") == 1);
  CHECK(g.passes[3].stats.fired.at("log(1+x) -> log1p(x)") == 1);
  CHECK_FALSE(g.passes[4].changed);
  CHECK(formula(g.outputs[0]) == "log1p(x)");
  CHECK(g.fusion.kernels.size() == 1);
}

TEST_CASE("pipeline: without rewrites, only fusion runs") {
  Var x = vector("x");
  Var e = x * 1;
  OptimizedGraph g = optimize({e}, {.rewrite = false});
  CHECK(g.outputs[0].same(e));
  CHECK(g.passes.size() == 1);
}

TEST_CASE("pipeline: what the outputs do not need is not computed") {
  Var x = vector("x");
  Var unused = exp(x) * 3;  // built, never asked for
  Var wanted = x + 1;
  Function f = function({x}, {wanted});
  CHECK(f.program().find("exp") == std::string::npos);
  CHECK(f.compile_report().kernels == 1);
  (void)unused;
  // a rewrite that removes the only use of an input's expensive branch prunes it too
  Var y = vector("y");
  Function g = function({x, y}, {x + (exp(y) - exp(y))});
  CHECK(g.program().find("exp") == std::string::npos);
  CHECK(allclose(g(Array::from_list<float>({1, 2}), Array::from_list<float>({3, 4})),
                 Array::from_list<float>({1, 2})));
}
