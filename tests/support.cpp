#include "support.hpp"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace cgvm::test {

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const cgvm::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected cgvm::Error, got another exception: " << e.what());
    return {};
  }
  FAIL("expected cgvm::Error, nothing was thrown");
  return {};
}

int run_shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {
struct TempDirs {
  std::vector<std::filesystem::path> paths;
  ~TempDirs() {
    for (auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  }
};
TempDirs temp_dirs;
}  // namespace

std::string temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cgvm-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  REQUIRE(made != nullptr);
  temp_dirs.paths.emplace_back(made);
  return made;
}

}  // namespace cgvm::test
