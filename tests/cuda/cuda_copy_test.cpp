// Copies and accumulations on a device (codegen/conversion.hpp): the walk that sets the
// rank of a copy's program, and copies over many layouts on the emulated GPU against the
// host's.
#include <algorithm>

#include "codegen/conversion.hpp"
#include "cuda_helpers.hpp"
#include "emulated_gpu.hpp"

namespace cgvm::test {
namespace {

const Device gpu = Device::cuda();

int walked_rank(const Array& dst, const Array& src) {
  return copy_key(CopyKind::Convert, dst, src).rank;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("device copies: a copy walks as few axes as its arrays allow") {
    // Only shapes and strides count: host arrays will do.
    const Array x = Array::zeros({4, 1, 3, 5});
    CHECK(walked_rank(x, x) == 1);  // both C-contiguous: one axis
    CHECK(walked_rank(Array::zeros({}), Array::zeros({})) == 0);
    CHECK(walked_rank(Array::zeros({1, 1}), Array::zeros({1, 1})) == 0);
    // A slice of rows is contiguous; one of columns walks rows and runs.
    const Array stack = Array::zeros({6, 4, 5});
    CHECK(walked_rank(Array::zeros({4, 4, 5}), stack.slice(0, 1, 5)) == 1);
    CHECK(walked_rank(Array::zeros({6, 2, 5}), stack.slice(1, 0, 2)) == 2);
    // Rows reversed, a transpose, broadcasts: nothing merges with a stride that disagrees.
    const Array m = Array::zeros({4, 3});
    CHECK(walked_rank(m, m.slice(0, 3, -5, -1)) == 2);
    CHECK(walked_rank(Array::zeros({4, 3, 5}), Array::zeros({4, 5, 3}).transpose({0, 2, 1})) == 3);
    CHECK(walked_rank(Array::zeros({4, 5}), Array::zeros({1, 5}).broadcast_to({4, 5})) == 2);
    CHECK(walked_rank(Array::zeros({4, 5, 6}), Array::zeros({5, 6}).broadcast_to({4, 5, 6})) == 2);
    // Axes are walked in their order, not sorted by stride: a transposed pair walks two.
    const Array t = Array::zeros({3, 4}).transpose();
    CHECK(walked_rank(t, t) == 2);
  }

  TEST_CASE("device copies: copies, conversions and assignments over layouts equal the host's") {
    ScopedEmulatedGpu emulated;
    const Array base = Array::arange(0, 6 * 4 * 5, 1, DType::Float32).reshape({6, 4, 5});
    const Array device_base = to_device(base, gpu);
    // Each layout, as a view of the host's array and of the device's.
    struct Layout {
      const char* what;
      std::function<Array(const Array&)> view;
    };
    const Layout layouts[] = {
        {"rows", [](const Array& a) { return a.slice(0, 1, 5); }},
        {"columns", [](const Array& a) { return a.slice(1, 0, 2); }},
        {"reversed", [](const Array& a) { return a.slice(0, 5, -7, -2); }},
        {"transposed", [](const Array& a) { return a.transpose({2, 0, 1}); }},
        {"a size-1 axis", [](const Array& a) { return a.slice(1, 2, 3).expand_dims(0); }},
        {"a broadcast",
         [](const Array& a) { return a.index(1, 3).expand_dims(1).broadcast_to({6, 3, 5}); }},
    };
    for (const Layout& l : layouts) {
      INFO(std::string(l.what));
      const Array want = l.view(base);
      const Array got = l.view(device_base);
      CHECK(array_equal(got.copy().to_host(), want.copy()));
      CHECK(array_equal(got.astype(DType::Float64).to_host(), want.astype(DType::Float64)));
      CHECK(array_equal(got.astype(DType::Int32).to_host(), want.astype(DType::Int32)));
      // Written through a view: the rest of the array is left as it was.
      Array into = to_device(Array::zeros({6, 4, 5}), gpu), host_into = Array::zeros({6, 4, 5});
      const Array source = Array::arange(0, want.size(), 1, DType::Float64).reshape(want.shape());
      if (l.what != std::string("a broadcast")) {  // a broadcast view has no place per element
        l.view(into).assign(to_device(source, gpu));
        l.view(host_into).assign(source);
        CHECK(array_equal(into.to_host(), host_into));
      }
    }
    // However many axes, no copy program walks more than the layouts need: three here.
    for (const CopyKey& key : emulated.gpu().copy_programs()) CHECK(key.rank <= 3);
  }

  TEST_CASE("device copies: an LSTM's training step builds copy programs of at most two axes") {
    // Its scan copies rows of [steps, batch, hidden] stacks and their reversals: rank 3
    // arrays that walk one or two axes.
    ScopedEmulatedGpu emulated;
    const TrainingGraph lstm = lstm_training_graph(8);
    Function f = function(lstm.inputs, lstm.outputs, {.device = gpu});
    Function cpu = function(lstm.inputs, lstm.outputs);
    const std::vector<Value> values = lstm_values(6, 3, 4, 8, 0.5, 3);
    const Outputs got = f(values), want = cpu(values);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("output " << i);
      CHECK(allclose(got[i].to_host(), want[i], 1e-4, 1e-5));
    }
    const std::vector<CopyKey> keys = emulated.gpu().copy_programs();
    CHECK(!keys.empty());
    for (const CopyKey& key : keys) CHECK(key.rank <= 2);
  }
}

}  // namespace cgvm::test
