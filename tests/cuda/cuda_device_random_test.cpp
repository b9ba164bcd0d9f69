// Random draws in device functions (uniform, normal, bernoulli masks, integers), on the
// emulated GPU of emulated_gpu.hpp: the host's numbers (uniform bit for bit, normal up to
// the device's log, sin and cos, integers bit for bit), generator states advanced alike,
// and where those states live; on a real GPU when present.
#include <array>
#include <cmath>
#include <limits>

#include "cuda_helpers.hpp"
#include "emulated_gpu.hpp"

namespace cgvm::test {
namespace {

const Device gpu = Device::cuda();

// Draws of every kind in one function on `device` against the CPU, over three calls from the
// same generator states: uniform values and integers (several rounds of the walk, and past
// integers_walked values, tried at once) the host's bits, normal ones within 1e-6 (the
// device's log, sin and cos), and every state advanced alike.
void check_draws_on_device(Device device) {
  RandomStreams rng(7);
  Var x = matrix("x");
  const std::int64_t wide_low = std::numeric_limits<std::int64_t>::min() / 2;
  const std::vector<Var> outputs{rng.uniform({5, 7}),
                                 rng.normal({9}, 1, 2, DType::Float64),
                                 x * rng.bernoulli(dims_of(x), 0.5) * 2,
                                 rng.integers({300}, 0, 3LL << 30),
                                 rng.integers({integers_walked + 5000}, 0, 3LL << 30),
                                 rng.integers({90, 70}, wide_low, wide_low + (3LL << 61))};
  const std::size_t normal = 1;
  Function dev = function({x}, outputs, {.device = device});
  Function cpu = function({x}, outputs);
  CHECK(dev.compile_report().host_steps.empty());
  const Array xa = Array::uniform(3, {6, 5});
  for (int call = 0; call < 3; ++call) {
    INFO("call " << call);
    std::vector<Array> before, after;
    for (const SharedVar& s : rng.states()) before.push_back(s.get_value());
    const Outputs got = dev(xa);
    for (const SharedVar& s : rng.states()) after.push_back(s.get_value());
    for (std::size_t i = 0; i < before.size(); ++i) rng.states()[i].set_value(before[i]);
    const Outputs want = cpu(xa);
    for (std::size_t i = 0; i < before.size(); ++i) {
      INFO("state " << i);
      CHECK(array_equal(rng.states()[i].get_value(), after[i]));
    }
    for (std::size_t k = 0; k < want.size(); ++k) {
      INFO("output " << k);
      CHECK(got[k].device() == device);
      if (k == normal)
        CHECK(allclose(got[k].to_host(), want[k], 1e-6, 1e-6));
      else
        CHECK(array_equal(got[k].to_host(), want[k]));
    }
  }
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("device functions: random draws run on the device and repeat the host's numbers") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    RandomStreams rng(42);
    Var x = matrix("x");
    // Sizes that are not whole Philox blocks; a dropout mask (bernoulli) on a symbolic shape.
    std::vector<Var> outputs{rng.uniform({5, 7}),
                             rng.uniform({3, 3}, -2, 3, DType::Float64),
                             rng.normal({9}, 1, 2),
                             rng.normal({4}, 0, 1, DType::Float64),
                             x * rng.bernoulli(dims_of(x), 0.5) * 2};
    Function dev = function({x}, outputs, {.device = gpu});
    Function cpu = function({x}, outputs);
    CHECK(dev.compile_report().host_steps.empty());
    const Array xa = Array::uniform(3, {6, 5});
    auto states = [&] {
      std::vector<std::vector<std::int64_t>> out;
      for (const SharedVar& s : rng.states()) out.push_back(s.get_value().to_vector<std::int64_t>());
      return out;
    };
    for (int call = 0; call < 2; ++call) {  // the second call draws fresh numbers on both
      INFO("call " << call);
      const auto before = states();
      const Outputs got = dev(xa);
      const auto after_device = states();
      CHECK(after_device != before);
      for (std::size_t i = 0; i < rng.states().size(); ++i) rng.states()[i].set_value(random_state(
          static_cast<std::uint64_t>(before[i][0]), static_cast<std::uint64_t>(before[i][1])));
      const Outputs want = cpu(xa);
      CHECK(states() == after_device);  // both advanced their generators alike
      for (std::size_t k = 0; k < want.size(); ++k) {
        INFO("output " << k);
        CHECK(got[k].device() == gpu);
        if (k == 2 || k == 3)  // normal: up to the device's log, sin and cos
          CHECK(allclose(got[k].to_host(), want[k], 1e-6, 1e-6));
        else
          CHECK(array_equal(got[k].to_host(), want[k]));  // uniform: the host's bits
      }
    }
    CHECK(g.draws >= 5);
    // The states stay on the host: a call moves x over and nothing back.
    const std::size_t to_host = g.bytes_to_host, from_host = g.bytes_from_host;
    dev(xa);
    CHECK(g.bytes_to_host == to_host);
    CHECK(g.bytes_from_host - from_host == xa.nbytes());
    for (const SharedVar& s : rng.states()) CHECK(s.device() == Device::cpu());
    // States placed on the device are read and advanced there (as in a scan's step): the
    // same numbers again, and nothing read back.
    for (const SharedVar& s : rng.states()) to_device(s, gpu);
    const auto before = states();
    const std::size_t back = g.bytes_to_host;
    const int state_draws = g.device_state_draws;
    const Outputs got = dev(xa);
    CHECK(g.bytes_to_host == back);
    CHECK(g.device_state_draws - state_draws == 5);
    for (const SharedVar& s : rng.states()) CHECK(s.device() == gpu);
    const auto after_device = states();
    for (std::size_t i = 0; i < rng.states().size(); ++i)
      rng.states()[i].set_value(random_state(static_cast<std::uint64_t>(before[i][0]),
                                             static_cast<std::uint64_t>(before[i][1])));
    const Outputs want = cpu(xa);
    CHECK(states() == after_device);
    for (std::size_t k = 0; k < want.size(); ++k)
      CHECK(allclose(got[k].to_host(), want[k], 1e-6, 1e-6));
    // A draw of nothing still advances nothing and writes the state it read.
    const auto context = device_context(gpu);
    const Array state = to_device(random_state(5, 9), gpu);
    const Array next = to_device(Array::zeros({2}, DType::Int64), gpu);
    context->draw(Array::empty({0}, DType::Float32, context), DeviceDraw{}, state, next);
    CHECK(next.to_host().to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 9});
    context->draw(Array::empty({5}, DType::Float32, context), DeviceDraw{}, state, next);
    CHECK(next.to_host().to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 11});
    // Integers (rejection sampling: how many words a value takes is known once drawn) are
    // drawn on the device, which advances their state itself: a device function moves the
    // state there for good. The host's values and states, over ranges of 32 and 64 bits
    // where a quarter of the draws are rejected, and a small one. Past integers_walked values
    // the likely draws are tried at once over the device (here three such draws): the block
    // walks on only where they fell short.
    const std::int64_t wide_low = std::numeric_limits<std::int64_t>::min() / 2;
    std::vector<Var> ints{rng.integers({300}, 0, 3LL << 30), rng.integers({5}, 10, 13, DType::Int8),
                          rng.integers({70}, wide_low, wide_low + (3LL << 61)),
                          rng.integers({0}, 0, 2),
                          rng.integers({integers_walked + 5000}, 0, 3LL << 30),
                          rng.integers({90, 70}, wide_low, wide_low + (3LL << 61)),
                          rng.integers({integers_walked + 1}, -3, 4)};
    // Of the two with rejections, per call: did the draws tried at once hold all the values?
    // (From the host's state: the Philox blocks the values took, 4 words each.)
    const std::array<std::pair<std::int64_t, DeviceDraw>, 2> many{
        std::pair{integers_walked + 5000,
                  DeviceDraw{.kind = DeviceDraw::Kind::Integers, .range = 3ULL << 30}},
        std::pair{90 * 70, DeviceDraw{.kind = DeviceDraw::Kind::Integers, .range = 3ULL << 61}}};
    int held = 0, walked_on = 0;
    Function dev_ints = function({}, ints, {.device = gpu});
    Function cpu_ints = function({}, ints);
    CHECK(dev_ints.compile_report().host_steps.empty());
    const std::vector<SharedVar> int_states(rng.states().end() - 7, rng.states().end());
    for (int call = 0; call < 3; ++call) {
      INFO("call " << call);
      std::vector<Array> start;
      for (const SharedVar& s : int_states) start.push_back(s.get_value());
      const int state_draws = g.device_state_draws;
      const std::size_t back = g.bytes_to_host;
      const Outputs got = dev_ints();
      CHECK(g.device_state_draws - state_draws == 7);
      CHECK(g.bytes_to_host == back);
      std::vector<Array> after;
      for (const SharedVar& s : int_states) {
        after.push_back(s.get_value());
        CHECK(s.device() == gpu);
      }
      for (std::size_t i = 0; i < int_states.size(); ++i) int_states[i].set_value(start[i]);
      const Outputs want = cpu_ints();
      for (std::size_t k = 0; k < want.size(); ++k) {
        INFO("output " << k);
        CHECK(got[k].device() == gpu);
        CHECK(array_equal(got[k].to_host(), want[k]));
        CHECK(array_equal(int_states[k].get_value(), after[k]));  // advanced alike
      }
      for (std::size_t k = 0; k < many.size(); ++k) {
        const auto& [count, draw] = many[k];
        const std::int64_t words = draw.range > 0xFFFFFFFFULL ? 2 : 1;
        const std::int64_t blocks =
            after[4 + k].at<std::int64_t>({1}) - start[4 + k].at<std::int64_t>({1});
        const std::int64_t tried = integers_tried(draw, count);
        held += blocks * 4 / words <= tried;
        walked_on += (blocks - 1) * 4 / words > tried;
      }
    }
    CHECK(held > 0);
    CHECK(walked_on > 0);
  }

  TEST_CASE("device functions: the GPU's check of draws, on the emulated GPU") {
    ScopedEmulatedGpu emulated;
    check_draws_on_device(gpu);
  }

  TEST_CASE("device functions on a GPU: draws repeat the host's numbers") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    check_draws_on_device(gpu);
  }
}

}  // namespace cgvm::test
