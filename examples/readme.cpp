// The README's example, kept compiling and running by the tests.
#include <cgvm.hpp>

#include <iostream>
using namespace cgvm;

int main() {
  Var x = matrix("x");                                   // float32, shape [?, ?]
  Var t = vector("t", int64);                            // class labels
  auto w = shared(Array::normal(0, {784, 10}, 0, 0.01f), "w");
  Var p = softmax(dot(x, w));
  Var loss = categorical_crossentropy(p, t).mean();
  auto predict = function({x}, {argmax(p, 1)});
  auto decay = function({}, {}, {.updates = {{w, w * 0.99}}});
  std::cout << debugprint(loss);                         // the graph, with source lines
  Array labels = predict(Array::uniform(1, {4, 784}));   // int64[4]
  decay();                                               // w <- 0.99 w, in the library
}
