// The errors a user meets with device functions (api/device.hpp, the device mode of
// api/executor.hpp), on the emulated GPU of emulated_gpu.hpp: an index out of range, from
// the host (raised at once) and from the device (noted by the kernel, raised when the call
// ends, nothing updated); device arrays given to host code; bad devices; the interpret mode.
#include <string>
#include <vector>

#include "cuda_helpers.hpp"
#include "emulated_gpu.hpp"

namespace cgvm::test {
namespace {

const Device gpu = Device::cuda();

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("device errors: an index out of range on the device is the host's error") {
    ScopedEmulatedGpu emulated;
    Var x = matrix("x"), i = vector("i", int64);
    const int line = __LINE__ + 1;
    Function f = function({x, i}, {take(x, i, 0) * 2}, {.device = gpu});
    const Array xa = Array::ones({4, 3});
    try {
      f(xa, Array::from_list<std::int64_t>({1, 4}));
      FAIL("an index out of range was taken");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "index 4 is out of bounds for axis 0 with size 4"));
      CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), line)));
    }
    // Nothing was left half done: the next call works.
    CHECK(array_equal(Array(f(xa, Array::from_list<std::int64_t>({3, -4}))).to_host(),
                      Array::full({2, 3}, 2.0f)));
  }

  TEST_CASE("device errors: an index out of range among indices the device holds is raised "
            "when the call ends, at the op's line, and nothing is updated") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    SharedVar table = shared(Array::ones({4, 3}), "table");
    SharedVar calls = shared(Array::scalar<float>(0), "calls");
    Var i = vector("i", int64);
    const int take_line = __LINE__ + 1;
    Var looked = take(table, i, 0) * 2;
    const int inc_line = __LINE__ + 1;
    Var added = inc_subtensor(table[i], constant(1.0, float32));
    Function f = function({i}, {looked, added},
                          {.updates = {{calls, calls + 1}, {table, table * 1.5f}}, .device = gpu});
    const Array good = to_device(Array::from_list<std::int64_t>({3, -4, 3}), gpu);
    f(good);
    CHECK(calls.get_value().item<float>() == 1);
    auto expect_fault = [&](const Array& indices, std::int64_t index, int at, int line) {
      const Array before = table.get_value();
      try {
        f(to_device(indices, gpu));
        FAIL("an index out of range was looked up");
      } catch (const Error& e) {
        CHECK(contains(e.what(), fmt::format("index {} is out of bounds for axis 0 with size 4, "
                                             "at [{}] of the indices",
                                             index, at)));
        CHECK(contains(e.what(), "read on cuda:0 from indices it holds"));
        CHECK(contains(e.what(), "updates not applied"));
        CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), line)));
      }
      CHECK(calls.get_value().item<float>() == 1);
      CHECK(array_equal(table.get_value(), before));
    };
    // take and inc_take read the same indices; the take's kernel runs first.
    expect_fault(Array::from_list<std::int64_t>({1, 4}), 4, 1, take_line);
    expect_fault(Array::from_list<std::int64_t>({-5, 0}), -5, 0, take_line);
    // An inc_take alone.
    Function g_only = function({i}, {added}, {.device = gpu});
    try {
      g_only(to_device(Array::from_list<std::int64_t>({0, 7}), gpu));
      FAIL("an index out of range was scattered");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "index 7 is out of bounds for axis 0 with size 4, at [1] of the "
                               "indices"));
      CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), inc_line)));
    }
    // The note was cleared: the next calls work and are counted.
    const Outputs fine = f(good);
    CHECK(calls.get_value().item<float>() == 2);
    CHECK(array_equal(fine[0].to_host(), Array::full({3, 3}, 3.0f)));
    // Indices from the host are checked there, at once: no note is read back.
    const int reads = g.fault_reads;
    f(Array::from_list<std::int64_t>({0, 1}));
    CHECK(g.fault_reads == reads);
    // More device rows than the comparing kernel links: sorted on the device instead, and an
    // index out of range among them (at 9000) noted there, nothing read back but the note.
    std::vector<std::int64_t> many(static_cast<std::size_t>(scatter_compare_rows) + 1000);
    for (std::size_t k = 0; k < many.size(); ++k) many[k] = static_cast<std::int64_t>(k % 4);
    const int device_scatters = g.device_scatters, scatters = g.scatters;
    const Array many_a = Array::from_vector(many);
    CHECK(array_equal(Array(g_only(to_device(many_a, gpu))).to_host(),
                      Array(function({i}, {added})(many_a))));
    CHECK(g.device_scatters == device_scatters + 1);
    CHECK(g.scatters == scatters);
    many[9000] = -6;
    const std::size_t to_host = g.bytes_to_host;
    try {
      g_only(to_device(Array::from_vector(many), gpu));
      FAIL("an index out of range was scattered");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "index -6 is out of bounds for axis 0 with size 4, at [9000] of "
                               "the indices"));
      CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), inc_line)));
    }
    CHECK(g.bytes_to_host == to_host + DeviceFaultNote::kWords * sizeof(std::int64_t));
  }

  TEST_CASE("device errors: device arrays given to host code, bad devices, the interpret mode") {
    ScopedEmulatedGpu emulated;
    Var x = vector("x");
    Function host_f = function({x}, {x + 1}, {.name = "inc"});
    CHECK_THROWS_WITH_AS(host_f(to_device(Array::ones({3}), gpu)),
                         "function 'inc': input 0 ('x') is on cuda:0, but the function runs on the "
                         "host; pass to_host() of it, or make the function with .device = "
                         "Device::cuda(0)",
                         Error);
    // evaluate() (the interpreter) runs on the host too.
    const int line = __LINE__ + 1;
    Var y = vector("y");
    try {
      evaluate(y * 2, {{y, to_device(Array::ones({3}), gpu)}});
      FAIL("evaluate() read device memory on the host");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "evaluate: the value for 'y' is on cuda:0, but evaluate() runs on "
                               "the host; pass to_host() of it, or make a function with .device "
                               "= Device::cuda(0)"));
      CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), line)));
    }
    CHECK_THROWS_WITH_AS(function({x}, {x + 1}, {.mode = Mode::Interpret, .device = gpu}),
                         doctest::Contains("the interpret mode runs on the host; device cuda:0 "
                                           "needs Mode::Compiled or Mode::Debug"),
                         Error);
    CHECK_THROWS_WITH_AS(Device::parse("gpu0"),
                         "unknown device 'gpu0': expected \"cpu\", \"cuda\" or \"cuda:N\"", Error);
    CHECK(Device::parse("cuda:1") == Device::cuda(1));
    CHECK(Device::parse("cuda") == Device::cuda(0));
    CHECK(Device::parse("cpu") == Device::cpu());
    CHECK(Device::cuda(2).str() == "cuda:2");
  }
}

}  // namespace cgvm::test
