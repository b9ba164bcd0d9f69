// A small MLP (64-64-10, tanh, softmax cross-entropy) trained with grad() and SGD updates on
// the 8x8 handwritten digits shipped in examples/data (see its README for provenance).
//
//   example_mlp_digits [--epochs N] [--expect-accuracy A] [--data path/to/digits.npz]
//                      [--device cpu|cuda|cuda:N]
//
// With the defaults (40 epochs) the held-out accuracy is about 97%. With --device cuda the
// training and evaluation functions run on a GPU: the data and the weights are moved there
// once, and only the losses and accuracies come back.
#include <cgvm.hpp>

#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string>

using namespace cgvm;

#ifndef CGVM_EXAMPLES_DATA_DIR
#define CGVM_EXAMPLES_DATA_DIR "examples/data"
#endif

int run(int argc, char** argv) {
  int epochs = 40;
  double expect_accuracy = 0;
  std::string data = std::string(CGVM_EXAMPLES_DATA_DIR) + "/digits.npz";
  Device device = Device::cpu();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--epochs") epochs = std::atoi(argv[i + 1]);
    else if (flag == "--expect-accuracy") expect_accuracy = std::atof(argv[i + 1]);
    else if (flag == "--data") data = argv[i + 1];
    else if (flag == "--device") device = Device::parse(argv[i + 1]);
  }

  // Shuffle with a fixed seed, scale pixels 0..16 to 0..1; 1500 images train, 297 test.
  auto digits = load_npz(data);
  Array images = digits.at("images"), labels = digits.at("labels");
  const std::int64_t n = images.shape(0), n_train = 1500, batch = 50;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Generator gen(2024);
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)],
              order[static_cast<std::size_t>(gen.next_integer(0, i + 1))]);
  Var pixels = matrix("pixels", uint8), classes = vector("classes", int64);
  Var perm = vector("perm", int64);
  auto prepare = function({pixels, classes, perm},
                          {cast(take(pixels, perm), float32) / 16, take(classes, perm)});
  auto shuffled = prepare(images, labels, Array::from_vector(order));
  const Array all_x = to_device(shuffled[0], device), all_y = to_device(shuffled[1], device);
  Array train_x = all_x.slice(0, 0, n_train), test_x = all_x.slice(0, n_train, n);
  Array train_y = all_y.slice(0, 0, n_train), test_y = all_y.slice(0, n_train, n);

  // Parameters, initialised with a fixed seed.
  auto w1 = shared(Array::normal(1, {64, 64}, 0, 0.125), "w1");
  auto b1 = shared(Array::zeros({64}), "b1");
  auto w2 = shared(Array::normal(2, {64, 10}, 0, 0.125), "w2");
  auto b2 = shared(Array::zeros({10}), "b2");

  Var x = matrix("x");
  Var t = vector("t", int64);
  Var hidden = tanh(dot(x, w1) + b1);
  Var probs = softmax(dot(hidden, w2) + b2);
  Var loss = categorical_crossentropy(probs, t).mean();
  Var accuracy = cast(eq(argmax(probs, 1), t), float32).mean();

  std::vector<SharedVar> params{w1, b1, w2, b2};
  std::vector<Var> wrt(params.begin(), params.end());
  std::vector<Var> grads = grad(loss, wrt);
  Replacements updates;
  const double learning_rate = 0.5;
  for (std::size_t i = 0; i < params.size(); ++i)
    updates.emplace_back(params[i], params[i] - learning_rate * grads[i]);

  auto train_step =
      function({x, t}, {loss}, {.updates = updates, .name = "train_step", .device = device});
  auto evaluate_model = function({x, t}, {loss, accuracy}, {.name = "evaluate", .device = device});
  for (const std::string& step : evaluate_model.compile_report().host_steps)
    std::cout << "evaluate runs on the host: " << step << "\n";

  double test_accuracy = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    double total = 0;
    for (std::int64_t start = 0; start < n_train; start += batch) {
      std::int64_t stop = std::min(start + batch, n_train);
      Array step_loss = train_step(train_x.slice(0, start, stop), train_y.slice(0, start, stop));
      total += step_loss.item<double>() * static_cast<double>(stop - start);
    }
    auto test = evaluate_model(test_x, test_y);
    test_accuracy = test[1].item<double>();
    std::cout << "epoch " << epoch << ": train loss " << total / n_train << ", test loss "
              << test[0].item<double>() << ", test accuracy " << test_accuracy << "\n";
  }
  if (test_accuracy < expect_accuracy) {
    std::cerr << "test accuracy " << test_accuracy << " is below the expected "
              << expect_accuracy << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {  // a bad flag, or no GPU for --device cuda: say so
    std::cerr << "example_mlp_digits: " << e.what() << "\n";
    return 1;
  }
}
