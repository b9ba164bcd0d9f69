#pragma once
// Shared helpers for the tests.
#include <doctest/doctest.h>

#include <functional>
#include <initializer_list>
#include <set>
#include <string>

#include "runtime/array.hpp"
#include "runtime/log.hpp"
#include "symbolic/op_def.hpp"

namespace cgvm::test {

// Runs `f`, requires it to throw cgvm::Error, and returns the message.
std::string error_message(const std::function<void()>& f);

// The file name of this test file as it appears in error messages ("ops_test.cpp").
inline std::string this_file(const char* file = __builtin_FILE()) {
  std::string s = file;
  return s.substr(s.find_last_of('/') + 1);
}

// The table-coverage check every op family's tests end with. Fails, naming the op, when an
// op of `family` in ops::all_ops() is in neither `covered` (the table's rows) nor `exempt`
// (a commented list of ops the table leaves out), or in both; and when an exempt name is not
// an op of that family (a stale entry). With require_grad, an op must also have a gradient
// exactly when it is not exempt.
void check_op_coverage(OpFamily family, const std::set<std::string>& covered,
                       const std::set<std::string>& exempt = {}, bool require_grad = false);

// Runs a command through /bin/sh; returns its exit status.
int run_shell(const std::string& command);
// A fresh, empty temporary directory (removed at process exit).
std::string temp_dir();

// Every element is finite (no inf, no NaN).
bool all_finite(const Array& a);

// Collects the library's warnings while alive, instead of printing them.
struct CapturedWarnings {
  std::vector<std::string> messages;
  WarningHandler previous;
  CapturedWarnings()
      : previous(set_warning_handler([this](const std::string& m) { messages.push_back(m); })) {}
  ~CapturedWarnings() { set_warning_handler(previous); }
};

}  // namespace cgvm::test

// CHECK_ERROR(expr, {"substr1", "substr2"}): expr throws cgvm::Error whose message contains
// every substring.
#define CHECK_ERROR(expr, ...)                                                        \
  do {                                                                               \
    std::string cgvm_msg_ = ::cgvm::test::error_message([&] { (void)(expr); });     \
    for (const std::string& cgvm_part_ : std::initializer_list<std::string> __VA_ARGS__) { \
      INFO("message: " << cgvm_msg_);                                                \
      CHECK(cgvm_msg_.find(cgvm_part_) != std::string::npos);                        \
    }                                                                                \
  } while (0)
