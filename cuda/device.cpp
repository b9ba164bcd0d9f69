#include "cuda/device.hpp"

#include <string>
#include <utility>

#include "cuda/backend.hpp"
#include "cuda/plugin_abi.h"
#include "runtime/log.hpp"

namespace cgvm::cuda {
namespace {

using detail::check;
using detail::driver_plugin;

// For destructors: report, never throw.
void release_quietly(const CgvmCudaPlugin* plugin, int status, const char* what) {
  if (status != CGVM_CUDA_OK)
    warn(std::string("cuda: releasing ") + what + " failed: " + plugin->last_error());
}

}  // namespace

// --- Stream ---------------------------------------------------------------------------

Stream::Stream() : plugin_(&driver_plugin()) { check(*plugin_, plugin_->stream_create(&handle_)); }

Stream::~Stream() {
  if (handle_) release_quietly(plugin_, plugin_->stream_destroy(handle_), "a stream");
}

Stream::Stream(Stream&& other) noexcept
    : plugin_(other.plugin_), handle_(std::exchange(other.handle_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    Stream old(std::move(*this));
    plugin_ = other.plugin_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void Stream::synchronize() const { check(*plugin_, plugin_->stream_synchronize(handle_)); }

// --- DeviceBuffer ---------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(std::size_t bytes) : plugin_(&driver_plugin()), bytes_(bytes) {
  // cuMemAlloc rejects 0 bytes; an empty array still deserves a buffer object.
  if (bytes) check(*plugin_, plugin_->mem_alloc(bytes, &ptr_));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) release_quietly(plugin_, plugin_->mem_free(ptr_), "device memory");
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : plugin_(other.plugin_),
      ptr_(std::exchange(other.ptr_, 0)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    DeviceBuffer old(std::move(*this));
    plugin_ = other.plugin_;
    ptr_ = std::exchange(other.ptr_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DevicePtr DeviceBuffer::release() {
  bytes_ = 0;
  return std::exchange(ptr_, 0);
}

// --- PinnedBuffer ---------------------------------------------------------------------

PinnedBuffer::PinnedBuffer(std::size_t bytes) : plugin_(&driver_plugin()), bytes_(bytes) {
  if (bytes) check(*plugin_, plugin_->pinned_alloc(bytes, &data_));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_) release_quietly(plugin_, plugin_->pinned_free(data_), "pinned host memory");
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : plugin_(other.plugin_),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    PinnedBuffer old(std::move(*this));
    plugin_ = other.plugin_;
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

// --- Event ----------------------------------------------------------------------------

Event::Event() : plugin_(&driver_plugin()) { check(*plugin_, plugin_->event_create(&handle_)); }

Event::~Event() {
  if (handle_) release_quietly(plugin_, plugin_->event_destroy(handle_), "an event");
}

Event::Event(Event&& other) noexcept
    : plugin_(other.plugin_), handle_(std::exchange(other.handle_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    Event old(std::move(*this));
    plugin_ = other.plugin_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void Event::record(StreamRef stream) {
  check(*plugin_, plugin_->event_record(handle_, stream.handle));
}

void Event::synchronize() const { check(*plugin_, plugin_->event_synchronize(handle_)); }

float Event::elapsed_ms(const Event& start, const Event& end) {
  float ms = 0;
  check(*start.plugin_, start.plugin_->event_elapsed_ms(start.handle_, end.handle_, &ms));
  return ms;
}

// --- free functions -------------------------------------------------------------------

void wait_event(StreamRef stream, const Event& event) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.stream_wait_event(stream.handle, event.handle()));
}

void synchronize(StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.stream_synchronize(stream.handle));
}

void fill_bytes_async(DevicePtr dst, unsigned char value, std::size_t bytes, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.memset_async(dst, value, bytes, stream.handle));
}

void copy_to_device_async(DevicePtr dst, const void* src, std::size_t bytes, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.copy_to_device_async(dst, src, bytes, stream.handle));
}

void copy_to_host_async(void* dst, DevicePtr src, std::size_t bytes, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.copy_to_host_async(dst, src, bytes, stream.handle));
}

void copy_device_async(DevicePtr dst, DevicePtr src, std::size_t bytes, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.copy_device_async(dst, src, bytes, stream.handle));
}

void fill_bytes(DevicePtr dst, unsigned char value, std::size_t bytes, StreamRef stream) {
  fill_bytes_async(dst, value, bytes, stream);
  synchronize(stream);
}

void copy_to_device(DevicePtr dst, const void* src, std::size_t bytes, StreamRef stream) {
  copy_to_device_async(dst, src, bytes, stream);
  synchronize(stream);
}

void copy_to_host(void* dst, DevicePtr src, std::size_t bytes, StreamRef stream) {
  copy_to_host_async(dst, src, bytes, stream);
  synchronize(stream);
}

void copy_device(DevicePtr dst, DevicePtr src, std::size_t bytes, StreamRef stream) {
  copy_device_async(dst, src, bytes, stream);
  synchronize(stream);
}

DevicePtr allocate_async(std::size_t bytes, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  DevicePtr ptr = 0;
  check(p, p.mem_alloc_async(bytes, stream.handle, &ptr));
  return ptr;
}

void free_async(DevicePtr ptr, StreamRef stream) {
  const CgvmCudaPlugin& p = driver_plugin();
  check(p, p.mem_free_async(ptr, stream.handle));
}

StreamBuffer::StreamBuffer(std::size_t bytes, StreamRef stream)
    : stream_(stream), ptr_(bytes ? allocate_async(bytes, stream) : 0) {}

StreamBuffer::~StreamBuffer() {
  if (!ptr_) return;
  try {
    free_async(ptr_, stream_);
  } catch (const std::exception&) {
    // Only fails when the device is already lost; the memory goes with it.
  }
}

}  // namespace cgvm::cuda
