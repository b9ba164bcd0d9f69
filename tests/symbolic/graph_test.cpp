// The graph core: hash-consing, source locations, substitution, traversal, the interpreter.
#include "cgvm.hpp"
#include "symbolic/op_list.hpp"
#include "support.hpp"

using namespace cgvm;

TEST_CASE("identical nodes are the same object (hash-consing)") {
  Var x = matrix("x"), y = matrix("y");
  Var a = x + y;
  Var b = x + y;
  CHECK(a.same(b));
  CHECK(a.node().get() == b.node().get());
  CHECK_FALSE((x + y).same(y + x));  // no commutativity at build time
  CHECK_FALSE((x * 2).same(x * 3));  // constants differ by value
  CHECK((x * 2).same(x * 2));        // and merge when equal
}

TEST_CASE("inputs with the same name stay distinct") {
  Var a = vector("v"), b = vector("v");
  CHECK_FALSE(a.same(b));
  CHECK(a.name() == "v");
}

TEST_CASE("nodes are freed when their last handle goes") {
  std::size_t before = live_node_count();
  {
    Var x = vector("x");
    Var y = exp(x) * 2 + x;
    CHECK(live_node_count() > before);
  }
  CHECK(live_node_count() == before);
}

TEST_CASE("every node records the user's line") {
  Var x = vector("x");
  int line = __LINE__ + 1;
  Var y = x * 2;
  CHECK(y.node()->location().line() == static_cast<unsigned>(line));
  CHECK(std::string(y.node()->location().file_name()).find("graph_test.cpp") !=
        std::string::npos);
}

TEST_CASE("topo_sort puts inputs before users, once each") {
  Var x = vector("x");
  Var a = exp(x);
  Var b = a + a * x;
  auto order = topo_sort(std::vector<Var>{b});
  auto pos = [&](const Var& v) {
    return std::find(order.begin(), order.end(), v.node().get()) - order.begin();
  };
  CHECK(pos(x) < pos(a));
  CHECK(pos(a) < pos(b));
  CHECK(std::count(order.begin(), order.end(), a.node().get()) == 1);
}

TEST_CASE("clone_replace substitutes and keeps untouched parts shared") {
  Var x = vector("x"), y = vector("y"), z = vector("z");
  Var keep = exp(z);
  Var out = x * 2 + keep;
  Var replaced = clone_replace(std::vector<Var>{out}, {{x, y}})[0];
  CHECK_FALSE(replaced.same(out));
  CHECK(replaced.same(y * 2 + keep));  // rebuilt nodes hash-cons with a fresh build
  Array yv = Array::from_list<float>({1, 2}), zv = Array::from_list<float>({0, 0});
  CHECK(allclose(evaluate(replaced, {{y, yv}, {z, zv}}), Array::from_list<float>({3, 5})));
}

TEST_CASE("clone_replace rejects a replacement of another type") {
  Var x = vector("x"), m = matrix("m");
  CHECK_ERROR(clone_replace(std::vector<Var>{x * 2}, {{x, m}}),
              {"givens", "float32[?]", "float32[?, ?]"});
}

TEST_CASE("graph_inputs lists the free inputs in creation order") {
  Var a = scalar("a"), b = scalar("b"), c = scalar("c");
  auto ins = graph_inputs(std::vector<Var>{c * a + constant(1.0, float32)});
  REQUIRE(ins.size() == 2);
  CHECK(ins[0].same(a));
  CHECK(ins[1].same(c));
}

TEST_CASE("the interpreter evaluates, checks bindings, and names missing inputs") {
  Var x = vector("x"), y = vector("y");
  Var out = x * y + 1;
  Array xv = Array::from_list<float>({1, 2, 3}), yv = Array::from_list<float>({4, 5, 6});
  CHECK(allclose(evaluate(out, {{x, xv}, {y, yv}}), Array::from_list<float>({5, 11, 19})));
  CHECK_ERROR(evaluate(out, {{x, xv}}), {"no value given for input 'y'", "float32[?]"});
  CHECK_ERROR(evaluate(out, {{x, xv}, {y, Array::from_list<double>({1, 2, 3})}}),
              {"'y'", "expected float32[?], got float64[3]"});
  // Binding an intermediate value skips its computation.
  Var xy = x * y;
  CHECK(allclose(evaluate(xy + 1, {{xy, Array::from_list<float>({0, 0, 0})}}),
                 Array::from_list<float>({1, 1, 1})));
}

TEST_CASE("every op in the table has inference and a reference implementation") {
  for (const OpDef* op : ops::all_ops()) {
    INFO(op->name);
    CHECK(op->infer);
    CHECK(op->eval);
    CHECK(!op->name.empty());
  }
}

TEST_CASE("a null Var as an operand is an error, not the number 0") {
  Var x = vector("x"), null;
  CHECK_ERROR(x + null, {"add", "null Var", "graph_test.cpp"});
  CHECK_ERROR(null * 2, {"mul", "null Var"});
  CHECK_ERROR(x & null, {"null Var"});
}
