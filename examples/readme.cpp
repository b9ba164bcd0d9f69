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

  // The README's GPU part: where there is no GPU, function() says why.
  try {
    auto train_gpu = function({x, t}, {loss}, {.updates = {{w, w - 0.1 * dw}},
                                               .device = Device::cuda()});
    Array batch = to_device(images, Device::cuda());       // or pass host arrays
    Array l = train_gpu(batch, labels);                    // w and l stay on the GPU
    float value = l.item<float>();                         // copies one number back
    Array w_now = w.get_value();                           // a host copy
    std::cout << "GPU step: loss " << value << ", w " << shape_str(w_now.shape()) << "\n";
  } catch (const Error& e) {
    std::cout << "no GPU step: " << e.what() << "\n";
  }
}
