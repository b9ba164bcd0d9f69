// The basics: build an expression, look at its graph, compile it with function(), call it,
// and keep state in a shared variable.
#include <cgvm.hpp>

#include <iostream>

using namespace cgvm;

int main() {
  // Symbolic inputs: a float32 matrix and a vector.
  Var x = matrix("x");
  Var b = vector("b");

  // An expression built with ordinary operators and numpy-like functions.
  Var y = tanh(dot(x, x.T()) + b) * 0.5;
  Var total = y.sum();
  std::cout << "The graph of total:\n" << debugprint(total) << "\n";

  // A function with two outputs and a running counter kept by the library.
  auto calls = shared(Array::scalar<std::int64_t>(0), "calls");
  auto f = function({x, b}, {y, total}, {.updates = {{calls, calls + 1}}});

  Array xv = Array::from_list<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Array bv = Array::from_list<float>({-10, 0.5});
  auto out = f(xv, bv);
  std::cout << "y =\n" << out[0] << "\n";
  std::cout << "total = " << out[1] << "\n";
  f(xv, bv);
  std::cout << "f was called " << calls.get_value() << " times\n";

  // Mistakes are reported with the op, the shapes and the line that caused them.
  try {
    Var bad = x * Array::ones({5, 3}) + Array::ones({4, 3});
    (void)bad;
  } catch (const Error& e) {
    std::cout << "\nA shape mistake, caught at build time:\n" << e.what() << "\n";
  }
  return 0;
}
