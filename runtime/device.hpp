#pragma once
// Devices, and the memory of devices other than the host.
//
// An Array lives on the host or on a device. A device array's Storage holds a device
// address and the DeviceContext that made it; the context is the only way to its bytes:
// views (slice, transpose, broadcast, reshape where the layout allows) cost nothing as on
// the host, copies and conversions run on the device, anything that reads elements
// (item, at, to_vector, printing, allclose) copies them to the host first, and set writes
// one element over. Asking for a typed host pointer (data<T>()) is an error that says
// where the array lives.
//
// The runtime knows no device API: the CUDA backend (cuda/context.hpp) implements
// DeviceContext, and tests implement it over host memory with an emulated GPU.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include "runtime/dtype.hpp"

namespace cgvm {

class Array;

struct Device {
  enum class Kind : std::uint8_t { CPU, CUDA };
  Kind kind = Kind::CPU;
  int ordinal = 0;

  static Device cpu() { return {}; }
  static Device cuda(int ordinal = 0) { return {Kind::CUDA, ordinal}; }
  // "cpu", "cuda" (device 0) or "cuda:N"; anything else is a cgvm::Error listing them.
  static Device parse(const std::string& text);
  bool is_cpu() const { return kind == Kind::CPU; }
  std::string str() const;  // "cpu", "cuda:0"
  friend bool operator==(const Device&, const Device&) = default;
};

// C = alpha op(A) op(B) + beta C on device memory, row-major (runtime/blas.hpp's
// convention: ld* are row strides in elements). Float32 or Float64.
struct DeviceGemm {
  DType dtype = DType::Float32;
  bool trans_a = false, trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  double alpha = 1, beta = 0;
  const void* a = nullptr;
  std::int64_t lda = 0;
  const void* b = nullptr;
  std::int64_t ldb = 0;
  void* c = nullptr;
  std::int64_t ldc = 0;
};

// The rows an inc_take writes (DeviceContext::scatter), grouped by the slot they write, so
// that each slot is one writer's and the result does not depend on timing: slot
// targets[u] of the indexed axis gets the update's rows order[starts[u]] ..
// order[starts[u + 1] - 1], in index order.
struct ScatterRows {
  std::vector<std::int64_t> targets;  // the distinct slots written, ascending
  std::vector<std::int64_t> starts;   // targets.size() + 1 offsets into order
  std::vector<std::int64_t> order;    // every row of the update once
  // From the update's slot per row (each in [0, n), as take checks them).
  static ScatterRows group(std::span<const std::int64_t> slots);
};

// Index lists a device reads itself (DeviceContext::gather and ::scatter given an Array of
// rows): indices a device computed (an argmax) or keeps (a scan's sequence of ids), so that
// nothing waits for them to come back. They are int64, C-contiguous, on the device, each
// in [-n, n) for an axis of n (negative ones count from the end, as take's). A kernel
// cannot raise an error: an index out of range leaves zeros where its row would go (a
// gather) or is skipped (a scatter), and the device notes one, with the `site` its caller
// gave (an id of the op that reads them), in the caller's DeviceFaultNote: one of the first
// kernel that met any (where one kernel meets several, whichever of its threads notes
// first: not always the lowest position on a GPU).
struct DeviceIndexFault {
  std::uint64_t site = 0;
  std::int64_t index = 0, size = 0;
  std::int64_t position = 0;  // where among the rows (in C order over the op's indices)
};

// Where a gather or scatter from device rows notes an index out of range: the note of the
// work that queued it (a device function's call keeps one), and the site it names.
class DeviceFaultNote;
struct FaultSite {
  DeviceFaultNote* note = nullptr;
  std::uint64_t site = 0;
};

// A random draw a device repeats (DeviceContext::draw): what Array::uniform(gen, shape, a, b)
// or Array::normal(gen, shape, a, b) give for a fresh Generator(key, counter)
// (runtime/random.hpp). Uniform values equal the host's bit for bit; normal ones up to the
// device's log, sin and cos.
// Integers (Array of int64, Generator::next_integer's values one after another) are drawn
// only from a state on the device: how many words their rejections take is known once
// drawn, so the device advances the state itself.
struct DeviceDraw {
  enum class Kind : std::uint8_t { Uniform, Normal, Integers };
  Kind kind = Kind::Uniform;
  std::uint64_t key = 0, counter = 0;
  double a = 0, b = 1;  // low and high, or mean and stddev
  std::int64_t low = 0;     // Integers: in [low, low + range)
  std::uint64_t range = 1;
  // The Philox blocks the draw of `count` values of `dtype` takes (not Integers): the
  // generator's counter after it is counter + blocks(...). A uniform float32 takes one
  // word per value, a float64 two; normal values come in pairs from a block each.
  static std::uint64_t blocks(Kind kind, DType dtype, std::int64_t count);
};

// What a device runs with kernels of its own rather than a program's: the DeviceContext
// calls named. A device function says which its calls may ask for (DeviceContext::prepare),
// so that those kernels are made when the function is, not on its first call.
struct DeviceWork {
  bool lookups = false;     // gather, scatter
  bool arg_reduce = false;  // arg_reduce
  bool draws = false;       // draw
  bool loops = false;       // step_copies, step_advance: a scan that replays its step
  bool any() const { return lookups || arg_reduce || draws || loops; }
  DeviceWork& operator|=(const DeviceWork& other);
};

// Work a device recorded once and queues again on each replay (DeviceContext::record).
class DeviceRecording {
 public:
  virtual ~DeviceRecording() = default;
  // Queues the recorded work once more, with the addresses and sizes it was recorded with;
  // a fault note the work writes then expects it (DeviceFaultNote::expect).
  void replay();
  // The recorded work holds index kernels that note faults in `note` (a recording keeps
  // the notes of the call whose executor keeps it).
  void writes(DeviceFaultNote& note);

 protected:
  virtual void queue() = 0;  // the recorded work, queued once more

 private:
  std::vector<DeviceFaultNote*> notes_;
};

// Thrown by a DeviceContext asked, while it records, for what a recording cannot hold: a
// read back, a wait, a copy from the host. The recorder drops the recording and runs the
// work the ordinary way (not a user error).
class NotRecordable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One device's memory and the work the runtime asks of it. Work is ordered: each call
// sees the effects of the calls before it (a context keeps one queue, e.g. a CUDA stream),
// and copy_to_host returns only once the bytes are there.
class DeviceContext {
 public:
  virtual ~DeviceContext() = default;
  virtual Device device() const = 0;

  // `bytes` of uninitialised device memory (a device address; never dereferenced on the
  // host). Throws cgvm::Error when the device is out of memory.
  virtual void* allocate(std::size_t bytes) = 0;
  // Gives memory back once the work queued before it is done. Must not throw.
  virtual void release(void* ptr, std::size_t bytes) noexcept = 0;

  virtual void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) = 0;
  virtual void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) = 0;
  // dst[i...] = cast(src[i...]) for two arrays of the same shape on this device, with any
  // strides (src's may be 0: a broadcast); the conversion is runtime/cast.hpp's.
  virtual void convert(const Array& dst, const Array& src) = 0;
  // dst[i...] += src[i...] (logical or for bool; integers wrap), one dtype, one shape; dst
  // has no two elements at one address.
  virtual void accumulate(const Array& dst, const Array& src) = 0;
  virtual void gemm(const DeviceGemm& g) = 0;
  // Index lookups along `axis` of C-contiguous arrays of one dtype on this device (take and
  // inc_take there); the rows are the host's, checked to be in [0, x.shape()[axis]).
  // gather: out = take(x, rows, axis), out of x's shape with rows.size() at `axis`.
  virtual void gather(const Array& out, const Array& x, std::span<const std::int64_t> rows,
                      int axis) = 0;
  // scatter: out's slots along `axis` get y's rows as `rows` groups them: added to the slot
  // in order, or (set) the last one replaces it. y has out's shape with rows.order.size()
  // at `axis`.
  virtual void scatter(const Array& out, const Array& y, const ScatterRows& rows, int axis,
                       bool set) = 0;
  // The same with rows on this device (DeviceIndexFault): int64 [count], C-contiguous; a
  // row out of range is noted in `at`'s note (its words made outside any recording).
  // gather: out = take(x, rows, axis), zeros where a row is out of range.
  virtual void gather(const Array& out, const Array& x, const Array& rows, int axis,
                      const FaultSite& at) = 0;
  // scatter: out's slots along `axis` get y's rows (count of them at `axis`) by `rows`,
  // each slot's in index order, as ScatterRows::group orders them: the same sums, bit for
  // bit.
  virtual void scatter(const Array& out, const Array& y, const Array& rows, int axis, bool set,
                       const FaultSite& at) = 0;
  // The first index out of range that gathers and scatters from device rows noted in
  // `note` since the last call (waiting for the queued work to find out), or nothing; no
  // wait where no such work was queued since. DeviceFaultNote::read.
  virtual std::optional<DeviceIndexFault> index_fault(DeviceFaultNote& note);
  // argmax (max) or argmin of each row of x, C-contiguous [outer, inner] with inner >= 1,
  // into out, int64 [outer]: the host's rule (the first NaN, else the first extreme).
  virtual void arg_reduce(const Array& out, const Array& x, bool max) = 0;
  // out (C-contiguous float32 or float64 on this device) = the draw (not Integers).
  virtual void draw(const Array& out, const DeviceDraw& draw) = 0;
  // The same from a generator state on this device (`state`: int64 [2], [key, counter];
  // draw.key and draw.counter are not read), and next = [key, counter + the blocks the draw
  // takes] (int64 [2], not state's memory): nothing waits for the state to come back.
  // Integers go into an int64 `out`.
  virtual void draw(const Array& out, const DeviceDraw& draw, const Array& state,
                    const Array& next) = 0;
  // Waits until the queued work is done.
  virtual void synchronize() = 0;
  // Makes the context's own kernels for `work` ready (compiled, or loaded from a cache), so
  // that no call of them waits for a compiler; kernels made before are kept. Throws
  // cgvm::Error where they cannot be made. The default: nothing (a context whose kernels
  // need no making).
  virtual void prepare(const DeviceWork& work);

  // Records the work `issue` asks of this context from the calling thread (kernels
  // launched on its queue included) instead of running it, for the recording to queue
  // again as often as asked: a CUDA graph on a GPU. Returns nullptr, having run nothing,
  // where the context cannot record (the default). While it records, copy_to_host,
  // copy_from_host and synchronize throw NotRecordable, and memory released is released
  // only once the recording is destroyed (the recorded work may use it); whatever else the
  // recorded work uses, the caller keeps alive while it replays. Other threads' work runs
  // as usual meanwhile. If `issue` throws, nothing was recorded and the exception
  // propagates.
  virtual std::unique_ptr<DeviceRecording> record(const std::function<void()>& issue);

  // The steps of a replayed scan move their rows with these two, around each step's work.
  // `counter` is int64 [3] on this device: (t, end, stopped), the step the loop is at, the
  // step it ends before, and 1 once a while loop's condition has stopped it.
  // step_copies: if t < end, copies entry [t, c] of `table` for each c: `table` is int64
  // [steps, copies, 3] on this device, each entry (destination address, source address,
  // size in units of `unit` bytes), `unit` 1, 4 or 16 and both addresses aligned to it; no
  // size exceeds `longest`. Past the end, nothing.
  virtual void step_copies(const Array& table, const Array& counter, int unit,
                           std::int64_t longest) = 0;
  // step_advance: if t < end, adds 1 to t; then, if `stop` (a scalar of any dtype on
  // this device, read as astype(Bool) reads it; nullptr: none) holds, ends the loop
  // there: end = t, stopped = 1. The steps replayed after the end copy nothing, so their
  // work changes only the recording's own buffers.
  virtual void step_advance(const Array& counter, const Array* stop) = 0;
};

// The note index kernels leave of the first index out of range among the rows they read:
// kWords int64 words on the device (noted, site, index, size, position), zero until an
// index is out of range. A device function's call keeps its own (concurrent calls of one
// function too), so each call reads back only what its own lookups met.
class DeviceFaultNote {
 public:
  static constexpr int kWords = 5;
  // The words' device address, made (zeroed) on first use: a copy from the host, so first
  // used outside a recording.
  void* words(DeviceContext& context);
  // Work that may note a fault has been queued (or replayed): the next read reads back.
  void expect() { expected_ = true; }
  // Where work that may note a fault was queued since the last read: the words, read back
  // once the queued work is done, then cleared. Otherwise nothing, without a wait.
  std::optional<DeviceIndexFault> read(DeviceContext& context);
  // Gives the words back (for a context that is destroyed).
  void release(DeviceContext& context) noexcept;

 private:
  std::mutex mutex_;  // guards words_'s making
  void* words_ = nullptr;
  std::atomic<bool> expected_ = false;
};

}  // namespace cgvm
