// Review regressions for function(): aliasing between outputs, constants and state.
#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

TEST_CASE("an output that is a constant does not alias the constant") {
  Var c = constant(Array::from_list<float>({1, 2, 3}));
  auto f = function({}, {c});
  Array out = f();
  out.data<float>()[0] = 42;
  CHECK(Array(f()).data<float>()[0] == 1);
  // A view of a constant is the constant's memory too.
  auto g = function({}, {c.reshape({3, 1})});
  Array view = g();
  view.data<float>()[1] = 42;
  CHECK(Array(f()).data<float>()[1] == 2);
}

TEST_CASE("an output listed twice gives two independent arrays") {
  Var x = vector("x");
  Var y = x * 2;
  auto f = function({x}, {y, y, y.reshape({-1, 1})});
  auto out = f(Array::from_list<float>({1, 2}));
  out[0].data<float>()[0] = 42;
  CHECK(out[1].data<float>()[0] == 2);
  CHECK(out[2].data<float>()[0] == 2);
}

TEST_CASE("two shared variables updated to the same value do not share memory") {
  Var x = vector("x");
  auto a = shared(Array::zeros({2}), "a");
  auto b = shared(Array::zeros({2}), "b");
  auto f = function({x}, {}, {.updates = {{a, x * 2}, {b, x * 2}}});
  f(Array::from_list<float>({1, 2}));
  a.get_value(/*borrow=*/true).data<float>()[0] = 42;
  CHECK(b.get_value().data<float>()[0] == 2);
}
