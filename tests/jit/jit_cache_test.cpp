// The JIT cache: memory and disk hits, corrupt entries, concurrent processes, unwritable
// directories, and where the cache lives.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "jit_helpers.hpp"
#include "runtime/options.hpp"

namespace cgvm::test {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_under(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  return files;
}

fs::path entry_file(const JitOptions& options, const CompileReport& report) {
  return fs::path(options.cache_dir) / report.cache_key.substr(0, 2) /
         (report.cache_key + (report.path == "in-process" ? ".o" : ".so"));
}

bool axpy_works(const CompiledModule& module) {
  auto* axpy = module.function<void(long, float, const float*, float*)>("axpy");
  float x[3] = {1, 2, 3}, y[3] = {1, 1, 1};
  axpy(3, 2.0f, x, y);
  return y[0] == 3 && y[1] == 5 && y[2] == 7;
}

// Damages the stored entry, then checks the next compile notices, rebuilds and rewrites it.
void check_rebuilt_after(const std::function<void(const fs::path&)>& damage) {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);
  CompileReport report;
  compile_cpp(source, options, &report);
  fs::path file = entry_file(options, report);
  REQUIRE(fs::exists(file));
  damage(file);

  jit_clear_memory_cache();
  JitStats before = jit_stats();
  WarningCapture warnings;
  CompileReport rebuilt;
  auto module = compile_cpp(source, options, &rebuilt);
  CHECK_FALSE(rebuilt.disk_hit);
  CHECK(axpy_works(*module));
  CHECK(jit_stats().corrupt_entries - before.corrupt_entries == 1);
  CHECK(warnings.count_containing("corrupt") == 1);

  jit_clear_memory_cache();
  CompileReport again;
  CHECK(axpy_works(*compile_cpp(source, options, &again)));
  CHECK(again.disk_hit);  // the rewritten entry is valid
}

}  // namespace

TEST_CASE("jit cache: the second compile of a source is a memory hit") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);
  CompileReport first, second;
  auto a = compile_cpp(source, options, &first);
  JitStats before = jit_stats();
  auto b = compile_cpp(source, options, &second);
  CHECK_FALSE(first.memory_hit);
  CHECK(second.memory_hit);
  CHECK(a == b);
  CHECK(second.cache_key == first.cache_key);
  CHECK(jit_stats().memory_hits - before.memory_hits == 1);
  CHECK(jit_stats().in_process_compiles == before.in_process_compiles);
}

TEST_CASE("jit cache: the key covers options, not just the source") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);
  CompileReport base, other_version, other_level;
  compile_cpp(source, options, &base);
  JitOptions changed = options;
  changed.codegen_version = "another generator";
  compile_cpp(source, changed, &other_version);
  changed = options;
  changed.opt_level = 2;
  compile_cpp(source, changed, &other_level);
  CHECK(base.cache_key != other_version.cache_key);
  CHECK(base.cache_key != other_level.cache_key);
  CHECK_FALSE(other_version.memory_hit);
  CHECK_FALSE(other_level.memory_hit);
}

TEST_CASE("jit cache: a fresh JIT state finds the entry on disk") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);
  CompileReport cold, warm;
  compile_cpp(source, options, &cold);
  std::vector<fs::path> files = files_under(options.cache_dir);
  REQUIRE(files.size() == 1);
  CHECK(files[0] == entry_file(options, cold));

  jit_clear_memory_cache();
  JitStats before = jit_stats();
  auto module = compile_cpp(source, options, &warm);
  CHECK(warm.disk_hit);
  CHECK_FALSE(warm.memory_hit);
  CHECK(warm.frontend_ms == 0);
  CHECK(jit_stats().disk_hits - before.disk_hits == 1);
  CHECK(jit_stats().in_process_compiles == before.in_process_compiles);
  CHECK(axpy_works(*module));
}

TEST_CASE("jit cache: use_disk_cache = false writes nothing") {
  JitOptions options = fresh_jit_options();
  options.use_disk_cache = false;
  CHECK(axpy_works(*compile_cpp(unique_source(kAxpySource), options)));
  CHECK(files_under(options.cache_dir).empty());
}

TEST_CASE("jit cache: a truncated entry is detected and rebuilt") {
  check_rebuilt_after([](const fs::path& file) {
    fs::resize_file(file, fs::file_size(file) / 2);
  });
}

TEST_CASE("jit cache: an entry with a flipped byte is detected and rebuilt") {
  check_rebuilt_after([](const fs::path& file) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    auto middle = static_cast<std::streamoff>(fs::file_size(file) / 2);
    f.seekg(middle);
    char byte = 0;
    f.get(byte);
    f.seekp(middle);
    f.put(static_cast<char>(byte ^ 0x10));
  });
}

TEST_CASE("jit cache: an empty entry is detected and rebuilt") {
  check_rebuilt_after([](const fs::path& file) { fs::resize_file(file, 0); });
}

TEST_CASE("jit cache: four processes compiling one source at once all succeed") {
  JitOptions options = fresh_jit_options();
  std::string source = unique_source(kAxpySource);  // this process never compiled it
  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Child: wait at the gate so all four compile together; _exit skips the test
      // framework's and temp_dir's exit handlers, which belong to the parent.
      ::close(gate[1]);
      char c;
      (void)!::read(gate[0], &c, 1);
      int status = 1;
      try {
        status = axpy_works(*compile_cpp(source, options)) ? 0 : 2;
      } catch (...) {
        status = 3;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // opens the gate
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // Exactly one entry, no temp files left behind, and it is valid.
  std::vector<fs::path> files = files_under(options.cache_dir);
  REQUIRE(files.size() == 1);
  CHECK(files[0].extension() == ".o");
  CompileReport report;
  CHECK(axpy_works(*compile_cpp(source, options, &report)));
  CHECK(report.disk_hit);
}

TEST_CASE("jit cache: an unwritable cache dir works without caching and says so once") {
  JitOptions options = fresh_jit_options();
  std::string base = options.cache_dir;
  if (::geteuid() == 0) {
    // Permission bits do not bind root; a directory below a regular file cannot be
    // created by anyone.
    std::ofstream(base + "/file") << "not a directory";
    options.cache_dir = base + "/file/cache";
  } else {
    options.cache_dir = base + "/readonly";
    fs::create_directory(options.cache_dir);
    fs::permissions(options.cache_dir, fs::perms(0555));
  }
  WarningCapture warnings;
  JitStats before = jit_stats();
  for (int i = 0; i < 3; ++i) {
    CompileReport report;
    CHECK(axpy_works(*compile_cpp(unique_source(kAxpySource), options, &report)));
    CHECK_FALSE(report.disk_hit);
  }
  CHECK(jit_stats().disk_write_failures - before.disk_write_failures == 3);
  CHECK(warnings.count_containing("without the disk cache") == 1);
  INFO("warning: " << (warnings.seen().empty() ? "" : warnings.seen()[0]));
  CHECK(warnings.count_containing(options.cache_dir) == 1);
  if (::geteuid() != 0) fs::permissions(options.cache_dir, fs::perms(0755));
}

TEST_CASE("jit cache: where the cache lives") {
  struct SavedEnv {
    std::string name;
    std::optional<std::string> value;
    explicit SavedEnv(std::string n) : name(std::move(n)) {
      if (const char* v = std::getenv(name.c_str())) value = v;
    }
    ~SavedEnv() {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  } xdg("XDG_CACHE_HOME"), home("HOME");
  // CGVM_CACHE_DIR is read once, into options() (runtime/options.hpp).
  const std::string saved_option = cgvm::options().cache_dir;

  ::setenv("HOME", "/home/someone", 1);
  ::unsetenv("XDG_CACHE_HOME");
  cgvm::options().cache_dir.clear();
  JitOptions options;
  CHECK(resolve_cache_dir(options) == "/home/someone/.cache/cgvm");
  ::setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  CHECK(resolve_cache_dir(options) == "/home/someone/.cache/cgvm");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  CHECK(resolve_cache_dir(options) == "/xdg/cgvm");
  cgvm::options().cache_dir = "/from/env";
  CHECK(resolve_cache_dir(options) == "/from/env");
  options.cache_dir = "/from/options";
  CHECK(resolve_cache_dir(options) == "/from/options");
  cgvm::options().cache_dir = saved_option;
}

}  // namespace cgvm::test
