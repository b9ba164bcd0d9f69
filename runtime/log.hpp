#pragma once
// Warnings the library reports to the user (unused inputs, float64 upcasts, ...). They go to
// stderr unless a handler is installed; tests install one to check what was said.
#include <functional>
#include <string>

namespace cgvm {

using WarningHandler = std::function<void(const std::string&)>;

void warn(const std::string& message);
// Installs `handler` (empty: back to stderr) and returns the previous one.
WarningHandler set_warning_handler(WarningHandler handler);

}  // namespace cgvm
