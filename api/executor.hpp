#pragma once
// The executor: runs a lowered Program (codegen/program.hpp) on Arrays.
//
// Per call: bind inputs, constants and shared variables; run the steps in order (a loop
// kernel through its compiled function, split across the runtime's thread pool; an eval
// through the op's reference implementation; a scan loop through symbolic/scan_run.hpp,
// running its body's program once per step, or on a device replaying one recorded step);
// release each value after its last reader.
// Kernel results that the function does not return live in slot buffers that persist
// between calls, so a steady stream of calls with the same shapes allocates nothing. A
// scan body's kernels write the step's results straight into the rows of the loop's
// stacked outputs.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codegen/program.hpp"
#include "runtime/array.hpp"
#include "symbolic/scan_run.hpp"

namespace cgvm {

class CompiledModule;

using KernelFn = void(const long long* size, char* const* data, const long long* stride,
                      long long begin, long long end);

// A device to keep a program's values on: its memory, copies and products (the context)
// and what runs the program's kernels there (device addresses in the KernelCall).
struct DeviceBackend {
  std::shared_ptr<DeviceContext> context;
  KernelLauncher launch;
};

class Executor {
 public:
  // `module` holds the kernels (nullptr when the program has none); `table` is its entry
  // point that fills one function pointer per kernel.
  Executor(Program program, std::shared_ptr<const CompiledModule> module);
  // Every kernel goes to `launcher`; evals and loops run here as usual.
  Executor(Program program, KernelLauncher launcher);
  // Values live on `device`: kernel results and slot buffers are allocated there and its
  // launcher runs the kernels; an eval whose op runs on a device (OpDef::on_device) runs
  // there too (views, copies, cuBLAS products). Values are moved when a step needs them
  // elsewhere, and the moved copy replaces the value for later readers (constants are
  // moved once and kept): host inputs go to the device where a step reads them; a kernel
  // whose operands are all a few integers on the host (sizes computed from shapes) runs on
  // the host through the interpreter; integer scalars stay on the host for the evals that read
  // them (sizes). The small inputs an op reads wherever they are (OpDef::anywhere_inputs:
  // take's and inc_take's indices, a draw's generator state) stay where they are outside
  // loops (indices from the host are checked there at once; a state on the host is read
  // and advanced there), and go to the device for a scan's step (a sequence of token ids
  // once for all steps, a generator state carried from step to step) or come from it (an
  // argmax): the device's kernels read them, and an index out of range they note is raised
  // when the call ends (DeviceContext::index_fault: a function that read device indices
  // waits for the device then). An eval with no device form copies its operands to the
  // host (host_steps() lists them). An ifelse reads its condition back and runs the picked
  // branch's program there. A scan runs its first step, then records one step
  // (DeviceContext::record: a CUDA graph) and replays it for each step left, the device
  // copying each step's rows; the recording is kept for later calls with the same shapes.
  // A while loop replays its steps in chunks, reading its step counter back once per chunk
  // (the steps of a chunk after the stop copy nothing). Where the body cannot be recorded
  // (a loop or ifelse in the step, an op with no device form) and in debug mode it runs
  // step by step.
  // Shared variables are moved to the device for good, except those read only where they
  // are (a generator state read by draws outside loops). Results are device arrays (a state
  // advanced where it is: where it was).
  Executor(Program program, DeviceBackend device);

  // Runs the program; `inputs` in Program::inputs order. With `check`, every step's
  // results are compared with the interpreter's on the same operands, and the first that
  // differs beyond tolerance raises cgvm::Error naming the node and its source line (the
  // debug mode).
  std::vector<Array> run(const std::vector<Array>& inputs, bool check = false) const;

  const Program& program() const { return program_; }
  // The device the values live on (cpu unless built with a DeviceBackend).
  Device device() const;
  // Eval steps, loop bodies included, that run on the host although the executor keeps
  // its values on a device: "my_op at model.cpp:12", in program order. Empty on
  // the host.
  std::vector<std::string> host_steps() const;
  // Device mode: the loops (nested ones too) whose step cannot be recorded, which run step
  // by step, and why: "scan at model.cpp:20 (its step holds an ifelse at model.cpp:22)",
  // in program order. Empty on the host.
  std::vector<std::string> loops_step_by_step() const;
  // Device mode: what the calls may ask of the device's own kernels (DeviceContext::prepare):
  // that of the evals that run there (OpDef::device_work), and the step copies of loops
  // that replay a recorded step. Nothing on the host.
  DeviceWork device_work() const;

 private:
  // Buffers kept between calls: one per slot of a program (grown as needed), and those of
  // its loop bodies.
  struct LoopReplay;
  // Device mode, per call: where its lookups from device indices note one out of range,
  // and the shape of the indices each lookup (by node) was given, to say where among them.
  struct IndexFaults {
    DeviceFaultNote note;
    std::map<const Node*, Shape> shapes;
  };
  struct Slots {
    std::vector<Array> buffers;
    std::vector<Slots> loops;
    std::shared_ptr<LoopReplay> replay;  // a loop body's: its recorded step (device mode)
    // Device mode: the call's; one per call (the kept slots' or a concurrent call's own),
    // its loops' slots sharing it.
    std::shared_ptr<IndexFaults> faults;
  };
  static Slots make_slots(const Program& p, const std::shared_ptr<IndexFaults>& faults);
  // The slots of a call of the function's program (with a note of index faults on a device).
  Slots new_slots() const;

  // Runs `p`'s steps on `values` (inputs bound). `into`, for a loop body: per value, where
  // a kernel should write it (nullptr: anywhere).
  void run_program(const Program& p, std::vector<Array>& values, Slots& slots, bool check,
                   const std::vector<const Array*>* into) const;
  void run_kernel(const Program& p, const Step& step, std::vector<Array>& values,
                  std::vector<Array>& buffers, const std::vector<const Array*>* into) const;
  void run_loop(const Program& p, const Step& step, std::vector<Array>& values, Slots& slots,
                bool check) const;
  void run_eval(const Program& p, const Step& step, std::vector<Array>& values,
                IndexFaults* faults) const;
  // Device mode: a chunk of a scan's steps as one recording of a step, replayed: the
  // recording kept in `body_slots` from an earlier call or chunk when it fits (same
  // shapes), else a new one of `run_step` (which leaves the body's values in
  // `body_values`). A while loop's chunk is replayed whole, the steps after its stop copying
  // nothing, and its counter read back. Runs nothing where the context cannot record or the
  // body turns out not to be recordable (it reads back).
  ScanChunkRun replay_steps(const ScanStep& run_step, Slots& body_slots,
                            const std::vector<Array>& body_values, const ScanChunk& chunk) const;
  // An ifelse: the condition read (on the host), the branch it picks run as a program.
  void run_branch(const Program& p, const Step& step, std::vector<Array>& values, Slots& slots,
                  bool check) const;
  // Device mode: an index out of range that the device's kernels met in this call's
  // lookups from device indices (noted in `faults`, DeviceContext::index_fault), raised as
  // the host raises it, at the op's line (the results are not returned, so no update is
  // applied).
  void raise_index_fault(IndexFaults& faults) const;
  // Device mode: `values[v]`, moved to the device (and kept there for later readers).
  const Array& on_device(const Program& p, std::vector<Array>& values, int v) const;
  // Device mode: a kernel whose operands are all on the host, run by the interpreter.
  void run_kernel_on_host(const Program& p, const Step& step, std::vector<Array>& values) const;

  Program program_;
  std::shared_ptr<const CompiledModule> module_;
  std::vector<KernelFn*> kernels_;  // every kernel of the unit, loop bodies' included
  KernelLauncher launcher_;         // instead of kernels_, when set
  std::shared_ptr<DeviceContext> context_;  // device mode: where values live
  // Device mode: by value id of the program, 1 for values that stay where they are: read
  // only where evals read them wherever they are (a draw's [key, counter], take's
  // indices), and a draw's advanced state.
  std::vector<char> host_resident_;
  // Device mode, per loop body (nested ones too), worked out once: why its step cannot be
  // recorded (DeviceContext::record), or "" where it can: it has no host evals, and holds
  // no loop or branch.
  std::map<const Program*, std::string> step_by_step_;
  // Device mode: whether the program (its loops' bodies too) looks up indices, which may
  // be the device's: a call then makes its note's words before anything is recorded.
  // (After step_by_step_: device_work() reads it.)
  bool looks_up_ = false;
  // Device mode: constants moved to the device, per (program, value), kept across calls.
  mutable std::mutex constants_mutex_;
  mutable std::map<std::pair<const Program*, int>, Array> device_constants_;
  mutable std::mutex slots_mutex_;
  mutable Slots slots_;
};

// The name of the entry point emit_cpp defines: void cgvm_kernel_table(KernelFn** table).
inline constexpr const char* kernel_table_symbol = "cgvm_kernel_table";

}  // namespace cgvm
