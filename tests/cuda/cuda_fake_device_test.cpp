// The plugin's driver plumbing without a GPU: a fake driver whose "device memory" is host
// memory (fake_libcuda.cpp) stands in for libcuda. What it checks: entry points are asked
// for by base name at the version of cuda.h's variant, the allocator's pool keeps freed
// memory, the primary context is made current on every thread that calls, copies and fills
// move the right bytes, and driver errors arrive as sentences. Kernels, cuBLAS and graphs need the real thing (cuda_device_test.cpp).
#include <dlfcn.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "cuda/device.hpp"
#include "cuda_helpers.hpp"

namespace cgvm::test {
#ifdef CGVM_TEST_CUDA_PLUGIN
namespace {

// What the fake's `function` (cgvm_fake_cuda_*) says of the plugin's calls so far.
template <class Result>
Result ask_fake_driver(const char* function) {
  void* fake = dlopen(CGVM_TEST_FAKE_LIBCUDA_HOST, RTLD_NOW | RTLD_NOLOAD);
  REQUIRE_MESSAGE(fake != nullptr, "the fake driver is not loaded");
  auto ask = reinterpret_cast<Result (*)()>(dlsym(fake, function));
  const bool found = ask != nullptr;  // (doctest cannot print a function pointer)
  REQUIRE_MESSAGE(found, function);
  const Result answer = ask();
  dlclose(fake);
  return answer;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda fake device: the plugin drives a driver through its entry points") {
    const std::string plugin = fresh_plugin_copy();
    ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", plugin.c_str()},
                               {"CGVM_CUDA_DRIVER", CGVM_TEST_FAKE_LIBCUDA_HOST},
                               {"CGVM_FAKE_CUDA_DRIVER_VERSION", nullptr}});
    REQUIRE(cuda::available());
    CHECK(cuda::status() ==
          "CUDA driver 13.0 with 1 device(s); device 0: cgvm fake device (sm_90, 1.0 GiB)");
    CHECK_NOTHROW(cuda::require());
    CHECK(cuda::device_count() == 1);
    CHECK(cuda::driver_version() == 13000);

    const cuda::DeviceInfo info = cuda::device_info(0);
    CHECK(info.name == "cgvm fake device");
    CHECK(info.arch() == "sm_90");
    CHECK(info.multiprocessors == 4);
    CHECK(info.max_threads_per_block == 1024);
    CHECK(info.max_shared_memory_per_block == 232448);
    CHECK(info.warp_size == 32);
    CHECK(info.total_memory == (std::size_t(1) << 30));
    CHECK(cuda::memory_info().total_bytes == (std::size_t(1) << 30));

    // Base names, each at the version of the variant cuda.h declares (cuMemAlloc_v2: 3.2),
    // not the toolkit's: at 13.0 cuCtxSynchronize is a variant that takes a context.
    const std::string requests = ask_fake_driver<const char*>("cgvm_fake_cuda_requests");
    INFO("requests: " << requests);
    CHECK(contains(requests, "cuMemAlloc@3020;"));
    CHECK(contains(requests, "cuStreamBeginCapture@10010;"));
    CHECK(contains(requests, "cuEventElapsedTime@12080;"));
    CHECK(contains(requests, "cuCtxSynchronize@2000;"));
    CHECK_FALSE(contains(requests, "_v2@"));
    // The allocator's pool keeps freed memory for reuse instead of giving it back at
    // each synchronisation.
    CHECK(ask_fake_driver<std::uint64_t>("cgvm_fake_cuda_release_threshold") ==
          ~std::uint64_t{0});

    SUBCASE("copies and fills move the right bytes") {
      std::vector<int> host(257);
      for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<int>(i * i);
      const std::size_t bytes = host.size() * sizeof(int);
      cuda::DeviceBuffer a(bytes), b(bytes);
      cuda::copy_to_device(a.get(), host.data(), bytes);
      cuda::copy_device(b.get(), a.get(), bytes);
      std::vector<int> back(host.size());
      cuda::copy_to_host(back.data(), b.get(), bytes);
      CHECK(back == host);

      cuda::Stream stream;
      cuda::fill_bytes_async(b.get(), 0xff, bytes, stream);
      cuda::copy_to_host_async(back.data(), b.get(), bytes, stream);
      stream.synchronize();
      CHECK(back == std::vector<int>(host.size(), -1));
    }
    SUBCASE("each calling thread gets the context made current") {
      // The fake checks, per thread, that the primary context is current on every call.
      bool ok = false;
      std::thread worker([&] {
        cuda::DeviceBuffer buffer(64);
        int value = 42, back = 0;
        cuda::copy_to_device(buffer.get(), &value, sizeof value);
        cuda::copy_to_host(&back, buffer.get(), sizeof back);
        ok = back == 42;
      });
      worker.join();
      CHECK(ok);
    }
    SUBCASE("driver errors arrive as sentences") {
      CHECK_ERROR(cuda::DeviceBuffer(std::size_t(2) << 30),
                  {"cuda: cuMemAlloc(2147483648 bytes): CUDA_ERROR_OUT_OF_MEMORY (fake driver)"});
      CHECK_THROWS_AS(cuda::DeviceBuffer(std::size_t(2) << 30), cuda::OutOfMemory);
      CHECK_ERROR(cuda::Event(), {"cuda: cuEventCreate: CUDA_ERROR_NOT_SUPPORTED"});
      CHECK_ERROR(cuda::set_device(1), {"CUDA device 1 does not exist (1 device(s))"});
      CHECK_NOTHROW(cuda::set_device(0));
    }
  }

  TEST_CASE("cuda fake device: a driver older than the toolkit is refused") {
    const std::string plugin = fresh_plugin_copy();
    ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", plugin.c_str()},
                               {"CGVM_CUDA_DRIVER", CGVM_TEST_FAKE_LIBCUDA_HOST},
                               {"CGVM_FAKE_CUDA_DRIVER_VERSION", "12080"}});
    CHECK_FALSE(cuda::available());
    CHECK(cuda::status() ==
          "the CUDA driver is too old: it supports CUDA 12.8, the plugin was built with CUDA 13.0");
  }

}  // TEST_SUITE
#endif  // CGVM_TEST_CUDA_PLUGIN
}  // namespace cgvm::test
