#pragma once
// Helpers shared by the array_*.cpp files; not part of the public API.
#include <fmt/format.h>

#include <string_view>

#include "runtime/array.hpp"

namespace cgvm::detail {

// Maps a possibly negative axis into [0, rank), or throws an Error naming `op`.
inline int normalize_axis(int axis, int rank, std::string_view op) {
  if (axis < -rank || axis >= rank)
    throw Error(fmt::format("{}: axis {} is out of range for an array of rank {}", op, axis,
                            rank));
  return axis < 0 ? axis + rank : axis;
}

}  // namespace cgvm::detail
