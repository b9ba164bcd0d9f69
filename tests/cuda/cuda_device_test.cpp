// Execution on a GPU: memory, launches, cuBLAS, graphs. Each case skips with a message
// where no GPU is usable (CI, the development machines).
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "cuda/blas.hpp"
#include "cuda/compile.hpp"
#include "cuda/device.hpp"
#include "cuda/module.hpp"
#include "cuda_helpers.hpp"

namespace cgvm::test {
namespace {

// The kernels of cuda_helpers.hpp, as a CUBIN for this GPU (cached in a test directory).
cuda::Module load_test_kernels(cuda::CodeKind kind = cuda::CodeKind::Cubin) {
  cuda::CompileOptions options;
  options.cache.cache_dir = temp_dir();
  return cuda::Module::load(
      cuda::compile_cuda(kKernelsSource, kind, cuda::device_info().arch(), options));
}

std::vector<float> iota_floats(std::size_t n, float start, float step) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// Row-major C (m x n) = A (m x k) * B (k x n), in double for the reference.
template <class T>
std::vector<T> naive_matmul(const std::vector<T>& a, const std::vector<T>& b, int m, int n, int k) {
  std::vector<T> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p) sum += double(a[i * k + p]) * double(b[p * n + j]);
      c[i * n + j] = static_cast<T>(sum);
    }
  return c;
}

template <class T>
cuda::DeviceBuffer upload(const std::vector<T>& host) {
  cuda::DeviceBuffer buffer(host.size() * sizeof(T));
  cuda::copy_to_device(buffer.get(), host.data(), buffer.size());
  return buffer;
}

template <class T>
std::vector<T> download(const cuda::DeviceBuffer& buffer) {
  std::vector<T> host(buffer.size() / sizeof(T));
  cuda::copy_to_host(host.data(), buffer.get(), buffer.size());
  return host;
}

// Row-major C = A B through column-major cuBLAS: C^T = B^T A^T.
cuda::Gemm row_major_product(DType dtype, const cuda::DeviceBuffer& a, const cuda::DeviceBuffer& b,
                             const cuda::DeviceBuffer& c, int m, int n, int k) {
  cuda::Gemm g;
  g.dtype = dtype;
  g.m = n;
  g.n = m;
  g.k = k;
  g.a = b.get();
  g.lda = n;
  g.b = a.get();
  g.ldb = k;
  g.c = c.get();
  g.ldc = n;
  return g;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda device: info about the device") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    cuda::DeviceInfo info = cuda::device_info(0);
    MESSAGE(cuda::status());
    CHECK_FALSE(info.name.empty());
    CHECK(info.compute_major >= 7);
    CHECK(info.arch().starts_with("sm_"));
    CHECK(info.total_memory > (std::size_t(1) << 30));
    CHECK(info.warp_size == 32);
    CHECK(cuda::driver_version() >= 13000);
    cuda::MemoryInfo memory = cuda::memory_info();
    CHECK(memory.free_bytes <= memory.total_bytes);
    CHECK_ERROR(cuda::device_info(cuda::device_count()), {"does not exist"});
  }

  TEST_CASE("cuda device: memory round trips through copies and fills") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    const std::vector<float> host = iota_floats(1000, -3.0f, 0.25f);
    cuda::DeviceBuffer a = upload(host);
    cuda::DeviceBuffer b(a.size());
    cuda::copy_device(b.get(), a.get(), a.size());
    CHECK(download<float>(b) == host);

    cuda::fill_bytes(b.get(), 0, b.size());
    CHECK(download<float>(b) == std::vector<float>(host.size(), 0.0f));

    // Asynchronous, on a stream, through pinned memory.
    cuda::Stream stream;
    cuda::PinnedBuffer staging(a.size());
    cuda::copy_device_async(b.get(), a.get(), a.size(), stream);
    cuda::copy_to_host_async(staging.data(), b.get(), b.size(), stream);
    stream.synchronize();
    CHECK(std::equal(host.begin(), host.end(), static_cast<const float*>(staging.data())));

    // Stream-ordered allocation.
    cuda::DevicePtr scratch = cuda::allocate_async(a.size(), stream);
    cuda::copy_device_async(scratch, a.get(), a.size(), stream);
    cuda::copy_to_host_async(staging.data(), scratch, a.size(), stream);
    cuda::free_async(scratch, stream);
    stream.synchronize();
    CHECK(std::equal(host.begin(), host.end(), static_cast<const float*>(staging.data())));

    CHECK(cuda::DeviceBuffer(0).get() == 0);
    CHECK_THROWS_AS(cuda::DeviceBuffer(std::size_t(1) << 60), cuda::OutOfMemory);
  }

  TEST_CASE("cuda device: a launched saxpy matches the CPU, from CUBIN and from PTX") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    for (cuda::CodeKind kind : {cuda::CodeKind::Cubin, cuda::CodeKind::Ptx}) {
      CAPTURE(static_cast<int>(kind));
      cuda::Module module = load_test_kernels(kind);
      cuda::Kernel saxpy = module.kernel("saxpy");
      const int n = 100003;  // not a multiple of the block size
      const float a = 1.5f;
      const std::vector<float> x = iota_floats(n, 0.0f, 0.001f), y = iota_floats(n, 7.0f, -0.002f);
      cuda::DeviceBuffer dx = upload(x), dy = upload(y);
      cuda::Stream stream;
      cuda::LaunchConfig config;
      config.block.x = 256;
      config.grid.x = (n + 255) / 256;
      config.stream = stream;
      saxpy(config, n, a, dx.get(), dy.get());
      stream.synchronize();
      std::vector<float> result = download<float>(dy);
      int wrong = 0;
      for (int i = 0; i < n; ++i) {
        const float expected = a * x[i] + y[i];  // the GPU may fuse: allow an ulp or two
        wrong += std::abs(result[i] - expected) > 1e-6f * std::max(1.0f, std::abs(expected));
      }
      CHECK(wrong == 0);
    }
    CHECK_ERROR(load_test_kernels().kernel("no_such_kernel"), {"no_such_kernel"});
  }

  TEST_CASE("cuda device: the block reduction sums halves") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    cuda::Module module = load_test_kernels();
    const int n = 5000, block = 256, blocks = (n + block - 1) / block;
    // Halves of small integers are exact: 1.0 is 0x3c00, 2.0 is 0x4000.
    std::vector<std::uint16_t> x(n);
    for (int i = 0; i < n; ++i) x[i] = i % 2 ? 0x4000 : 0x3c00;
    cuda::DeviceBuffer dx = upload(x), partial(blocks * sizeof(float));
    cuda::LaunchConfig config;
    config.grid.x = blocks;
    config.block.x = block;
    module.kernel("block_sum_half")(config, n, dx.get(), partial.get());
    cuda::synchronize_device();
    std::vector<float> sums = download<float>(partial);
    CHECK(std::accumulate(sums.begin(), sums.end(), 0.0) == doctest::Approx(1.5 * n));
  }

  TEST_CASE("cuda device: cuBLAS sgemm and batched dgemm match a naive product") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    const int m = 37, n = 53, k = 29;
    SUBCASE("sgemm, row-major through the column-major swap") {
      std::vector<float> a = iota_floats(m * k, -1.0f, 0.01f),
                         b = iota_floats(k * n, 0.5f, -0.003f);
      cuda::DeviceBuffer da = upload(a), db = upload(b), dc(m * n * sizeof(float));
      cuda::gemm(row_major_product(DType::Float32, da, db, dc, m, n, k));
      std::vector<float> c = download<float>(dc), expected = naive_matmul(a, b, m, n, k);
      for (int i = 0; i < m * n; ++i) REQUIRE(c[i] == doctest::Approx(expected[i]).epsilon(1e-4));
    }
    SUBCASE("sgemm with a transposed operand, alpha and beta") {
      // C = 2 * A^T B + 0.5 C, A stored k x m.
      std::vector<float> at = iota_floats(k * m, 0.25f, 0.02f), b = iota_floats(k * n, 1.0f, 0.01f);
      std::vector<float> c0 = iota_floats(m * n, 3.0f, 0.0f);
      std::vector<float> a(m * k);
      for (int i = 0; i < m; ++i)
        for (int p = 0; p < k; ++p) a[i * k + p] = at[p * m + i];
      cuda::DeviceBuffer dat = upload(at), db = upload(b), dc = upload(c0);
      cuda::Gemm g = row_major_product(DType::Float32, dat, db, dc, m, n, k);
      g.transpose_b = true;  // the swapped "b" is A, stored transposed
      g.ldb = m;
      g.alpha = 2.0;
      g.beta = 0.5;
      cuda::gemm(g);
      std::vector<float> c = download<float>(dc), product = naive_matmul(a, b, m, n, k);
      for (int i = 0; i < m * n; ++i)
        REQUIRE(c[i] == doctest::Approx(2 * product[i] + 0.5f * c0[i]).epsilon(1e-4));
    }
    SUBCASE("strided-batched dgemm") {
      const int batch = 3;
      std::vector<double> a(batch * m * k), b(batch * k * n);
      for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(double(i));
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(double(i));
      cuda::DeviceBuffer da = upload(a), db = upload(b), dc(batch * m * n * sizeof(double));
      cuda::Gemm g = row_major_product(DType::Float64, da, db, dc, m, n, k);
      g.batch_count = batch;
      g.stride_a = k * n;  // the swapped "a" is B
      g.stride_b = m * k;
      g.stride_c = m * n;
      cuda::Stream stream;
      g.stream = stream;
      cuda::gemm(g);
      stream.synchronize();
      std::vector<double> c = download<double>(dc);
      for (int i = 0; i < batch; ++i) {
        std::vector<double> ai(a.begin() + i * m * k, a.begin() + (i + 1) * m * k);
        std::vector<double> bi(b.begin() + i * k * n, b.begin() + (i + 1) * k * n);
        std::vector<double> expected = naive_matmul(ai, bi, m, n, k);
        for (int j = 0; j < m * n; ++j) REQUIRE(c[i * m * n + j] == doctest::Approx(expected[j]));
      }
    }
    SUBCASE("bad arguments are errors naming the sizes") {
      cuda::DeviceBuffer d(16);
      cuda::Gemm g = row_major_product(DType::Float32, d, d, d, 2, 2, 2);
      g.lda = 1;  // less than the rows of op(A)
      CHECK_ERROR(cuda::gemm(g), {"sgemm", "lda=1"});
      g.dtype = DType::Int32;
      CHECK_ERROR(cuda::gemm(g), {"float32 and float64, not int32"});
    }
  }

  TEST_CASE("cuda device: a captured graph of kernels and a gemm replays N times") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    cuda::Module module = load_test_kernels();
    cuda::Kernel add_one = module.kernel("add_one");
    const int n = 4096, m = 8, k = 8, steps = 10;
    cuda::DeviceBuffer y(n * sizeof(float));
    cuda::fill_bytes(y.get(), 0, y.size());
    std::vector<float> a = iota_floats(m * k, 0.1f, 0.1f), b = iota_floats(k * m, 1.0f, -0.05f);
    cuda::DeviceBuffer da = upload(a), db = upload(b), dc(m * m * sizeof(float));
    cuda::fill_bytes(dc.get(), 0, dc.size());

    cuda::Stream stream;
    cuda::LaunchConfig config;
    config.block.x = 256;
    config.grid.x = n / 256;
    config.stream = stream;
    cuda::GraphExec graph = cuda::capture(stream, [&] {
      add_one(config, n, y.get());  // two launches per step: y += 2
      add_one(config, n, y.get());
      cuda::Gemm g = row_major_product(DType::Float32, da, db, dc, m, m, k);
      g.beta = 1.0;  // accumulate: C += A B per step
      g.stream = stream;
      cuda::gemm(g);
    });
    // Capturing ran nothing.
    stream.synchronize();
    CHECK(download<float>(y) == std::vector<float>(n, 0.0f));

    cuda::Event start, end;
    start.record(stream);
    for (int step = 0; step < steps; ++step) graph.launch(stream);
    end.record(stream);
    end.synchronize();
    CHECK(cuda::Event::elapsed_ms(start, end) >= 0.0f);
    CHECK(download<float>(y) == std::vector<float>(n, 2.0f * steps));
    std::vector<float> c = download<float>(dc), product = naive_matmul(a, b, m, m, k);
    for (int i = 0; i < m * m; ++i)
      REQUIRE(c[i] == doctest::Approx(steps * product[i]).epsilon(1e-4));

    // A failure inside the capture ends it: the stream works afterwards.
    CHECK_THROWS_AS(cuda::capture(stream, [] { throw Error("stop"); }), Error);
    cuda::copy_to_host(c.data(), dc.get(), dc.size(), stream);
    CHECK_ERROR(cuda::begin_capture(cuda::StreamRef{}), {"not stream 0"});
  }

}  // TEST_SUITE
}  // namespace cgvm::test
