#pragma once
// Two kinds of failure, kept apart on purpose:
//  - cgvm::Error: the user did something wrong (bad shape, dtype, missing input...). The
//    message names the op, the shapes/dtypes and the user's file:line.
//  - cgvm::InternalError: an invariant of the library broke. That is our bug, not theirs.
#include <source_location>
#include <stdexcept>
#include <string>

namespace cgvm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

// "file.cpp:12" with the path shortened to what follows the last "/src/"-like prefix.
std::string format_location(const std::source_location& loc);

// Builds "op: message\n  at file:line" — the one format every user error uses.
[[noreturn]] void throw_error(std::string_view op, const std::string& message,
                              const std::source_location& loc);

#define CGVM_ASSERT(cond, msg)                                                       \
  do {                                                                               \
    if (!(cond))                                                                     \
      throw ::cgvm::InternalError(std::string("internal error: ") + (msg) + " (" +   \
                                  __FILE__ + ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

}  // namespace cgvm
