#include "support.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "symbolic/op_list.hpp"

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

void check_op_coverage(OpFamily family, const std::set<std::string>& covered,
                       const std::set<std::string>& exempt, bool require_grad) {
  std::set<std::string> members;
  for (const OpDef* op : ops::all_ops()) {
    if (op->family != family) continue;
    std::string name(op->name);
    members.insert(name);
    bool in_table = covered.count(name) > 0, listed = exempt.count(name) > 0;
    INFO("op " << name << (in_table ? " has a row" : " has no row")
               << (listed ? " and is listed as left out" : ""));
    CHECK(in_table != listed);
    if (require_grad) CHECK(static_cast<bool>(op->grad) == !listed);
  }
  // Rows may also test compositions (mean, dot, ...), but an exemption must name an op.
  for (const std::string& name : exempt) {
    INFO(name << " is listed as left out but is not an op of the " << family_name(family)
              << " family");
    CHECK(members.count(name) == 1);
  }
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

bool all_finite(const Array& a) {
  for (double x : a.to_double_vector())
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace cgvm::test
