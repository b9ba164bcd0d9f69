// The JIT compile paths: in-process and system compiler, symbols, math, errors, timings.
#include <malloc.h>

#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "jit/compiler.hpp"
#include "jit_helpers.hpp"

namespace cgvm::test {
namespace {

extern "C" double cgvm_test_callback(double x) { return 3 * x; }
double other_callback(double x) { return -x; }

std::vector<float> ramp(long n, float from, float to) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = from + (to - from) * i / (n - 1);
  return v;
}

// y += a*x over a size that is not a multiple of any vector width.
void check_axpy(const CompiledModule& module) {
  auto* axpy = module.function<void(long, float, const float*, float*)>("axpy");
  std::vector<float> x = ramp(1003, -1, 1), y(1003, 1.0f);
  axpy(1003, 2.0f, x.data(), y.data());
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == doctest::Approx(1 + 2 * x[i]));
}

const char* kMathSource = R"(
extern "C" float tanhf(float);
extern "C" void math(long n, const float* x, float* e, float* t) {
  for (long i = 0; i < n; ++i) {
    e[i] = __builtin_expf(x[i]);
    t[i] = tanhf(x[i]);
  }
}
)";

// exp and tanh of x in [-8, 8], against libm. libmvec documents at most 4 ulp; we allow
// a relative 4e-7 (about 4 ulp of float) plus 1e-30 for tanh near 0.
void check_math(const CompiledModule& module) {
  auto* math = module.function<void(long, const float*, float*, float*)>("math");
  long n = 4099;
  std::vector<float> x = ramp(n, -8, 8), e(x.size()), t(x.size());
  math(n, x.data(), e.data(), t.data());
  double worst_exp = 0, worst_tanh = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double exact_e = std::exp(static_cast<double>(x[i]));
    double exact_t = std::tanh(static_cast<double>(x[i]));
    worst_exp = std::max(worst_exp, std::abs(e[i] - exact_e) / exact_e);
    worst_tanh = std::max(worst_tanh, std::abs(t[i] - exact_t) / (std::abs(exact_t) + 1e-30));
  }
  MESSAGE("worst relative error vs libm (double): exp " << worst_exp << ", tanh "
                                                        << worst_tanh);
  CHECK(worst_exp < 4e-7);
  CHECK(worst_tanh < 4e-7);
}

}  // namespace

// First on purpose: its first compile pays the one-time start of Clang and ORC.
TEST_CASE("jit: per-stage compile times (printed, not checked)") {
  bool starts_jit = jit_stats().in_process_compiles == 0 && jit_stats().disk_hits == 0;
  JitOptions options = fresh_jit_options();
  CompileReport first, cold, memory, disk, system_cold, system_disk;
  compile_cpp(unique_source(kAxpySource), options, &first);
  std::string source = unique_source(kAxpySource);
  compile_cpp(source, options, &cold);
  compile_cpp(source, options, &memory);
  jit_clear_memory_cache();
  compile_cpp(source, options, &disk);
  JitOptions system = options;
  system.force_system_compiler = true;
  std::string system_source = unique_source(kAxpySource);
  compile_cpp(system_source, system, &system_cold);
  jit_clear_memory_cache();
  compile_cpp(system_source, system, &system_disk);
  std::string first_label = starts_jit ? "first compile in the process: "
                                       : "first compile (JIT already started): ";
  MESSAGE(first_label << first.to_string());
  MESSAGE("cold cache:                  " << cold.to_string());
  MESSAGE("memory hit:                  " << memory.to_string());
  MESSAGE("disk hit:                    " << disk.to_string());
  MESSAGE("system compiler, cold:       " << system_cold.to_string());
  MESSAGE("system compiler, disk hit:   " << system_disk.to_string());
  CHECK(memory.memory_hit);
  CHECK(disk.disk_hit);
  CHECK(system_disk.disk_hit);
}

TEST_CASE("jit: a header-free kernel compiles in-process and runs") {
  CompileReport report;
  auto module = compile_cpp(unique_source(kAxpySource), fresh_jit_options(), &report);
  CHECK(report.path == "in-process");
  CHECK(module->path() == "in-process");
  CHECK_FALSE(report.memory_hit);
  CHECK_FALSE(report.disk_hit);
  CHECK(report.cache_key.size() == 64);
  CHECK(module->cache_key() == report.cache_key);
  check_axpy(*module);
  CHECK(module->symbol("no_such_symbol") == nullptr);
  CHECK_ERROR(module->function<void()>("no_such_symbol"), {"no_such_symbol"});
}

TEST_CASE("jit: every optimization level works") {
  for (int level = 0; level <= 3; ++level) {
    JitOptions options = fresh_jit_options();
    options.opt_level = level;
    check_axpy(*compile_cpp(kAxpySource, options));
  }
}

TEST_CASE("jit: the system-compiler path gives the same results") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(std::string(kAxpySource) + kMathSource);
  auto in_process = compile_cpp(source, options);
  options.force_system_compiler = true;
  CompileReport report;
  auto system = compile_cpp(source, options, &report);
  CHECK(report.path == "system-compiler");
  CHECK(system->path() == "system-compiler");
  CHECK(system->cache_key() != in_process->cache_key());
  check_axpy(*system);
  check_math(*system);
  // Only what the library defines counts, not what its dependencies (libm) export.
  CHECK(system->symbol("expf") == nullptr);

  auto* math_a = in_process->function<void(long, const float*, float*, float*)>("math");
  auto* math_b = system->function<void(long, const float*, float*, float*)>("math");
  std::vector<float> x = ramp(1001, -3, 3), ea(x.size()), ta(x.size()), eb(x.size()),
                     tb(x.size());
  math_a(1001, x.data(), ea.data(), ta.data());
  math_b(1001, x.data(), eb.data(), tb.data());
  for (std::size_t i = 0; i < x.size(); ++i) {
    REQUIRE(ea[i] == doctest::Approx(eb[i]).epsilon(1e-6));
    REQUIRE(ta[i] == doctest::Approx(tb[i]).epsilon(1e-6));
  }
}

TEST_CASE("jit: math functions vectorize to libmvec and stay accurate") {
  auto module = compile_cpp(unique_source(kMathSource), fresh_jit_options());
  check_math(*module);
  // The object itself must call the vector variants (AVX2 or AVX-512, whichever the
  // vectorizer picked); a scalar loop would call expf/tanhf only.
  jit::StageTimes times;
  std::string object = jit::compile_to_object(kMathSource, 3, times);
  bool vector_exp = object.find("_ZGVdN8v_expf") != std::string::npos ||
                    object.find("_ZGVeN16v_expf") != std::string::npos;
  bool vector_tanh = object.find("_ZGVdN8v_tanhf") != std::string::npos ||
                     object.find("_ZGVeN16v_tanhf") != std::string::npos;
  std::string variants;
  if (object.find("_ZGVeN16v_") != std::string::npos) variants += "AVX-512 (16 lanes) ";
  if (object.find("_ZGVdN8v_") != std::string::npos) variants += "AVX2 (8 lanes) ";
  MESSAGE("vector math in the object: " << variants);
  CHECK(vector_exp);
  CHECK(vector_tanh);
}

TEST_CASE("jit: generated code calls registered process symbols") {
  register_jit_symbol("cgvm_test_callback", reinterpret_cast<void*>(&cgvm_test_callback));
  const char* source = R"(
extern "C" double cgvm_test_callback(double);
extern "C" double call_it(double x) { return cgvm_test_callback(x) + 1; }
)";
  for (bool system : {false, true}) {
    INFO("system compiler: " << system);
    JitOptions options = fresh_jit_options();
    options.force_system_compiler = system;
    auto module = compile_cpp(unique_source(source), options);
    CHECK(module->function<double(double)>("call_it")(2.0) == 7.0);
  }
  // A new address applies to later compiles (the symbol need not be exported at all).
  register_jit_symbol("cgvm_test_callback", reinterpret_cast<void*>(&other_callback));
  auto module = compile_cpp(unique_source(source), fresh_jit_options());
  CHECK(module->function<double(double)>("call_it")(2.0) == -1.0);
  register_jit_symbol("cgvm_test_callback", reinterpret_cast<void*>(&cgvm_test_callback));
}

TEST_CASE("jit: modules may define the same names") {
  JitOptions options = fresh_jit_options();
  auto one = compile_cpp(R"(extern "C" int entry() { return 1; })", options);
  auto two = compile_cpp(R"(extern "C" int entry() { return 2; })", options);
  CHECK(one->function<int()>("entry")() == 1);
  CHECK(two->function<int()>("entry")() == 2);
}

TEST_CASE("jit: a syntax error is a cgvm::Error with Clang's diagnostic") {
  std::string bad = "extern \"C\" int f(int x) {\n  return x +;\n}\n";
  CHECK_ERROR(compile_cpp(bad, fresh_jit_options()),
              {"does not compile", "cgvm_generated.cpp:2:13: error: expected expression"});
  JitOptions system = fresh_jit_options();
  system.force_system_compiler = true;
  CHECK_ERROR(compile_cpp(bad, system), {"does not compile", "cgvm_generated.cpp:2:"});
  // A failed compile is not cached: the same call fails the same way again.
  CHECK_ERROR(compile_cpp(bad, fresh_jit_options()), {"expected expression"});
}

TEST_CASE("jit: a call to an undefined function is an error naming it") {
  JitOptions options = fresh_jit_options();
  std::string source = R"(
extern "C" void cgvm_no_such_function_anywhere();
extern "C" void run() { cgvm_no_such_function_anywhere(); }
)";
  CHECK_ERROR(compile_cpp(source, options), {"cgvm_no_such_function_anywhere"});
  // Code that does not link never reaches the disk cache.
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options.cache_dir))
    files += entry.is_regular_file();
  CHECK(files == 0);
}

TEST_CASE("jit: concurrent compiles of one source in one process compile once") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);
  JitStats before = jit_stats();
  std::vector<std::shared_ptr<const CompiledModule>> modules(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < modules.size(); ++i)
    threads.emplace_back([&, i] { modules[i] = compile_cpp(source, options); });
  for (auto& t : threads) t.join();
  for (auto& m : modules) CHECK(m == modules[0]);
  CHECK(jit_stats().in_process_compiles - before.in_process_compiles == 1);
  CHECK(jit_stats().memory_hits - before.memory_hits == 3);
  check_axpy(*modules[0]);
}

TEST_CASE("jit: different threads compile different sources at once") {
  JitOptions options = fresh_jit_options();
  std::vector<std::thread> threads;
  std::vector<int> results(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      std::string src = "extern \"C\" int value() { return " + std::to_string(i * 10) + "; }";
      results[static_cast<std::size_t>(i)] = compile_cpp(src, options)->function<int()>("value")();
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) CHECK(results[static_cast<std::size_t>(i)] == i * 10);
}

// The driver passes -disable-free, which sets two flags (front end and code generator);
// either left on leaked ~27 KB per compile.
TEST_CASE("jit: repeated compiles do not leak") {
  JitOptions options = fresh_jit_options();
  options.use_disk_cache = false;
  auto compile_some = [&](int n) {
    for (int i = 0; i < n; ++i) compile_cpp(unique_source(kAxpySource), options);
    jit_clear_memory_cache();
    return static_cast<double>(mallinfo2().uordblks);
  };
  double before = compile_some(10);
  double after = compile_some(40);
  MESSAGE("heap growth over 40 compiles: " << (after - before) / 1024 << " KiB");
  CHECK(after - before < 256 * 1024);
}

}  // namespace cgvm::test
