#include "runtime/device.hpp"

#include <fmt/format.h>

#include <charconv>

#include "runtime/error.hpp"

namespace cgvm {

std::string Device::str() const {
  return kind == Kind::CPU ? "cpu" : fmt::format("cuda:{}", ordinal);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda();
  if (text.starts_with("cuda:")) {
    int ordinal = -1;
    const char* first = text.data() + 5;
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(first, last, ordinal);
    if (ec == std::errc() && end == last && first != last && ordinal >= 0) return cuda(ordinal);
  }
  throw Error(fmt::format("unknown device '{}': expected \"cpu\", \"cuda\" or \"cuda:N\"", text));
}

}  // namespace cgvm
