#pragma once
// What the files of the device's own kernels (device_kernels.hpp) share: a common part
// (codegen/device_kernels.cpp: grid-stride points, block-wide prefix sums, tiles, argmax
// and argmin, a replayed scan step's copies) and two families of kernels, the index kernels
// (device_index_kernels.cpp: take, inc_take) and the random draws
// (device_random_kernels.cpp), each with the launches of its kernels: three CUDA units,
// the families' each after the common part's text. Not part of the API.
#include <string>
#include <vector>

#include "codegen/device_kernels.hpp"

namespace cgvm::device_kernel_parts {

// The units' CGVM_DIGITS (a radix sort's digits: kDigitBits bits a pass), CGVM_TILE (the
// points a block takes at once in the tiled kernels) and CGVM_MAX_BLOCK (the most threads a
// block has, DeviceKernelLaunch::block).
constexpr int kDigitBits = 4, kDigits = 1 << kDigitBits;
constexpr long long kTile = 1024, kMaxBlock = 256;
constexpr long long tiles_of(long long points) { return (points + kTile - 1) / kTile; }

// One kernel of a unit: `struct <name>_params { long long w[words]; }` and a __global__
// <name> that calls `body` (a template instance) with the words.
struct KernelEntry {
  std::string name;
  int words;
  std::string body;
};

// A family's CUDA text (after the common part's) and its kernels.
struct KernelFamily {
  std::string source;
  std::vector<KernelEntry> kernels;
};
KernelFamily index_kernels();   // device_index_kernels.cpp
KernelFamily random_kernels();  // device_random_kernels.cpp

// An array's device address, as a parameter word.
long long address(const Array& a);

}  // namespace cgvm::device_kernel_parts
