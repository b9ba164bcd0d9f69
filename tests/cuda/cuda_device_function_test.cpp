// Device arrays and device functions (api/device.hpp, the device mode of api/executor.hpp),
// end to end on the emulated GPU of emulated_gpu.hpp, and on a real one when present:
// arrays moved, viewed, converted and read back; training steps whose weights live on the
// device, against the same steps on the CPU; asking for a GPU where there is none (the
// other errors a user meets: cuda_device_errors_test.cpp; random draws:
// cuda_device_random_test.cpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include "cuda_helpers.hpp"
#include "emulated_gpu.hpp"
#include "symbolic/op_list.hpp"

namespace cgvm::test {
namespace {

const Device gpu = Device::cuda();

// Weights of the MLP of mlp_training_graph, as shared variables, and one SGD step over
// them: returns the function and the variables.
struct MlpTrainer {
  std::vector<SharedVar> weights;
  Function step{nullptr};
};

MlpTrainer mlp_trainer(Device device, std::uint64_t seed) {
  Generator gen(seed);
  MlpTrainer t;
  t.weights = {shared(Array::normal(gen, {784, 64}, 0, 0.05), "w0"),
               shared(Array::zeros({64}), "b0"),
               shared(Array::normal(gen, {64, 10}, 0, 0.1), "w1"),
               shared(Array::zeros({10}), "b1")};
  Var x = matrix("x"), labels = vector("labels", int64);
  Var logits = dot(relu(dot(x, t.weights[0]) + t.weights[1]), t.weights[2]) + t.weights[3];
  Var loss = categorical_crossentropy(softmax(logits), labels).mean();
  std::vector<Var> ws(t.weights.begin(), t.weights.end());
  std::vector<Var> grads = grad(loss, ws);
  Replacements updates;
  for (std::size_t i = 0; i < ws.size(); ++i) updates.emplace_back(ws[i], ws[i] - 0.1 * grads[i]);
  t.step = function({x, labels}, {loss}, {.updates = updates, .device = device});
  return t;
}

Array labels_for(std::int64_t batch) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < batch; ++i) v.push_back((i * 7) % 10);
  return Array::from_vector(v);
}

// take and inc_take (set and inc, with repeated and negative indices, along each axis; the
// gradient of a take) on `device` against the CPU, for every dtype: equal, as the device
// sums a slot's rows in the host's order. The indices come from the host (checked and
// grouped there) and, in a second call, from the device (read and grouped there), as
// int64 and as int32.
void check_take_on_device(Device device) {
  // Long enough rows that the emulated grid strides over them in several rounds.
  const Array ia = Array::from_list<std::int64_t>({2, 0, 2, -1, 2});
  for (DType dtype : all_dtypes) {
    INFO(dtype_name(dtype));
    Var x = tensor("x", dtype, {3, 4, 150}), y = tensor("y", dtype, {3, 5, 150});
    Var i = vector("i", int64);
    std::vector<Var> outputs{take(x, i, 1), take(x, i, 0), inc_subtensor(take(x, i, 1), y),
                             set_subtensor(take(x, i, 1), y)};
    if (is_float(dtype)) outputs.push_back(grad((take(x, i, 2) * take(x, i, 2)).sum(), {x})[0]);
    const Array xa = Array::uniform(1, {3, 4, 150}, -100, 100).astype(dtype);
    const Array ya = Array::uniform(2, {3, 5, 150}, -100, 100).astype(dtype);
    Function f = function({x, i, y}, outputs, {.device = device});
    CHECK(f.compile_report().host_steps.empty());
    const Outputs want = function({x, i, y}, outputs)(xa, ia, ya);
    for (const Array& indices : {ia, to_device(ia, device)}) {
      INFO("indices on " << indices.device().str());
      const Outputs got = f(xa, indices, ya);
      for (std::size_t k = 0; k < want.size(); ++k) {
        INFO("output " << k);
        CHECK(got[k].device() == device);
        CHECK(array_equal(got[k].to_host(), want[k]));
      }
    }
  }
  // int32 indices on the device: converted there. Along the axis of 3, -1 and 2 name one
  // slot: its rows add up (or the last is kept) in index order.
  Var x = tensor("x", float32, {3, 4, 150}), i32 = vector("i32", int32);
  Var y = tensor("y", float32, {5, 4, 150});
  const Array xa = Array::uniform(1, {3, 4, 150}, -100, 100);
  const Array ya = Array::uniform(2, {5, 4, 150}, -100, 100);
  const std::vector<Var> outputs{take(x, i32, 1), inc_subtensor(take(x, i32, 0), y),
                                 set_subtensor(take(x, i32, 0), y)};
  const Outputs want = function({x, i32, y}, outputs)(xa, ia.astype(DType::Int32), ya);
  const Outputs got = function({x, i32, y}, outputs, {.device = device})(
      xa, to_device(ia.astype(DType::Int32), device), ya);
  for (std::size_t k = 0; k < want.size(); ++k) {
    INFO("int32 output " << k);
    CHECK(array_equal(got[k].to_host(), want[k]));
  }
  // More device rows than scatter_compare_rows: the device sorts them by slot, 4 bits a pass
  // (3 passes for an axis of 300, 4 for 5000: the sorted pairs end in either buffer), in
  // tiles of 1024 (20 here, more than the emulated grid's blocks). Every slot is named many
  // times, some from the end; equal sums and last writes.
  const std::int64_t count = scatter_compare_rows + 12000;
  for (std::int64_t n : {300, 5000}) {
    for (DType dtype : {DType::Float32, DType::Int32}) {
      INFO("axis of " << n << ", " << dtype_name(dtype));
      Var table = tensor("table", dtype, {n, 2}), rows = tensor("rows", dtype, {count, 2});
      Var ids = vector("ids", int64);
      const std::vector<Var> scattered{inc_subtensor(take(table, ids, 0), rows),
                                       set_subtensor(take(table, ids, 0), rows)};
      std::vector<std::int64_t> id_list(static_cast<std::size_t>(count));
      for (std::int64_t k = 0; k < count; ++k)
        id_list[static_cast<std::size_t>(k)] = (k * 7919) % (2 * n) - n;
      const Array ids_a = Array::from_vector(id_list);
      const Array table_a = Array::uniform(3, {n, 2}, -100, 100).astype(dtype);
      const Array rows_a = Array::uniform(4, {count, 2}, -100, 100).astype(dtype);
      const Outputs want = function({table, ids, rows}, scattered)(table_a, ids_a, rows_a);
      const Outputs got = function({table, ids, rows}, scattered, {.device = device})(
          table_a, to_device(ids_a, device), rows_a);
      for (std::size_t k = 0; k < want.size(); ++k) {
        INFO("output " << k);
        CHECK(array_equal(got[k].to_host(), want[k]));
      }
    }
  }
}

// argmax and argmin over several axis sets on `device` against the CPU, for every dtype, on
// values full of ties (and NaNs, for floats): the same positions.
void check_arg_reductions_on_device(Device device) {
  for (DType dtype : all_dtypes) {
    INFO(dtype_name(dtype));
    Var x = tensor("x", dtype, {3, 4, 70});
    std::vector<Var> outputs{argmax(x, {2}), argmin(x, {2}), argmax(x, {1}),
                             argmin(x, {0}, true), argmax(x), argmin(x)};
    // Small integers: every row has ties, some rows are constant.
    Array xa = Array::uniform(4, {3, 4, 70}, 0, 3).astype(DType::Int32).astype(DType::Float64);
    for (std::int64_t j = 0; j < 70; ++j) xa.set<double>({1, 2, j}, 1);
    if (is_float(dtype)) {  // the first NaN of a row wins, wherever it is
      xa.set<double>({0, 1, 40}, std::nan(""));
      xa.set<double>({0, 1, 65}, std::nan(""));
      xa.set<double>({2, 3, 0}, std::nan(""));
    }
    xa = xa.astype(dtype);
    Function f = function({x}, outputs, {.device = device});
    CHECK(f.compile_report().host_steps.empty());
    const Outputs want = function({x}, outputs)(xa);
    const Outputs got = f(xa);
    for (std::size_t k = 0; k < want.size(); ++k) {
      INFO("output " << k);
      CHECK(got[k].device() == device);
      CHECK(array_equal(got[k].to_host(), want[k]));
    }
  }
}

// Runs `steps` SGD steps on the CPU and on `device` from the same start; compares the
// losses and the weights after.
void check_mlp_training(Device device, int steps) {
  MlpTrainer cpu = mlp_trainer(Device::cpu(), 3), dev = mlp_trainer(device, 3);
  const Array x = Array::uniform(5, {32, 784}), labels = labels_for(32);
  for (int s = 0; s < steps; ++s) {
    const Array want = cpu.step(x, labels);
    const Array got = dev.step(x, labels);
    CHECK(got.device() == device);
    INFO("step " << s);
    CHECK(allclose(got.to_host(), want, 1e-4, 1e-5));
  }
  for (std::size_t i = 0; i < cpu.weights.size(); ++i) {
    INFO("weight " << cpu.weights[i].name());
    CHECK(dev.weights[i].device() == device);
    const Array w = dev.weights[i].get_value();
    CHECK(w.on_host());
    CHECK(allclose(w, cpu.weights[i].get_value(), 1e-4, 1e-5));
  }
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("device arrays: moves, views, conversions and reads on the emulated GPU") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const Array a = Array::arange(0, 12, 1, DType::Float32).reshape({3, 4});
    {
      Array d = to_device(a, gpu);
      CHECK(d.device() == gpu);
      CHECK_FALSE(d.on_host());
      CHECK(g.bytes_from_host == 48);
      CHECK(to_device(d, gpu).shares_storage(d));  // already there: no copy
      CHECK(array_equal(d.to_host(), a));
      CHECK(d.to_host().on_host());
      CHECK(d.to_string() == a.to_string());
      CHECK(d.at<float>({2, 1}) == 9.0f);
      CHECK(d.index(0, 1).index(0, 3).item<double>() == 7.0);
      CHECK(d.to_vector<int>() == a.to_vector<int>());

      // Views cost nothing; copies and conversions run the conversion kernel.
      const std::size_t copied = g.bytes_from_host + g.bytes_to_host;
      Array t = d.transpose();
      CHECK(t.shares_storage(d));
      Array tc = t.copy();
      CHECK(tc.device() == gpu);
      CHECK(tc.is_contiguous());
      CHECK(g.bytes_from_host + g.bytes_to_host == copied);
      CHECK(array_equal(tc.to_host(), a.transpose().copy()));
      CHECK(array_equal(d.slice(1, 3, 0, -1).astype(DType::Int32).to_host(),
                        a.slice(1, 3, 0, -1).astype(DType::Int32)));
      CHECK(array_equal(d.reshape({2, 6}).to_host(), a.reshape({2, 6})));
      CHECK(array_equal(t.reshape({12}).to_host(), a.transpose().reshape({12})));

      // Writes: assign moves a host value over first, fill and set write on the device.
      d.slice(1, 1, 3).assign(Array::from_list<double>({-1, -2}));
      d.index(0, 0).fill(5);
      d.set<float>({2, 3}, 100.0f);
      Array want = a.copy();
      want.slice(1, 1, 3).assign(Array::from_list<double>({-1, -2}));
      want.index(0, 0).fill(5);
      want.set<float>({2, 3}, 100.0f);
      CHECK(array_equal(d.to_host(), want));
      CHECK(g.conversions > 0);

      // The host cannot address it: typed pointers say so.
      CHECK_THROWS_WITH_AS(d.data<float>(),
                           "Array::data: the array (float32[3, 4]) is on cuda:0, where the host "
                           "cannot address it; to_host() copies it",
                           Error);
      // And a device array goes back to where it came from as the same values.
      CHECK(array_equal(d.to(nullptr), want));

      // A constant made of it is kept on the host with the graph (the graph's values are read
      // there): host functions, evaluate() and device functions read it alike.
      Var c = constant(d), v = matrix("v");
      const Array ones = Array::ones({3, 4});
      const Array added = function({v}, {v + constant(want)})(ones);
      CHECK(array_equal(evaluate(c * 2), evaluate(constant(want) * 2)));
      CHECK(array_equal(Array(function({v}, {v + c})(ones)), added));
      CHECK(array_equal(Array(function({v}, {v + c}, {.device = gpu})(ones)).to_host(), added));
    }
    CHECK(g.live_allocations == 0);
  }

  TEST_CASE("device functions: an MLP trained by SGD on the emulated GPU follows the CPU") {
    ScopedEmulatedGpu emulated;
    check_mlp_training(gpu, 3);
    CHECK(emulated.programs == 1);
    CHECK(emulated.gpu().products > 0);

    // With the batch on the device, a step copies nothing back: the weights and their
    // updates stay there, and so does the loss until it is read. What goes over is two
    // values the host computes from shapes (the class indices, the batch size as a float).
    MlpTrainer t = mlp_trainer(gpu, 4);
    const Array x = to_device(Array::uniform(6, {16, 784}), gpu);
    const Array labels = to_device(labels_for(16), gpu);
    const Array first = t.step(x, labels);
    EmulatedGpu& g = emulated.gpu();
    const std::size_t to_host = g.bytes_to_host, from_host = g.bytes_from_host;
    const Array second = t.step(x, labels);
    CHECK(g.bytes_to_host == to_host);
    CHECK(g.bytes_from_host - from_host == 10 * 8 + 4);
    CHECK(second.item<float>() < first.item<float>());  // it learns
  }

  TEST_CASE("device functions: outputs stay on the device until asked for") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var x = matrix("x"), w = matrix("w");
    Function f = function({x, w}, {tanh(dot(x, w)), (x * 2).sum()}, {.device = gpu});
    const Array xa = Array::uniform(1, {8, 5}), wa = Array::uniform(2, {5, 6});
    const Array xd = to_device(xa, gpu), wd = to_device(wa, gpu);
    const std::size_t before = g.bytes_to_host;
    Outputs out = f(xd, wd);
    CHECK(g.bytes_to_host == before);  // nothing came back
    CHECK(out[0].device() == gpu);
    CHECK(out[1].device() == gpu);
    double twice_sum = 0;
    for (double v : xa.to_double_vector()) twice_sum += 2 * v;
    CHECK(out[1].item<double>() == doctest::Approx(twice_sum).epsilon(1e-5));
    const Array want = function({x, w}, {tanh(dot(x, w))})(xa, wa);
    CHECK(allclose(out[0].to_host(), want, 1e-5, 1e-6));
    CHECK(g.bytes_to_host == before + 4 + want.nbytes());  // the scalar, then the matrix
    // Host inputs are taken too (copied over per call).
    CHECK(allclose(Array(function({x, w}, {tanh(dot(x, w))}, {.device = gpu})(xa, wa)).to_host(),
                   want, 1e-5, 1e-6));
    CHECK(f.device() == gpu);
    CHECK(f.compile_report().device == gpu);
    CHECK(contains(f.source(), "__global__"));
    CHECK(contains(f.compile_report().to_string(), "cuda:0 kernels compiled"));
    // The graph cache keeps the CUDA unit apart from the C++ one of the same graph.
    Function again = function({x, w}, {tanh(dot(x, w)), (x * 2).sum()}, {.device = gpu});
    CHECK(again.compile_report().graph_cache == "memory hit");
    CHECK(again.source() == f.source());
    Function on_cpu = function({x, w}, {tanh(dot(x, w)), (x * 2).sum()});
    CHECK_FALSE(contains(on_cpu.source(), "__global__"));
    CHECK(allclose(Array(again(xd, wd)[0]).to_host(), want, 1e-5, 1e-6));
  }

  TEST_CASE("device functions: an LSTM trained through scan on the emulated GPU matches the CPU") {
    ScopedEmulatedGpu emulated;
    const TrainingGraph g = lstm_training_graph(8);
    const std::vector<Value> inputs = lstm_values(5, 3, 4, 8, 0.5);
    const Outputs want = function(g.inputs, g.outputs)(inputs);
    Function f = function(g.inputs, g.outputs, {.device = gpu});
    const Outputs got = f(inputs);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i);
      CHECK(got[i].device() == gpu);
      CHECK(allclose(got[i].to_host(), want[i], 1e-4, 1e-5));
    }
    INFO(f.compile_report().to_string());
    CHECK(f.compile_report().host_steps.empty());

    // A later call moves its host inputs over, and for each loop (forward and backward) the
    // table of its replayed steps' rows (as big as those the first call recorded) and a step
    // counter (step, end, stopped): nothing either way per step (constants were moved once, sizes never leave
    // the host).
    EmulatedGpu& gpu_state = emulated.gpu();
    const std::size_t to_host = gpu_state.bytes_to_host, from_host = gpu_state.bytes_from_host,
                      tables = gpu_state.step_table_bytes;
    CHECK(gpu_state.recordings == 2);
    f(inputs);
    std::size_t input_bytes = 0;
    for (const Value& v : inputs) input_bytes += v.array.nbytes();
    CHECK(gpu_state.recordings == 2);  // the first call's recordings, replayed
    CHECK(gpu_state.bytes_from_host - from_host ==
          input_bytes + tables + 2 * 3 * sizeof(std::int64_t));
    CHECK(gpu_state.bytes_to_host == to_host);
  }

  TEST_CASE("device functions: while loops, symbolic step counts and backward scans") {
    ScopedEmulatedGpu emulated;
    // until: the stack grows on the device past its first rows (a while loop's stacks
    // start at 64 rows), and the condition is read back each step.
    Var start = vector("start"), xs = matrix("xs"), k = scalar("k", int64);
    Var grow = scan(
        [](const StepArgs& v) {
          Var next = v[0] * 1.5;
          return StepResult({next}, next.sum() > 1e12);
        },
        {.outputs_info = {start}, .n_steps = 200})[0];
    Var backwards = scan([](const StepArgs& v) { return v[0] + v[1]; },
                         {.sequences = {xs}, .outputs_info = {start}, .go_backwards = true})[0];
    Var counted = scan([](const StepArgs& v) { return v[0] * 2; },
                       {.outputs_info = {start}, .n_steps = k})[0];
    const std::vector<Var> inputs{start, xs, k}, outputs{grow, backwards, counted};
    const Array s0 = Array::from_list<float>({1, 2}), xa = Array::uniform(4, {5, 2});
    const Outputs want = function(inputs, outputs)(s0, xa, 3);
    const Outputs got = function(inputs, outputs, {.device = gpu})(s0, xa, 3);
    CHECK(want[0].shape(0) > 64);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("output " << i);
      CHECK(got[i].device() == gpu);
      CHECK(allclose(got[i].to_host(), want[i], 1e-5, 1e-6));
    }
  }

  TEST_CASE("device functions: ifelse runs the branch it picks there; debug mode checks it") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var x = matrix("x"), t = scalar("t");
    Var y = ifelse(x.sum() > t, exp(x) * 2, x - 1).sum(1);
    Function f = function({x, t}, {y}, {.device = gpu});
    CHECK(f.compile_report().host_steps.empty());
    CHECK(contains(f.program(), "branch ifelse"));
    const Array xa = Array::uniform(3, {4, 3});
    const Array xd = to_device(xa, gpu);
    for (float threshold : {-100.0f, 100.0f}) {
      INFO("threshold " << threshold);
      const Array ta = Array::scalar(threshold);
      const Array want = function({x, t}, {y})(xa, ta);
      // The condition comes back (one bool) and nothing else.
      const std::size_t to_host = g.bytes_to_host;
      const Array got = f(xd, ta);
      CHECK(g.bytes_to_host - to_host == 1);
      CHECK(allclose(got.to_host(), want, 1e-5, 1e-6));
      // The debug mode checks every device kernel, the branches' too, against the
      // interpreter as on the host.
      Function checked = function({x, t}, {y}, {.mode = Mode::Debug, .device = gpu});
      CHECK(allclose(Array(checked(xa, ta)).to_host(), want, 1e-5, 1e-6));
    }
  }

  TEST_CASE("device functions: region updates and their gradients run on the device") {
    ScopedEmulatedGpu emulated;
    Var x = matrix("x"), y = row("y"), n = matrix("n", int32), b = matrix("b", bool_);
    Var updated = inc_subtensor(x(slice(1, 3)), y);  // y broadcast down the rows
    Var set = set_subtensor(x(slice(), 0), y(0, 0) * 2);
    Var cost = (x(slice(0, 2), slice(1, 3)) * x(slice(0, 2), slice(1, 3))).sum();
    std::vector<Var> outputs{updated, set, grad(cost, x), inc_subtensor(n(1), n(0)),
                             inc_subtensor(b(0), b(1))};
    Function f = function({x, y, n, b}, outputs, {.device = gpu});
    CHECK(f.compile_report().host_steps.empty());
    const Array xa = Array::uniform(1, {4, 3}), ya = Array::uniform(2, {1, 3});
    const Array na = Array::from_list<std::int32_t>({2147483647, -3, 5, 1, 2, 3}, {2, 3});
    const Array ba = Array::from_list<bool>({true, false, false, false, true, false}, {2, 3});
    const Outputs want = function({x, y, n, b}, outputs)(xa, ya, na, ba);
    const Outputs got = f(xa, ya, na, ba);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("output " << i);
      CHECK(got[i].device() == gpu);
      CHECK(allclose(got[i].to_host(), want[i], 1e-6, 1e-7));
      if (!is_float(want[i].dtype())) CHECK(array_equal(got[i].to_host(), want[i]));
    }
    CHECK(emulated.gpu().accumulations > 0);
  }

  TEST_CASE("device functions: embeddings (take) and their gradients (inc_take) run on the device") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    // A token embedding trained by SGD: the lookup gathers rows on the device, the gradient
    // scatters them back, adding up a token's repeats in order.
    Generator gen(7);
    SharedVar table = shared(Array::normal(gen, {11, 40}, 0, 0.5), "table");
    SharedVar cpu_table = shared(table.get_value().copy(), "table");
    Var tokens = matrix("tokens", int64), target = vector("target");
    auto trainer = [&](const SharedVar& e, Device device) {
      Var h = tanh(take(e, tokens, 0)).sum(1);  // [batch, 40]
      Var loss = ((h.sum(1) - target) * (h.sum(1) - target)).mean();
      return function({tokens, target}, {loss},
                      {.updates = {{e, e - 0.05 * grad(loss, {e})[0]}}, .device = device});
    };
    Function step = trainer(table, gpu), cpu_step = trainer(cpu_table, Device::cpu());
    CHECK(step.compile_report().host_steps.empty());
    // Repeats within a row and across rows, a negative index, unused rows.
    const Array ta = Array::from_list<std::int64_t>({3, 3, 0, -1, 7, 3, 10, 0, 5}, {3, 3});
    const Array target_a = Array::from_list<float>({1, -2, 0.5});
    for (int s = 0; s < 3; ++s) {
      INFO("step " << s);
      const Array want = cpu_step(ta, target_a), got = step(ta, target_a);
      CHECK(got.device() == gpu);
      CHECK(allclose(got.to_host(), want, 1e-5, 1e-6));
    }
    CHECK(allclose(table.get_value(), cpu_table.get_value(), 1e-5, 1e-6));
    CHECK(g.gathers >= 3);
    CHECK(g.scatters >= 3);
    // A later step reads nothing back: the indices stay on the host, where they are
    // checked; what goes over is the target, the mean's divisor (a size the host computes,
    // float32) and the rows the kernels look up (9 for the gather; for the scatter 5 slots,
    // 6 offsets and 9 rows).
    const std::size_t to_host = g.bytes_to_host, from_host = g.bytes_from_host;
    step(ta, target_a);
    CHECK(g.bytes_to_host == to_host);
    CHECK(g.bytes_from_host - from_host == target_a.nbytes() + 4 + 8 * (9 + 5 + 6 + 9));
    // A shared variable read only as indices stays on the host; the table it reads is there.
    SharedVar ids = shared(Array::from_list<std::int64_t>({1, 0, 1}), "ids");
    const Array looked = function({}, {take(table, ids, 0)}, {.device = gpu})();
    CHECK(ids.device() == Device::cpu());
    CHECK(table.device() == gpu);
    CHECK(allclose(looked.to_host(), Array(function({}, {take(table, ids, 0)})())));
  }

  TEST_CASE("device functions: a character RNN's training step (examples/char_lstm's shape) "
            "runs wholly on the device") {
    ScopedEmulatedGpu emulated;
    // Ids looked up in an embedding, a recurrence through scan with its state carried in
    // shared variables, softmax cross-entropy against int64 targets, clipped gradients and
    // an Adam-like update with a step counter: nothing of it falls back to the host.
    auto make = [](Device device) {
      Generator gen(5);
      const std::int64_t V = 7, H = 6, B = 3;
      std::vector<SharedVar> params{shared(Array::uniform(gen, {V, H}, -0.5, 0.5), "w_x"),
                                    shared(Array::uniform(gen, {H, H}, -0.5, 0.5), "w_h"),
                                    shared(Array::uniform(gen, {H, V}, -0.5, 0.5), "w_y")};
      SharedVar h0 = shared(Array::zeros({B, H}), "h0"), t = shared(Array::scalar<float>(0), "t");
      Var xs = matrix("xs", int64), ys = matrix("ys", int64);
      Var hs = scan([](const StepArgs& v) -> StepResult { return tanh(v[0] + dot(v[1], v[2])); },
                    {.sequences = {take(params[0], xs)}, .outputs_info = {h0},
                     .non_sequences = {params[1]}})[0];
      Var logits = dot(hs.reshape({-1, H}), params[2]);
      Var loss = categorical_crossentropy(softmax(logits), ys.reshape({-1})).mean();
      std::vector<Var> grads = grad(loss, std::vector<Var>(params.begin(), params.end()));
      Var t_next = t + 1;
      Replacements updates{{t, t_next}, {h0, hs[Index(-1)]}};
      for (std::size_t i = 0; i < params.size(); ++i)
        updates.emplace_back(params[i], params[i] - 0.1 * sqrt(1 - pow(0.9, t_next)) *
                                                        clip(grads[i], -0.05, 0.05));
      Function f = function({xs, ys}, {loss}, {.updates = updates, .device = device});
      return std::pair{f, params};
    };
    auto [dev, dev_params] = make(gpu);
    auto [cpu, cpu_params] = make(Device::cpu());
    INFO(dev.compile_report().to_string());
    CHECK(dev.compile_report().host_steps.empty());
    const Array xs = Array::from_list<std::int64_t>({1, 2, 3, 3, 0, 6, 5, 5, 1, 2, 4, 0}, {4, 3});
    const Array ys = Array::from_list<std::int64_t>({2, 3, 3, 0, 6, 5, 5, 1, 2, 4, 0, 1}, {4, 3});
    for (int step = 0; step < 3; ++step) {
      INFO("step " << step);
      CHECK(allclose(Array(dev(xs, ys)).to_host(), Array(cpu(xs, ys)), 1e-5, 1e-6));
    }
    for (std::size_t i = 0; i < cpu_params.size(); ++i)
      CHECK(allclose(dev_params[i].get_value(), cpu_params[i].get_value(), 1e-5, 1e-6));
  }

  TEST_CASE("device functions: take and inc_take on the device over dtypes, axes and modes") {
    ScopedEmulatedGpu emulated;
    check_take_on_device(gpu);
  }

  TEST_CASE("device functions: an op with no device form runs on the host, and is listed") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var a = matrix("a"), b = matrix("b");
    const int line = __LINE__ + 1;
    Var y = tanh(host_only_dot(a, b)) * 2;
    Function f = function({a, b}, {y}, {.device = gpu});
    const std::vector<std::string> listed = f.compile_report().host_steps;
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].starts_with("host_only_dot at "));
    CHECK(listed[0].ends_with(fmt::format("{}:{}", this_file(), line)));
    CHECK(contains(f.compile_report().to_string(), "on the host: host_only_dot at "));
    const Array aa = Array::uniform(1, {3, 4}), ba = Array::uniform(2, {4, 5});
    const std::size_t back = g.bytes_to_host;
    const Array got = f(to_device(aa, gpu), to_device(ba, gpu));
    CHECK(got.device() == gpu);  // computed on the host, handed out where the function runs
    CHECK(g.bytes_to_host - back == aa.nbytes() + ba.nbytes());  // its operands came over
    CHECK(allclose(got.to_host(), function({a, b}, {y})(aa, ba), 1e-5, 1e-6));
  }

  TEST_CASE("device functions: argmax and argmin on the device give the host's positions") {
    ScopedEmulatedGpu emulated;
    check_arg_reductions_on_device(gpu);
    CHECK(emulated.gpu().arg_reductions >= 6 * 8);
    // Only the unit holding argmax was compiled: not the lookups' nor the draws'.
    CHECK(emulated.gpu().device_units() == std::vector<std::string>{"cgvm_device_common"});
  }

  TEST_CASE("device functions: function() makes the device's own kernels its calls use") {
    // Each function on a fresh emulated GPU: the units of the device's kernels function()
    // made, which are then all a call uses (none is compiled during it).
    Var x = matrix("x"), i = vector("i", int64), ids = vector("ids", int64);
    RandomStreams rng(3);
    auto rnn = [](const StepArgs& v) -> StepResult { return tanh(v[1] * 0.5 + v[0]); };
    Var row = x.sum(0);
    struct Case {
      const char* what;
      std::vector<Var> inputs, outputs;
      std::string units;  // sorted, space-separated
    };
    const Case cases[] = {
        {"elementwise only", {x}, {exp(x) * 2}, ""},
        {"argmax", {x}, {argmax(x, {1})}, "cgvm_device_common"},
        {"take from host indices", {x, i}, {take(x, i, 0)}, "cgvm_device_common cgvm_device_index"},
        {"uniform draws", {x}, {x + rng.uniform(dims_of(x))},
         "cgvm_device_common cgvm_device_random"},
        {"integer draws", {x}, {x.sum() + rng.integers({3}, 0, 7).sum()},
         "cgvm_device_common cgvm_device_random"},
        {"a replayed scan", {x}, {scan(rnn, {.sequences = {x}, .outputs_info = {row}})[0]},
         "cgvm_device_common"},
        // Lookups of device ids in the step, and their gradient's scatters.
        {"a replayed scan's embedding and its gradient",
         {x, ids},
         {grad(scan([&](const StepArgs& v) -> StepResult { return tanh(take(x, v[0], 0) + v[1]); },
                    {.sequences = {ids}, .outputs_info = {row}})[0]
                   .sum(),
               {x})[0]},
         "cgvm_device_common cgvm_device_index"},
        {"a scan run step by step",
         {x},
         {scan([](const StepArgs& v) -> StepResult { return ifelse(v[1].sum() > 0, v[1], v[0]); },
               {.sequences = {x}, .outputs_info = {row}})[0]},
         ""},
    };
    // Enough steps that the scans replay a recorded step (all but the one with an ifelse).
    const Array xa = Array::uniform(1, {8, 5}, -1, 1);
    const Array ia = Array::from_list<std::int64_t>({2, 0, 3, 7, 1, 5});
    auto sorted_units = [](const EmulatedGpu& g) {
      std::vector<std::string> units = g.device_units();
      std::ranges::sort(units);
      return fmt::format("{}", fmt::join(units, " "));
    };
    for (const Case& c : cases) {
      INFO(std::string(c.what));
      ScopedEmulatedGpu emulated;
      Function f = function(c.inputs, c.outputs, {.device = gpu});
      CHECK(sorted_units(emulated.gpu()) == c.units);
      CHECK(contains(f.compile_report().to_string(), "(and the device's own "));
      std::vector<Value> values{xa};
      if (c.inputs.size() == 2) values.emplace_back(ia);
      CHECK(f(values)[0].device() == gpu);
      CHECK(sorted_units(emulated.gpu()) == c.units);
      const bool replayed = emulated.gpu().replays > 0;
      CHECK(replayed == contains(c.what, "replayed"));
    }
  }

  TEST_CASE("device functions: every op with a device form, in one function, against the CPU") {
    ScopedEmulatedGpu emulated;
    Var x = matrix("x"), w = matrix("w"), b = vector("b"), i = vector("i", int64);
    RandomStreams rng(1);
    Var h = dot(x, w) + b;  // gemm
    Var m = dot(h.T(), x);  // matmul of a transposed view
    // A scan's stack read whole and through scan_last (as folds and BPTT read it; here built
    // by hand, since the optimizer keeps only the last row of a stack read only that way).
    Var stack = scan([](const StepArgs& v) -> StepResult { return v[1] * 0.5 + v[0]; },
                     {.sequences = {h}, .outputs_info = {zeros_like(b)}})[0];
    Var last = apply(ops::scan_last_op(), {stack, zeros_like(b)}, {},
                     std::source_location::current());
    std::vector<Var> outputs{
        h.reshape({-1}) * 2,                                          // reshape
        concatenate({h, h * 2}, 0) + m.sum(),                         // concatenate, matmul
        inc_subtensor(h(slice(0, 1)), b),                             // inc_subtensor
        h(slice(1, 3)).T() * 1,                                       // subtensor, dimshuffle
        take(h, i, 0), grad((take(h, i, 0) * take(h, i, 0)).sum(), {w})[0],  // take, inc_take
        argmax(h, {1}), argmin(h),                                    // argmax, argmin
        stack * 1, last * 1,                                          // scan_last
        grad((h * stop_gradient(h)).sum(), {b})[0],                   // stop_gradient
        broadcast_to(b, {x.shape(0, std::source_location::current()), 3}) + 0,
        shape(h),                                                     // shape_of, make_vector
        h + rng.uniform(dims_of(h)), rng.normal({5}), rng.integers({4}, 0, 7)};  // draws
    const Array xa = Array::uniform(1, {4, 5}, -1, 1), wa = Array::uniform(2, {5, 3}, -1, 1);
    const Array ba = Array::uniform(3, {3}, -1, 1), ia = Array::from_list<std::int64_t>({3, 0, 3});
    Function f = function({x, w, b, i}, outputs, {.device = gpu});
    INFO(f.program());
    CHECK(f.compile_report().host_steps.empty());
    // Lookups, argmax and draws: every unit of the device's kernels, made by function().
    const std::vector<std::string> all_units{"cgvm_device_common", "cgvm_device_index",
                                             "cgvm_device_random"};
    std::vector<std::string> units = emulated.gpu().device_units();
    std::ranges::sort(units);
    CHECK(units == all_units);
    // Every op that has a device form is here, as a step the device runs.
    std::set<std::string> seen;  // "eval take: v3 v4 -> v5", loop bodies' lines indented
    std::istringstream listing(f.program());
    for (std::string line; std::getline(listing, line);) {
      line.erase(0, line.find_first_not_of(' '));
      if (line.starts_with("eval ")) seen.insert(line.substr(5, line.find(':') - 5));
    }
    for (const OpDef* op : ops::all_ops()) {
      // grad_clip is an identity once the gradients are taken: the optimizer drops it.
      if (!op->on_device || op->name == "grad_clip") continue;
      INFO("op " << op->name);
      CHECK(seen.count(std::string(op->name)) == 1);
    }
    const Outputs got = f(xa, wa, ba, ia);
    rng.seed(1);  // the CPU draws the same numbers
    const Outputs want = function({x, w, b, i}, outputs)(xa, wa, ba, ia);
    for (std::size_t k = 0; k < want.size(); ++k) {
      INFO("output " << k);
      CHECK(got[k].device() == gpu);
      CHECK(allclose(got[k].to_host(), want[k], 1e-5, 1e-6));
    }
    // Each compiled once: none more during the call.
    units = emulated.gpu().device_units();
    std::ranges::sort(units);
    CHECK(units == all_units);
  }

  TEST_CASE("shared variables: placed on a device they stay there; values read as host copies") {
    ScopedEmulatedGpu emulated;
    SharedVar w = shared(Array::from_list<float>({1, 2, 3}), "w");
    CHECK(w.device() == Device::cpu());
    to_device(w, gpu);
    CHECK(w.device() == gpu);
    CHECK(w.get_value(/*borrow=*/true).device() == gpu);
    CHECK(w.get_value().on_host());
    w.set_value(Array::from_list<float>({4, 5, 6}));  // copied over: it lives there
    CHECK(w.get_value(/*borrow=*/true).device() == gpu);
    // A CPU function reads it through a host copy and writes its update back there.
    Var x = vector("x");
    Function f = function({x}, {(w * x).sum()}, {.updates = {{w, w + 1}}});
    CHECK(f(Array::from_list<float>({1, 1, 1}))[0].item<float>() == 15.0f);
    CHECK(w.device() == gpu);
    CHECK(w.get_value().to_vector<float>() == std::vector<float>{5, 6, 7});
    // A device function moves a host variable there for good.
    SharedVar v = shared(Array::from_list<float>({1, 1}), "v");
    Function g = function({}, {v.sum()}, {.updates = {{v, v * 3}}, .device = gpu});
    CHECK(g().size() == 1);
    CHECK(v.device() == gpu);
    CHECK(v.get_value().to_vector<float>() == std::vector<float>{3, 3});
    to_device(v, Device::cpu());
    CHECK(v.device() == Device::cpu());
    CHECK(v.get_value(/*borrow=*/true).on_host());
  }

#ifdef CGVM_TEST_CUDA_PLUGIN
  TEST_CASE("device errors: asking for a GPU where there is none says why") {
    const std::string plugin = fresh_plugin_copy();
    ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", plugin.c_str()},
                               {"CGVM_CUDA_DRIVER", CGVM_TEST_FAKE_LIBCUDA}});
    Var x = vector("x");
    // The error names the user's line, not the library's.
    int line = 0;
    try {
      line = __LINE__, function({x}, {x + 1}, {.device = gpu});
      FAIL("function() made a GPU function without a GPU");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "cuda: CUDA is not available: no CUDA device"));
      CHECK(contains(e.what(), fmt::format("cuda_device_function_test.cpp:{}", line)));
    }
    CHECK_THROWS_WITH_AS(to_device(Array::ones({2}), gpu),
                         doctest::Contains("cuda: CUDA is not available"), Error);
    // Nothing was moved or lost: the CPU path still works.
    CHECK(Array(function({x}, {x + 1})(Array::ones({2}))).to_vector<float>() ==
          std::vector<float>{2, 2});
  }

  TEST_CASE("device arrays through the CUDA backend: a context over the fake driver's memory") {
    // The real provider, cuda::Context, over a driver whose device memory is host memory:
    // stream-ordered allocation, copies both ways and device-to-device copies go through
    // the plugin. (Kernels and cuBLAS need a GPU: the case below.)
    const std::string plugin = fresh_plugin_copy();
    ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", plugin.c_str()},
                               {"CGVM_CUDA_DRIVER", CGVM_TEST_FAKE_LIBCUDA_HOST},
                               {"CGVM_FAKE_CUDA_DRIVER_VERSION", nullptr}});
    const Array a = Array::uniform(7, {4, 5});
    const Array d = to_device(a, gpu);
    CHECK(d.device() == gpu);
    CHECK(device_context(gpu) == d.context());  // one context per device
    CHECK(array_equal(d.to_host(), a));
    const Array c = d.copy();
    CHECK_FALSE(c.shares_storage(d));
    CHECK(array_equal(c.index(0, 2).to_host(), a.index(0, 2)));
    CHECK(d.at<float>({3, 4}) == a.at<float>({3, 4}));
    // A recording (what scan on a device asks for): with CGVM_CUDA_GRAPHS=0 none is
    // tried. This driver cannot load modules nor capture graphs: then it is refused with
    // one warning, and never tried again. Nothing ran either way.
    std::vector<std::string> warnings;
    const WarningHandler saved =
        set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
    bool issued = false;
    {
      ScopedCudaEnvironment graphs_off({{"CGVM_CUDA_GRAPHS", "0"}});
      CHECK_FALSE(cuda::graphs_enabled());
      CHECK(d.context()->record([&] { issued = true; }) == nullptr);
      CHECK(warnings.empty());
    }
    CHECK(cuda::graphs_enabled());
    CHECK(d.context()->record([&] { issued = true; }) == nullptr);
    CHECK(d.context()->record([&] { issued = true; }) == nullptr);
    set_warning_handler(saved);
    CHECK_FALSE(issued);
    REQUIRE(warnings.size() == 1);
    CHECK(contains(warnings[0], "cuda: recording a graph failed, so loops on cuda:0 run step "
                                "by step from now on: "));
    CHECK(array_equal(d.to_host(), a));
    int line = 0;
    try {
      line = __LINE__, to_device(a, Device::cuda(3));
      FAIL("to_device found a device 3");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "cuda: there is no device 3: 1 device(s) found\n  at "));
      CHECK(contains(e.what(), fmt::format("cuda_device_function_test.cpp:{}", line)));
    }
  }
#endif

  TEST_CASE("device functions on a GPU: an MLP trained by SGD follows the CPU") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    check_mlp_training(gpu, 3);
  }

  TEST_CASE("device functions on a GPU: take and inc_take over dtypes, axes and modes") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    check_take_on_device(gpu);
  }

  TEST_CASE("device functions on a GPU: argmax and argmin give the host's positions") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    check_arg_reductions_on_device(gpu);
  }
}

}  // namespace cgvm::test
