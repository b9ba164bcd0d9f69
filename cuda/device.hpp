#pragma once
// Device memory, streams and events: move-only owners over the plugin's handles.
//
// Every owner remembers the plugin instance that made it and releases through it, so
// objects stay valid across detail::reload_plugin(). Constructors and copies throw
// cgvm::Error (cuda::OutOfMemory for exhausted memory) when CUDA is not available or a
// call fails. Destructors never throw: a failure to release is reported with cgvm::warn.
//
// Asynchronous calls take a StreamRef (the default, StreamRef{}, is the legacy default
// stream); the plain-named copies are the synchronous versions (issue, then wait for that
// stream).
#include <cstddef>
#include <cstdint>

struct CgvmCudaPlugin;

namespace cgvm::cuda {

using DevicePtr = std::uint64_t;  // a CUdeviceptr

// A stream by handle, not owning it.
struct StreamRef {
  void* handle = nullptr;  // nullptr: the legacy default stream
};

class Stream {
 public:
  Stream();  // creates a stream that does not synchronise with stream 0
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void synchronize() const;
  void* handle() const { return handle_; }
  StreamRef ref() const { return StreamRef{handle_}; }
  operator StreamRef() const { return ref(); }

 private:
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* handle_ = nullptr;
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);  // cuMemAlloc; contents undefined
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  DevicePtr get() const { return ptr_; }
  std::size_t size() const { return bytes_; }
  // Gives up ownership: the caller frees it (cuMemFree) itself.
  DevicePtr release();

 private:
  const CgvmCudaPlugin* plugin_ = nullptr;
  DevicePtr ptr_ = 0;
  std::size_t bytes_ = 0;
};

// Page-locked host memory: host<->device copies from it are truly asynchronous.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// A timing event (for benchmarks) and a cross-stream dependency marker.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(StreamRef stream = {});
  void synchronize() const;
  void* handle() const { return handle_; }
  // Milliseconds between two recorded, completed events.
  static float elapsed_ms(const Event& start, const Event& end);

 private:
  const CgvmCudaPlugin* plugin_ = nullptr;
  void* handle_ = nullptr;
};

// Makes later work on `stream` wait for `event`'s recorded point.
void wait_event(StreamRef stream, const Event& event);
void synchronize(StreamRef stream);

void fill_bytes_async(DevicePtr dst, unsigned char value, std::size_t bytes, StreamRef stream = {});
void copy_to_device_async(DevicePtr dst, const void* src, std::size_t bytes, StreamRef stream = {});
void copy_to_host_async(void* dst, DevicePtr src, std::size_t bytes, StreamRef stream = {});
void copy_device_async(DevicePtr dst, DevicePtr src, std::size_t bytes, StreamRef stream = {});

void fill_bytes(DevicePtr dst, unsigned char value, std::size_t bytes, StreamRef stream = {});
void copy_to_device(DevicePtr dst, const void* src, std::size_t bytes, StreamRef stream = {});
void copy_to_host(void* dst, DevicePtr src, std::size_t bytes, StreamRef stream = {});
void copy_device(DevicePtr dst, DevicePtr src, std::size_t bytes, StreamRef stream = {});

// Stream-ordered allocation (cuMemAllocAsync): allowed inside a graph capture, and reuses
// memory freed earlier on the same stream without a device-wide synchronisation.
DevicePtr allocate_async(std::size_t bytes, StreamRef stream);
void free_async(DevicePtr ptr, StreamRef stream);

// Stream-ordered scratch: allocate_async on `stream`, and free_async there when it goes out
// of scope (after the work queued on the stream before; by then an exception may be on its
// way). None for 0 bytes.
class StreamBuffer {
 public:
  StreamBuffer(std::size_t bytes, StreamRef stream);
  ~StreamBuffer();
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  DevicePtr get() const { return ptr_; }

 private:
  StreamRef stream_;
  DevicePtr ptr_ = 0;
};

}  // namespace cgvm::cuda
