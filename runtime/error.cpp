#include "runtime/error.hpp"

#include <fmt/format.h>

namespace cgvm {

std::string format_location(const std::source_location& loc) {
  std::string_view file = loc.file_name();
  if (file.empty()) return "<unknown>";
  return fmt::format("{}:{}", file, loc.line());
}

void throw_error(std::string_view op, const std::string& message,
                 const std::source_location& loc) {
  throw Error(fmt::format("{}: {}\n  at {}", op, message, format_location(loc)));
}

}  // namespace cgvm
