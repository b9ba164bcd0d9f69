// runtime/device.hpp's host-side parts: device names, how an inc_take's rows are grouped by
// the slot they write before a device scatters them, and how far a device's draw advances
// its generator.
#include "runtime/device.hpp"

#include <doctest/doctest.h>

#include "runtime/array.hpp"
#include "runtime/random.hpp"

#include <vector>

namespace cgvm {

TEST_CASE("device: ScatterRows groups rows by slot, in index order within a slot") {
  using V = std::vector<std::int64_t>;
  // slot per row:             0  1  2  3  4  5  6
  const V slots{4, 1, 4, 0, 1, 4, 2};
  const ScatterRows rows = ScatterRows::group(slots);
  CHECK(rows.targets == V{0, 1, 2, 4});
  CHECK(rows.starts == V{0, 1, 3, 4, 7});
  CHECK(rows.order == V{3, 1, 4, 6, 0, 2, 5});  // slot 4's rows stay 0, 2, 5

  const ScatterRows none = ScatterRows::group({});
  CHECK(none.targets.empty());
  CHECK(none.starts == V{0});
  CHECK(none.order.empty());

  // Many rows to one slot keep their order (a stable sort).
  const ScatterRows same = ScatterRows::group(V(50, 3));
  CHECK(same.targets == V{3});
  CHECK(same.starts == V{0, 50});
  for (std::int64_t k = 0; k < 50; ++k) CHECK(same.order[static_cast<std::size_t>(k)] == k);
}

TEST_CASE("device: a device draw advances the generator as the host's draw does") {
  using Kind = DeviceDraw::Kind;
  for (std::int64_t n = 0; n < 12; ++n)
    for (DType dtype : {DType::Float32, DType::Float64}) {
      INFO("n " << n << " " << dtype_name(dtype));
      Generator uniform(7, 100), normal(7, 100);
      (void)Array::uniform(uniform, {n}, 0, 1, dtype);
      (void)Array::normal(normal, {n}, 0, 1, dtype);
      CHECK(uniform.counter() - 100 == DeviceDraw::blocks(Kind::Uniform, dtype, n));
      CHECK(normal.counter() - 100 == DeviceDraw::blocks(Kind::Normal, dtype, n));
    }
}

TEST_CASE("device: names parse and print") {
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
  CHECK(Device::cuda(3).str() == "cuda:3");
  CHECK(Device::cpu().str() == "cpu");
  CHECK(Device::parse("cpu").is_cpu());
  CHECK_THROWS_WITH(Device::parse("cuda:x"),
                    "unknown device 'cuda:x': expected \"cpu\", \"cuda\" or \"cuda:N\"");
  CHECK_THROWS(Device::parse("cuda:-1"));
}

}  // namespace cgvm
