#include "runtime/log.hpp"

#include <cstdio>
#include <mutex>
#include <utility>

namespace cgvm {
namespace {
std::mutex handler_mutex;
WarningHandler& current_handler() {
  static WarningHandler handler;
  return handler;
}
}  // namespace

void warn(const std::string& message) {
  WarningHandler handler;
  {
    std::lock_guard lock(handler_mutex);
    handler = current_handler();
  }
  if (handler)
    handler(message);
  else
    std::fprintf(stderr, "cgvm warning: %s\n", message.c_str());
}

WarningHandler set_warning_handler(WarningHandler handler) {
  std::lock_guard lock(handler_mutex);
  return std::exchange(current_handler(), std::move(handler));
}

}  // namespace cgvm
