#pragma once
// The executor: runs a lowered Program (codegen/program.hpp) on Arrays.
//
// Per call: bind inputs, constants and shared variables; run the steps in order (a loop
// kernel through its compiled function, split across the runtime's thread pool; an eval
// through the op's reference implementation; a scan loop through symbolic/scan_run.hpp,
// running its body's program once per step); release each value after its last reader.
// Kernel results that the function does not return live in slot buffers that persist
// between calls, so a steady stream of calls with the same shapes allocates nothing. A
// scan body's kernels write the step's results straight into the rows of the loop's
// stacked outputs.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codegen/program.hpp"
#include "runtime/array.hpp"

namespace cgvm {

class CompiledModule;

using KernelFn = void(const long long* size, char* const* data, const long long* stride,
                      long long begin, long long end);

// Runs kernels other than through the compiled C++ unit: the CUDA backend launches them on
// a device, tests run the emitted CUDA kernels on a CPU emulation of one.
using KernelLauncher = std::function<void(const KernelCall&)>;

class Executor {
 public:
  // `module` holds the kernels (nullptr when the program has none); `table` is its entry
  // point that fills one function pointer per kernel.
  Executor(Program program, std::shared_ptr<const CompiledModule> module);
  // Every kernel goes to `launcher`; evals and loops run here as usual.
  Executor(Program program, KernelLauncher launcher);

  // Runs the program; `inputs` in Program::inputs order. With `check`, every step's
  // results are compared with the interpreter's on the same operands, and the first that
  // differs beyond tolerance raises cgvm::Error naming the node and its source line (the
  // debug mode).
  std::vector<Array> run(const std::vector<Array>& inputs, bool check = false) const;

  const Program& program() const { return program_; }

 private:
  // Buffers kept between calls: one per slot of a program (grown as needed), and those of
  // its loop bodies.
  struct Slots {
    std::vector<Array> buffers;
    std::vector<Slots> loops;
  };
  static Slots make_slots(const Program& p);

  // Runs `p`'s steps on `values` (inputs bound). `into`, for a loop body: per value, where
  // a kernel should write it (nullptr: anywhere).
  void run_program(const Program& p, std::vector<Array>& values, Slots& slots, bool check,
                   const std::vector<const Array*>* into) const;
  void run_kernel(const Program& p, const Step& step, std::vector<Array>& values,
                  std::vector<Array>& buffers, const std::vector<const Array*>* into) const;
  void run_loop(const Program& p, const Step& step, std::vector<Array>& values, Slots& slots,
                bool check) const;

  Program program_;
  std::shared_ptr<const CompiledModule> module_;
  std::vector<KernelFn*> kernels_;  // every kernel of the unit, loop bodies' included
  KernelLauncher launcher_;         // instead of kernels_, when set
  mutable std::mutex slots_mutex_;
  mutable Slots slots_;
};

// The name of the entry point emit_cpp defines: void cgvm_kernel_table(KernelFn** table).
inline constexpr const char* kernel_table_symbol = "cgvm_kernel_table";

}  // namespace cgvm
