#pragma once
// The text every generated C++ translation unit starts with. It is assembled at build time
// from real source files (codegen/CMakeLists.txt), so the code the JIT compiles shares them
// with the library instead of restating them:
//   runtime/cast.hpp                        element conversion (the cast op)
//   symbolic/ops/elementwise_scalar.hpp     wrapping integers, floor division, min/max...
//   codegen/prelude/math.hpp                vectorizable exp, log, tanh, erf, pow... (cgm::)
// It includes no system header (DESIGN.md §5).
#include <string_view>

namespace cgvm {

std::string_view prelude_source();

// runtime/philox.hpp as text: the generator's core, which the device kernels embed so that a
// GPU draws what the host draws (codegen/device_kernels.hpp).
std::string_view philox_source();

}  // namespace cgvm
