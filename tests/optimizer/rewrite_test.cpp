// The rewrite engine: pattern matching, the bottom-up walk, the fit check, termination.
#include "optimizer/rewrite.hpp"

#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using namespace cgvm::rules;
using cgvm::test::formula;

namespace {
Var keep(const Match& m) { return m[rules::x]; }
Var run_pass_with(const RuleSet& set, const Var& v, RewriteStats* stats = nullptr) {
  return rewrite(std::vector<Var>{v}, set, stats)[0];
}
}  // namespace

TEST_CASE("rewrite: patterns bind slots, try both orders of commutative ops, and repeat slots") {
  Var a = vector("a"), b = vector("b");
  Var prod = a * b;
  Match m1(*prod.node());
  CHECK(m1.match(op("mul", {x, y}), prod));
  CHECK(m1[x].same(a));
  CHECK(m1[y].same(b));
  // b * exp(a) matches exp(x) * y through the swapped order
  Var flipped = b * exp(a);
  Match m2(*flipped.node());
  CHECK(m2.match(op("mul", {op("exp", {x}), y}), flipped));
  CHECK(m2[x].same(a));
  CHECK(m2[y].same(b));
  // sub does not commute
  Match m3(*(a - b).node());
  CHECK_FALSE(m3.match(op("sub", {x, x}), a - b));
  Match m4(*(a - a).node());
  CHECK(m4.match(op("sub", {x, x}), a - a));
  // constants match by value, whatever their shape
  Var times_one = a * 1, times_ones = a * Array::ones({3});
  CHECK(Match(*times_one.node()).match(op("mul", {x, c(1)}), times_one));
  CHECK_FALSE(Match(*times_one.node()).match(op("mul", {x, c(2)}), times_one));
  CHECK(Match(*times_ones.node()).match(op("mul", {x, c(1)}), times_ones));
}

TEST_CASE("rewrite: one walk applies rules bottom-up, and a rewrite enables the next") {
  RuleSet set({{"x*1 -> x", op("mul", {x, c(1)}), keep}});
  Var a = vector("a");
  RewriteStats stats;
  // ((a*1)*1) + (a*1): the inner rewrite makes the outer one match
  Var out = run_pass_with(set, ((a * 1) * 1) + (a * 1), &stats);
  CHECK(formula(out) == "add(a, a)");
  // a*1 is one node (hash-consed), rewritten once; (a*1)*1 rebuilt is that same node again
  CHECK(stats.rewrites == 1);
  CHECK(stats.fired["x*1 -> x"] == 1);
  CHECK(formula(run_pass_with(set, ((exp(a) * 1) * 1) * 1)) == "exp(a)");
}

TEST_CASE("rewrite: outputs no rule touches come back as the same Var") {
  RuleSet set({{"x*1 -> x", op("mul", {x, c(1)}), keep}});
  Var a = vector("a");
  Var e = exp(a) * 2 + a;
  RewriteStats stats;
  CHECK(run_pass_with(set, e, &stats).same(e));
  CHECK(stats.rewrites == 0);
  CHECK(stats.nodes == 5);  // a, exp, 2, mul, add: each visited once
}

TEST_CASE("rewrite: rules see who reads a value in the graph the walk was given") {
  Var a = vector("a");
  Var e = exp(a);
  bool single = false;
  std::size_t readers = 0;
  RuleSet set({{"look at exp", op("exp", {x}), [&](const Match& m) {
                  single = m.single_use(m.node().output(0));
                  readers = m.readers(m.node().output(0)).size();
                  return Var();
                }}});
  auto look = [&](const std::vector<Var>& outputs) {
    rewrite(outputs, set);
    return std::pair{single, readers};
  };
  CHECK(look({e * 2}) == std::pair{true, std::size_t{1}});
  CHECK(look({e * 2 + e}) == std::pair{false, std::size_t{2}});  // two readers
  CHECK(look({e * e}) == std::pair{false, std::size_t{2}});      // one node, both inputs
  CHECK(look({e * 2, e}) == std::pair{false, std::size_t{1}});   // also an output
}

TEST_CASE("rewrite: a replacement that would lose a broadcast or change the dtype is skipped") {
  // x*1 -> x is wrong when 1 is what gives the result its shape
  RuleSet set({{"x*1 -> x", op("mul", {x, c(1)}), keep},
               {"x*2 -> x", op("mul", {x, c(2)}), keep}});
  Var r = tensor("r", DType::Float32, {1, unknown_dim});
  Var wide = r * Array::ones({3, 1});  // float32[3, ?]
  RewriteStats stats;
  CHECK(run_pass_with(set, wide, &stats).same(wide));
  CHECK(stats.rejected == 1);
  RuleSet widen({{"exp x -> float64", op("exp", {x}),
                  [](const Match& m) { return m.make("cast", {m[x]}, Attrs{{"dtype", DType::Float64}}); }}});
  Var e = exp(vector("v"));
  stats = {};
  CHECK(run_pass_with(widen, e, &stats).same(e));
  CHECK(stats.rejected == 1);
}

TEST_CASE("rewrite: rules that undo each other terminate") {
  RuleSet set({{"a+b -> b+a", op("add", {x, y}),
                [](const Match& m) { return m.make("add", {m[y], m[x]}); }}});
  Var a = vector("a"), b = vector("b");
  Var out = run_pass_with(set, a + b);
  CHECK((formula(out) == "add(a, b)" || formula(out) == "add(b, a)"));
}

TEST_CASE("rewrite: a 10,000-node chain is walked without recursion, each node once") {
  RuleSet set({{"x*1 -> x", op("mul", {x, c(1)}), keep}});
  Var a = vector("a");
  Var chain = a;
  for (int i = 0; i < 5000; ++i) chain = exp(chain) * 1;
  RewriteStats stats;
  Var out = run_pass_with(set, chain, &stats);
  CHECK(stats.rewrites == 5000);
  Var expected = a;
  for (int i = 0; i < 5000; ++i) expected = exp(expected);
  CHECK(out.same(expected));
}
