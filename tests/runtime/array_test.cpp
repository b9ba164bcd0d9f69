#include <cmath>
#include <limits>

#include "runtime/array.hpp"
#include "runtime/nditer.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {
std::vector<double> values(const Array& a) { return a.to_double_vector(); }
using V = std::vector<double>;
}  // namespace

TEST_CASE("array: shape helpers") {
  CHECK(shape_size({}) == 1);
  CHECK(shape_size({2, 3, 4}) == 24);
  CHECK(shape_size({2, 0}) == 0);
  CHECK(contiguous_strides({2, 3, 4}) == Strides{12, 4, 1});
  CHECK(contiguous_strides({}) == Strides{});
  CHECK(shape_str({2, 3}) == "[2, 3]");
  CHECK(shape_str({}) == "[]");
}

TEST_CASE("array: construction and properties") {
  Array d;
  CHECK(d.rank() == 0);
  CHECK(d.dtype() == DType::Float32);
  CHECK(d.item<float>() == 0.0f);

  Array a = Array::from_list<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.strides() == Strides{3, 1});
  CHECK(a.size() == 6);
  CHECK(a.nbytes() == 24);
  CHECK(a.shape(-1) == 3);
  CHECK(a.is_contiguous());
  CHECK(a.at<float>({1, 2}) == 6.0f);
  CHECK(a.at<float>({-1, -3}) == 4.0f);
  CHECK(reinterpret_cast<std::uintptr_t>(a.raw_data()) % 64 == 0);

  Array s = Array::scalar<std::int64_t>(42);
  CHECK(s.rank() == 0);
  CHECK(s.item<double>() == 42.0);
  CHECK(Array::from_list<bool>({true, false, true}).to_vector<bool>() ==
        std::vector<bool>{true, false, true});

  CHECK_ERROR(Array::from_list<float>({1, 2, 3}, {2, 2}), {"3 values", "[2, 2]"});
  CHECK_ERROR(Array::empty({2, -1}), {"negative", "[2, -1]"});
  CHECK_ERROR(a.shape(2), {"axis 2", "rank 2"});
  CHECK_ERROR(a.item<float>(), {"[2, 3]", "6 elements"});
}

TEST_CASE("array: element access errors name the shape and the index") {
  Array a = Array::zeros({2, 3});
  CHECK_ERROR(a.at<float>({2, 0}), {"[2, 0]", "[2, 3]", "out of bounds"});
  CHECK_ERROR(a.at<float>({0, -4}), {"[0, -4]", "[2, 3]"});
  CHECK_ERROR(a.at<float>({0}), {"[0]", "rank 2"});
  CHECK_ERROR(a.at<double>({0, 0}), {"float64", "float32"});
  CHECK_ERROR(a.data<std::int32_t>(), {"int32", "float32"});
  std::int64_t idx[] = {0, 3};
  CHECK_ERROR(a.get_as_double(idx), {"[0, 3]", "[2, 3]"});
  a.set<float>({1, 1}, 7.5f);
  std::int64_t one[] = {1, 1};
  CHECK(a.get_as_double(one) == 7.5);
  a.set_from_double(one, -2.0);
  CHECK(a.at<float>({1, 1}) == -2.0f);
}

TEST_CASE("array: views share storage and see writes") {
  Array a = Array::arange(12).reshape({3, 4});
  CHECK(a.dtype() == DType::Int64);
  Array row = a.index(0, 1);
  CHECK(row.shares_storage(a));
  CHECK(values(row) == V{4, 5, 6, 7});
  row.set<std::int64_t>({2}, 100);
  CHECK(a.at<std::int64_t>({1, 2}) == 100);

  Array col = a.slice(1, 1, 3);
  CHECK(col.shape() == Shape{3, 2});
  CHECK(!col.is_contiguous());
  a.set<std::int64_t>({2, 1}, -9);
  CHECK(values(col) == V{1, 2, 5, 100, -9, 10});

  Array t = a.transpose();
  CHECK(t.shape() == Shape{4, 3});
  CHECK(t.strides() == Strides{1, 4});
  CHECK(t.at<std::int64_t>({2, 1}) == 100);
  CHECK(a.transpose({1, 0}).strides() == t.strides());
  CHECK(Array::zeros({2, 3, 4}).transpose({2, 0, 1}).shape() == Shape{4, 2, 3});
  CHECK(Array::zeros({2, 3, 4}).transpose({-1, 0, 1}).shape() == Shape{4, 2, 3});
  CHECK_ERROR(a.transpose({0, 0}), {"not a permutation", "[3, 4]"});
  CHECK_ERROR(a.transpose({0}), {"[3, 4]"});
  CHECK_ERROR(a.index(0, 3), {"index 3", "[3, 4]"});
  CHECK(values(a.index(0, -1)) == V{8, -9, 10, 11});
}

TEST_CASE("array: slicing clamps like Python and supports negative steps") {
  Array a = Array::arange(10);
  CHECK(values(a.slice(0, 2, 8, 3)) == V{2, 5});
  CHECK(values(a.slice(0, -3, 100)) == V{7, 8, 9});
  CHECK(values(a.slice(0, -100, 2)) == V{0, 1});
  CHECK(a.slice(0, 5, 2).size() == 0);
  CHECK(values(a.slice(0, 8, 2, -2)) == V{8, 6, 4});
  // a[::-1]: start past the end and stop before the beginning clamp to the full range.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::int64_t small = std::numeric_limits<std::int64_t>::min();
  Array r = a.slice(0, big, small, -1);
  CHECK(values(r) == V{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(r.strides() == Strides{-1});
  CHECK(r.shares_storage(a));
  CHECK(values(a.slice(0, -1, -4, -1)) == V{9, 8, 7});
  CHECK(values(a.slice(0, 3, -100, -1)) == V{3, 2, 1, 0});
  CHECK(values(a.slice(0, 0, 10, big)) == V{0});
  // A reversed view of a reversed view is the original order again.
  CHECK(values(r.slice(0, 1, 4)) == V{8, 7, 6});
  CHECK(values(r.slice(0, big, small, -3)) == V{0, 3, 6, 9});
  r.set<std::int64_t>({0}, 99);
  CHECK(a.at<std::int64_t>({9}) == 99);
  CHECK_ERROR(a.slice(0, 0, 5, 0), {"step", "zero"});
  CHECK_ERROR(a.slice(1, 0, 5), {"axis 1", "rank 1"});
}

TEST_CASE("array: broadcast_to uses stride 0") {
  Array a = Array::from_list<float>({1, 2, 3});
  Array b = a.broadcast_to({4, 3});
  CHECK(b.shape() == Shape{4, 3});
  CHECK(b.strides() == Strides{0, 1});
  CHECK(b.shares_storage(a));
  CHECK(values(b.index(0, 3)) == V{1, 2, 3});
  Array c = a.reshape({3, 1}).broadcast_to({2, 3, 2});
  CHECK(c.strides() == Strides{0, 1, 0});
  CHECK(values(c.index(0, 1)) == V{1, 1, 2, 2, 3, 3});
  CHECK_ERROR(a.broadcast_to({3, 4}), {"[3]", "[3, 4]", "broadcast"});
  CHECK_ERROR(Array::zeros({2, 3}).broadcast_to({3}), {"[2, 3]", "[3]"});
}

TEST_CASE("array: expand_dims and squeeze") {
  Array a = Array::zeros({2, 3});
  CHECK(a.expand_dims(0).shape() == Shape{1, 2, 3});
  CHECK(a.expand_dims(-1).shape() == Shape{2, 3, 1});
  CHECK(a.expand_dims(1).shape() == Shape{2, 1, 3});
  CHECK(a.expand_dims(1).is_contiguous());
  CHECK(a.expand_dims(0).squeeze(0).shape() == Shape{2, 3});
  CHECK_ERROR(a.squeeze(0), {"axis 0", "[2, 3]", "not 1"});
  CHECK_ERROR(a.expand_dims(3), {"axis 3"});
}

TEST_CASE("array: reshape views when possible and copies otherwise") {
  Array a = Array::arange(24);
  Array b = a.reshape({2, -1, 4});
  CHECK(b.shape() == Shape{2, 3, 4});
  CHECK(b.shares_storage(a));
  CHECK(a.reshape({4, 6}).reshape({24}).shares_storage(a));
  // A strided but reshape-compatible view still reshapes without a copy (numpy does too).
  Array every_other = Array::arange(24).reshape({4, 6}).slice(1, 0, 6, 2);  // [4, 3]
  Array v = every_other.reshape({2, 2, 3});
  CHECK(v.shares_storage(every_other));
  CHECK(values(v.index(1, 1)) == V{6, 8, 10, 18, 20, 22});

  // Flattening a transpose cannot be a view: it copies, and writes no longer reach `a`.
  Array t = a.reshape({4, 6}).transpose();
  Array flat = t.reshape({-1});
  CHECK(!flat.shares_storage(a));
  CHECK(values(flat.slice(0, 0, 5)) == V{0, 6, 12, 18, 1});
  flat.set<std::int64_t>({0}, 1000);
  CHECK(a.at<std::int64_t>({0}) == 0);

  CHECK(Array::zeros({2, 0}).reshape({0, 5}).shape() == Shape{0, 5});
  CHECK(Array::scalar(1.5f).reshape({1, 1}).shape() == Shape{1, 1});
  CHECK(Array::zeros({1, 1}).reshape({}).rank() == 0);
  CHECK_ERROR(a.reshape({5, -1}), {"[24]", "[5, -1]"});
  CHECK_ERROR(a.reshape({-1, -1}), {"[-1, -1]"});
  CHECK_ERROR(a.reshape({5, 5}), {"[24]", "[5, 5]"});
}

TEST_CASE("array: copy, contiguous, assign and fill") {
  Array a = Array::arange(6, DType::Float64).reshape({2, 3});
  Array t = a.transpose();
  Array c = t.copy();
  CHECK(c.is_contiguous());
  CHECK(!c.shares_storage(a));
  CHECK(values(c) == V{0, 3, 1, 4, 2, 5});
  CHECK(a.contiguous().shares_storage(a));
  CHECK(!t.contiguous().shares_storage(a));

  Array z = Array::zeros({2, 3}, DType::Int32);
  z.assign(Array::from_list<double>({1.9, -2.9, 3.5}));  // broadcast rows, truncate
  CHECK(values(z) == V{1, -2, 3, 1, -2, 3});
  CHECK_ERROR(z.assign(Array::zeros({4})), {"[4]", "[2, 3]"});

  // Assigning a reversed view of itself reads everything before writing.
  Array r = Array::arange(5);
  r.assign(r.slice(0, 4, -10, -1));
  CHECK(values(r) == V{4, 3, 2, 1, 0});

  Array f = Array::zeros({3, 4});
  f.slice(1, 1, 3).fill(7);
  CHECK(values(f.index(0, 2)) == V{0, 7, 7, 0});
  Array u8 = Array::zeros({2}, DType::UInt8);
  u8.fill(-1);
  CHECK(values(u8) == V{255, 255});
}

TEST_CASE("array: astype rounding, truncation and wrapping rules") {
  Array f = Array::from_list<double>({2.7, -2.7, 0.0, 0.5, -0.5, 300.0, -1.0});
  CHECK(values(f.astype(DType::Int32)) == V{2, -2, 0, 0, 0, 300, -1});
  CHECK(values(f.astype(DType::UInt8)) == V{2, 254, 0, 0, 0, 44, 255});
  CHECK(values(f.astype(DType::Int8)) == V{2, -2, 0, 0, 0, 44, -1});
  CHECK(values(f.astype(DType::Bool)) == V{1, 1, 0, 1, 1, 1, 1});
  Array nan = Array::from_list<double>({std::nan(""), 1e30});
  CHECK(values(nan.astype(DType::Bool)) == V{1, 1});
  CHECK(nan.astype(DType::Int64).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(),
                                  std::numeric_limits<std::int64_t>::min()});
  // float64 -> float32 rounds to nearest.
  Array third = Array::from_list<double>({1.0 / 3.0}).astype(DType::Float32);
  CHECK(third.at<float>({0}) == 1.0f / 3.0f);
  Array ints = Array::from_list<std::int64_t>({-129, 256, (1LL << 53) + 1});
  CHECK(values(ints.astype(DType::Int8)) == V{127, 0, 1});
  CHECK(ints.astype(DType::Int64).to_vector<std::int64_t>()[2] == (1LL << 53) + 1);
  CHECK(values(Array::from_list<bool>({true, false}).astype(DType::Float32)) == V{1, 0});
  // astype of a non-contiguous view
  CHECK(values(Array::arange(6).reshape({2, 3}).transpose().astype(DType::Float32)) ==
        V{0, 3, 1, 4, 2, 5});
}

TEST_CASE("array: arange, linspace and eye") {
  CHECK(values(Array::arange(5)) == V{0, 1, 2, 3, 4});
  CHECK(Array::arange(0).size() == 0);
  CHECK(Array::arange(-3).size() == 0);
  CHECK(values(Array::arange(1, 2, 0.25, DType::Float64)) == V{1, 1.25, 1.5, 1.75});
  CHECK(values(Array::arange(10, 0, -3)) == V{10, 7, 4, 1});
  CHECK(Array::arange(0, 1, 0.1, DType::Float64).size() == 10);
  CHECK(Array::arange(3, DType::Float32).dtype() == DType::Float32);
  CHECK_ERROR(Array::arange(0, 1, 0), {"step", "zero"});

  CHECK(values(Array::linspace(0, 1, 5, true, DType::Float64)) == V{0, 0.25, 0.5, 0.75, 1});
  CHECK(values(Array::linspace(0, 1, 4, false, DType::Float64)) == V{0, 0.25, 0.5, 0.75});
  CHECK(values(Array::linspace(2, 3, 1)) == V{2});
  CHECK(Array::linspace(0, 1, 0).size() == 0);
  Array l = Array::linspace(0.1, 0.7, 7, true, DType::Float64);
  CHECK(l.at<double>({6}) == 0.7);  // the endpoint is exact
  CHECK_ERROR(Array::linspace(0, 1, -1), {"num", "-1"});

  CHECK(values(Array::eye(3)) == V{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(values(Array::eye(2, 3, 1)) == V{0, 1, 0, 0, 0, 1});
  CHECK(values(Array::eye(3, 2, -1, DType::Int32)) == V{0, 0, 1, 0, 0, 1});
  CHECK(Array::ones({2}, DType::Bool).to_vector<bool>() == std::vector<bool>{true, true});
  CHECK(values(Array::full({2}, 2.5, DType::Float64)) == V{2.5, 2.5});
}

TEST_CASE("array: from_external wraps memory without copying") {
  auto buffer = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  Array a = Array::from_external(buffer->data(), {3, 2}, {1, 3}, DType::Float32, buffer);
  CHECK(values(a) == V{1, 4, 2, 5, 3, 6});
  (*buffer)[0] = 10;
  CHECK(a.at<float>({0, 0}) == 10.0f);
  std::weak_ptr<std::vector<float>> watch = buffer;
  buffer.reset();
  CHECK(!watch.expired());  // the array keeps it alive
  Array v = a.index(1, 0);
  a = Array();
  CHECK(!watch.expired());  // so does a view
  CHECK(values(v) == V{10, 2, 3});
  v = Array();
  CHECK(watch.expired());

  float plain[4] = {1, 2, 3, 4};
  CHECK(values(Array::from_external(plain, {2, 2}, {}, DType::Float32)) == V{1, 2, 3, 4});
  CHECK_ERROR(Array::from_external(plain, {2, 2}, {1}, DType::Float32), {"strides", "[2, 2]"});
}

TEST_CASE("array: allclose and array_equal") {
  Array a = Array::from_list<double>({1.0, 2.0, std::nan("")});
  Array b = Array::from_list<double>({1.0 + 1e-9, 2.0, std::nan("")});
  CHECK(!allclose(a, b));
  CHECK(allclose(a, b, 1e-5, 1e-8, true));
  CHECK(!array_equal(a, a));  // NaN is not equal to itself
  Array c = Array::from_list<float>({1.0f, 2.1f, 0.0f});
  CHECK(!allclose(a.slice(0, 0, 2), c.slice(0, 0, 2)));
  CHECK(allclose(a.slice(0, 0, 2), c.slice(0, 0, 2), 0.1));
  CHECK(!allclose(Array::zeros({2, 3}), Array::zeros({3, 2})));
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(allclose(Array::from_list<double>({inf, -inf}), Array::from_list<double>({inf, -inf})));
  CHECK(!allclose(Array::from_list<double>({inf}), Array::from_list<double>({-inf})));
  CHECK(!allclose(Array::from_list<double>({inf}), Array::from_list<double>({1e308})));
  CHECK(array_equal(Array::arange(4), Array::arange(4, DType::Float32)));
  CHECK(!array_equal(Array::arange(4), Array::arange(5)));
  CHECK(!array_equal(Array::from_list<std::int64_t>({(1LL << 53) + 1}),
                     Array::from_list<std::int64_t>({1LL << 53})));
}

TEST_CASE("array: NdIter walks row-major with per-operand offsets") {
  Array a = Array::arange(6).reshape({2, 3}).transpose();  // [3, 2], strides [1, 3]
  std::vector<std::int64_t> seen;
  const std::int64_t* base = a.data<std::int64_t>();
  for (NdIter<1> it(a.shape(), {&a.strides()}); !it.done(); it.next())
    seen.push_back(base[it.offset(0)]);
  CHECK(seen == std::vector<std::int64_t>{0, 3, 1, 4, 2, 5});
}
