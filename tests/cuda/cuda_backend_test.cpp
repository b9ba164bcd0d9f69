// Finding the plugin and the driver, and saying why not: runs everywhere, GPU or not.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "cuda/compile.hpp"
#include "cuda/device.hpp"
#include "cuda_helpers.hpp"

namespace cgvm::test {
namespace {

// The dynamic section of an ELF file, as readelf prints it; empty if readelf is missing.
std::string needed_libraries(const std::string& file) {
  std::string out = temp_dir() + "/needed.txt";
  if (run_shell("readelf -d '" + file + "' > '" + out + "' 2>/dev/null") != 0) return "";
  std::string text;
  if (FILE* f = std::fopen(out.c_str(), "r")) {
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, f)) text.append(buffer, n);
    std::fclose(f);
  }
  return text;
}

std::string this_executable() {
  char path[PATH_MAX] = {};
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "";
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda backend: the plugin loads and reports the driver it found, or why not") {
#ifdef CGVM_TEST_CUDA_PLUGIN
    CHECK(cuda::plugin_loaded());
    CHECK(contains(cuda::plugin_status(), "loaded from"));
    // What the plugin will find, judged independently of it.
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver) {
      const std::string why = dlerror();
      CHECK_FALSE(cuda::available());
      CHECK(cuda::device_count() == 0);
      const std::string status = cuda::status();
      INFO("status: " << status);
      CHECK(contains(status, "no driver: libcuda.so.1 not found ("));
      CHECK(contains(status, why));
      CHECK_ERROR(cuda::require(),
                  {"cuda: CUDA is not available: no driver: libcuda.so.1", why, this_file()});
      CHECK_ERROR(cuda::DeviceBuffer(16), {"CUDA is not available", "no driver"});
      CHECK_ERROR(cuda::device_info(0), {"CUDA is not available"});
    } else {
      dlclose(driver);
      MESSAGE("a driver is installed here; status: " << cuda::status());
      if (cuda::available()) {
        CHECK_NOTHROW(cuda::require());
        CHECK(cuda::device_count() >= 1);
        CHECK(contains(cuda::status(), "device 0: "));
      }
    }
#else
    CHECK_FALSE(cuda::plugin_loaded());
    CHECK_FALSE(cuda::available());
    CHECK(cuda::status() == "the CUDA plugin was not built (no CUDA toolkit at configure time)");
    CHECK_ERROR(cuda::require(), {"the CUDA plugin was not built"});
    CHECK_ERROR(cuda::compile_ptx("", "sm_90"), {"the CUDA plugin was not built"});
#endif
  }

  TEST_CASE("cuda backend: CGVM_CUDA_PLUGIN naming a missing file is reported") {
    const std::string missing = temp_dir() + "/no-such-plugin.so";
    {
      ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", missing.c_str()}});
      CHECK_FALSE(cuda::plugin_loaded());
      CHECK_FALSE(cuda::available());
      const std::string status = cuda::status();
      INFO("status: " << status);
      CHECK(
          contains(status, "the CUDA plugin could not be loaded from CGVM_CUDA_PLUGIN=" + missing));
      CHECK(contains(status, "No such file or directory"));
      CHECK_ERROR(cuda::require(), {"CGVM_CUDA_PLUGIN=" + missing});
      CHECK_ERROR(cuda::compile_ptx("", "sm_90"), {"CGVM_CUDA_PLUGIN=" + missing});
    }
    // Restored: the search finds the usual plugin again.
#ifdef CGVM_TEST_CUDA_PLUGIN
    CHECK(cuda::plugin_loaded());
#endif
  }

  TEST_CASE("cuda backend: a library that is not the plugin is refused") {
    ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", CGVM_TEST_FAKE_LIBCUDA}});
    CHECK_FALSE(cuda::plugin_loaded());
    CHECK(contains(cuda::status(),
                   "is not a cgvm CUDA plugin (it exports no cgvm_cuda_plugin_table)"));
  }

#ifdef CGVM_TEST_CUDA_PLUGIN

  TEST_CASE("cuda backend: a driver without a device gives 'no CUDA device' and the error name") {
    const std::string plugin = fresh_plugin_copy();
    ScopedCudaEnvironment env(
        {{"CGVM_CUDA_PLUGIN", plugin.c_str()}, {"CGVM_CUDA_DRIVER", CGVM_TEST_FAKE_LIBCUDA}});
    REQUIRE(cuda::plugin_loaded());
    CHECK(contains(cuda::plugin_status(), plugin));
    CHECK_FALSE(cuda::available());
    CHECK(cuda::device_count() == 0);
    CHECK(
        cuda::status() ==
        "no CUDA device: cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)");
    CHECK_ERROR(cuda::require(), {"no CUDA device", "CUDA_ERROR_NO_DEVICE", this_file()});
    CHECK_ERROR(cuda::Stream(), {"no CUDA device"});
    // Compiling needs no driver.
    cuda::CompileOptions options;
    options.cache.cache_dir = temp_dir();
    CHECK_FALSE(cuda::compile_ptx(kKernelsSource, "compute_80", options).bytes.empty());
  }

  TEST_CASE("cuda backend: a driver path that does not load, or is not a driver") {
    SUBCASE("missing file") {
      const std::string plugin = fresh_plugin_copy();
      ScopedCudaEnvironment env({{"CGVM_CUDA_PLUGIN", plugin.c_str()},
                                 {"CGVM_CUDA_DRIVER", "/nonexistent/libcuda.so.1"}});
      const std::string status = cuda::status();
      INFO("status: " << status);
      CHECK(contains(status, "no driver: /nonexistent/libcuda.so.1 not found ("));
      CHECK(contains(status, "No such file or directory"));
    }
    SUBCASE("no cuInit") {
      const std::string plugin = fresh_plugin_copy();
      ScopedCudaEnvironment env(
          {{"CGVM_CUDA_PLUGIN", plugin.c_str()}, {"CGVM_CUDA_DRIVER", "libm.so.6"}});
      CHECK(cuda::status() ==
            "no driver: libm.so.6 was loaded but exports no cuInit (not a CUDA driver)");
    }
  }

  TEST_CASE(
      "cuda backend: neither the tests nor the plugin link libcuda; the tests link no "
      "NVRTC/cuBLAS") {
    const std::string tests = needed_libraries(this_executable());
    const std::string plugin = needed_libraries(CGVM_TEST_CUDA_PLUGIN);
    if (tests.empty() || plugin.empty()) {
      MESSAGE("skipped: readelf is not available");
      return;
    }
    CHECK_FALSE(contains(tests, "libcuda"));
    CHECK_FALSE(contains(tests, "libnvrtc"));
    CHECK_FALSE(contains(tests, "libcublas"));
    CHECK_FALSE(contains(plugin, "libcuda.so"));
    CHECK(contains(plugin, "libnvrtc"));
    CHECK(contains(plugin, "libcublas"));
  }

#endif  // CGVM_TEST_CUDA_PLUGIN

}  // TEST_SUITE
}  // namespace cgvm::test
