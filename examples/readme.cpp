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
  Var dw = grad(loss, w);                                // a graph, like any other
  auto train = function({x, t}, {loss}, {.updates = {{w, w - 0.1 * dw}}});
  auto predict = function({x}, {argmax(p, 1)});
  std::cout << debugprint(loss);                         // the graph, with source lines
  Array images = Array::uniform(1, {4, 784});
  Array step_loss = train(images, Array::from_list<std::int64_t>({3, 1, 4, 1}));
  Array labels = predict(images);                        // int64[4]
}
