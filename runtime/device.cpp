#include "runtime/device.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <numeric>

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

ScatterRows ScatterRows::group(std::span<const std::int64_t> slots) {
  ScatterRows rows;
  rows.order.resize(slots.size());
  std::iota(rows.order.begin(), rows.order.end(), std::int64_t{0});
  // Stable: the rows of one slot keep their index order.
  std::stable_sort(rows.order.begin(), rows.order.end(),
                   [&](std::int64_t a, std::int64_t b) { return slots[a] < slots[b]; });
  for (std::size_t k = 0; k < rows.order.size(); ++k) {
    const std::int64_t slot = slots[rows.order[k]];
    if (rows.targets.empty() || rows.targets.back() != slot) {
      rows.targets.push_back(slot);
      rows.starts.push_back(static_cast<std::int64_t>(k));
    }
  }
  rows.starts.push_back(static_cast<std::int64_t>(rows.order.size()));
  return rows;
}

std::uint64_t DeviceDraw::blocks(Kind kind, DType dtype, std::int64_t count) {
  CGVM_ASSERT(kind != Kind::Integers, "how many blocks integers take is known once drawn");
  const std::int64_t per_block = kind == Kind::Uniform && dtype == DType::Float32 ? 4 : 2;
  return static_cast<std::uint64_t>((count + per_block - 1) / per_block);
}

void* DeviceFaultNote::words(DeviceContext& context) {
  std::lock_guard lock(mutex_);
  if (!words_) {
    void* words = context.allocate(kWords * sizeof(std::int64_t));
    const std::int64_t zeros[kWords] = {};
    try {
      context.copy_from_host(words, zeros, sizeof zeros);
    } catch (...) {
      context.release(words, sizeof zeros);
      throw;
    }
    words_ = words;
  }
  return words_;
}

std::optional<DeviceIndexFault> DeviceFaultNote::read(DeviceContext& context) {
  if (!words_ || !expected_.exchange(false)) return std::nullopt;
  std::int64_t words[kWords] = {};
  try {
    context.copy_to_host(words, words_, sizeof words);
  } catch (...) {
    expected_ = true;  // not read: the next read tries again
    throw;
  }
  if (words[0] == 0) return std::nullopt;
  const std::int64_t zeros[kWords] = {};
  context.copy_from_host(words_, zeros, sizeof zeros);
  return DeviceIndexFault{.site = static_cast<std::uint64_t>(words[1]), .index = words[2],
                          .size = words[3], .position = words[4]};
}

void DeviceFaultNote::release(DeviceContext& context) noexcept {
  if (words_) context.release(words_, kWords * sizeof(std::int64_t));
  words_ = nullptr;
}

std::optional<DeviceIndexFault> DeviceContext::index_fault(DeviceFaultNote& note) {
  return note.read(*this);
}

void DeviceRecording::replay() {
  queue();
  for (DeviceFaultNote* note : notes_) note->expect();
}

void DeviceRecording::writes(DeviceFaultNote& note) {
  if (std::find(notes_.begin(), notes_.end(), &note) == notes_.end()) notes_.push_back(&note);
}

DeviceWork& DeviceWork::operator|=(const DeviceWork& other) {
  lookups |= other.lookups;
  arg_reduce |= other.arg_reduce;
  draws |= other.draws;
  loops |= other.loops;
  return *this;
}

void DeviceContext::prepare(const DeviceWork&) {}

std::unique_ptr<DeviceRecording> DeviceContext::record(const std::function<void()>&) {
  return nullptr;
}

}  // namespace cgvm
