#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

TEST_CASE("debugprint shows the tree, types, ids and source lines") {
  Var x = matrix("x");
  Var y = matrix("y");
  int line = __LINE__ + 1;
  Var z = (x * 2) + (x * 2) * y;
  std::string text = debugprint(z);
  std::string loc = fmt::format("print_test.cpp:{}", line);
  std::string expected =
      "add [id A] float32[?, ?]   " + loc + "\n"
      " |mul [id B] float32[?, ?]   " + loc + "\n"
      " | |x [id C] float32[?, ?]\n"
      " | |2. [id D] float32[]\n"
      " |mul [id E] float32[?, ?]   " + loc + "\n"
      " | |mul [id B] float32[?, ?]\n"
      " | |y [id F] float32[?, ?]\n";
  CHECK(text == expected);
}

TEST_CASE("debugprint names shared variables and shows attributes") {
  auto w = shared(Array::zeros({2, 2}), "w");
  std::string text = debugprint(sum(w, {1}));
  CHECK(text.find("sum{axes=[1], keepdims=false}") != std::string::npos);
  CHECK(text.find("w (shared) [id B] float32[?, ?]") != std::string::npos);
}

TEST_CASE("to_dot exports a Graphviz digraph") {
  Var x = vector("x");
  std::string dot = to_dot(std::vector<Var>{exp(x) + x});
  CHECK(dot.rfind("digraph cgvm {", 0) == 0);
  CHECK(dot.find("label=\"exp\", shape=box") != std::string::npos);
  CHECK(dot.find("label=\"x\", shape=ellipse") != std::string::npos);
  CHECK(dot.find("label=\"float32[?]\"") != std::string::npos);
  CHECK(dot.find("output 0") != std::string::npos);
}
