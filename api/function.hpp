#pragma once
// function(): turns symbolic outputs into a callable, with Theano's semantics.
//
//   auto x = matrix("x");
//   auto w = shared(Array::zeros({3, 3}), "w");
//   auto f = function({x}, {dot(x, w)}, {.updates = {{w, w + 1}}});
//   Array y = f(a);   // computes dot(a, w), then sets w <- w + 1
//
// The recipe, in order: substitute givens -> collect automatic updates (random streams) ->
// check inputs -> optimize and fuse (optimizer/pipeline.hpp) -> lower to a Program
// (codegen/lower.hpp) -> emit C++ (codegen/emit_cpp.hpp) -> compile or hit the cache
// (jit/jit.hpp) -> bind (api/executor.hpp).
#include <initializer_list>
#include <memory>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "codegen/memory_report.hpp"
#include "device.hpp"
#include "jit/jit.hpp"
#include "optimizer/pipeline.hpp"
#include "runtime/array.hpp"
#include "symbolic/graph.hpp"

namespace cgvm {

// How a function runs.
enum class Mode {
  Compiled,   // fused loop kernels compiled to native code, BLAS for products (the default)
  Interpret,  // the reference interpreter, op by op: the oracle
  Debug,      // compiled, and every kernel's results checked against the interpreter on the
              // same operands; the first difference raises an Error naming the node and line
};

// What to do when an input is not used by any output or update.
enum class OnUnusedInput { Raise, Warn, Ignore };

struct FunctionOptions {
  // (shared variable, new value) pairs. Every new value is computed from the state before
  // the call; all are written after the outputs are computed, together.
  Replacements updates;
  // (variable, replacement) pairs substituted into outputs and updates before anything
  // else; the replacement must have the same type.
  Replacements givens;
  OnUnusedInput on_unused_input = OnUnusedInput::Raise;
  Mode mode = Mode::Compiled;
  std::string name;  // shown in errors and reports
  // Where the function runs (api/device.hpp). On a GPU: kernels compiled with NVRTC,
  // products by cuBLAS, shared variables moved there for good, inputs taken from the host
  // or the device, outputs left on the device (to_host() or item() copies them back).
  // Compiled and debug modes only.
  Device device = Device::cpu();
};

// An input value at a call: an Array, or a C++ number for a rank-0 input (converted to the
// input's dtype when it is exactly representable there).
struct Value {
  Array array;
  bool is_number = false;
  double number = 0;

  Value(Array a) : array(std::move(a)) {}
  template <class S>
    requires std::is_arithmetic_v<S>
  Value(S s) : is_number(true), number(static_cast<double>(s)) {}
};

// The outputs of a call. Converts to Array when there is exactly one.
class Outputs {
 public:
  explicit Outputs(std::vector<Array> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  const Array& operator[](std::size_t i) const { return values_.at(i); }
  auto begin() const { return values_.begin(); }
  auto end() const { return values_.end(); }
  operator Array() const;  // cgvm::Error unless size() == 1
  std::vector<Array>& values() { return values_; }

 private:
  std::vector<Array> values_;
};

// Where the time of function() went, in milliseconds, and what it built.
struct FunctionReport {
  double optimize_ms = 0;  // the optimizer pipeline, fusion included
  std::vector<PassReport> passes;  // each pass: time, changed or not, rules that fired
  // The graph cache (optimized graph + source for this graph): "memory hit", "disk hit"
  // (the rewrites and the emitter were skipped), "miss", or "off" (CGVM_DUMP is set, or the
  // graph has no text form).
  std::string graph_cache = "off";
  double lower_ms = 0;     // graph -> Program
  double emit_ms = 0;      // Program -> C++ source
  CompileReport jit;       // source -> loaded code (cache hits included); see jit/jit.hpp
  double total_ms = 0;     // the whole function() call
  int kernels = 0;         // generated loop kernels
  int steps = 0;           // kernels + eval steps
  // A device function: where it runs, the time NVRTC (or its cache) and loading took for
  // its kernels and for the device's own that its calls use (lookups, argmax, draws, a
  // replayed loop's step copies: made once per process, so 0 where an earlier function
  // made them), the steps that have no device form and run on the host, copying their
  // operands ("my_op at model.cpp:12"; every op of the table has a device form), and the
  // loops that run step by step instead of replaying a recorded step, with why ("scan at
  // model.cpp:20 (its step holds an ifelse at model.cpp:22)").
  Device device;
  double device_compile_ms = 0;
  double device_prepare_ms = 0;
  std::vector<std::string> host_steps;
  std::vector<std::string> loops_step_by_step;
  std::string to_string() const;
};

class Function {
 public:
  // Calls with one value per input, in order. Wrong count, dtype, rank or a shape that
  // contradicts a static size raise cgvm::Error naming the input; nothing is modified then.
  Outputs operator()(const std::vector<Value>& inputs) const;
  template <class... A>
  Outputs operator()(const A&... inputs) const {
    return (*this)(std::vector<Value>{Value(inputs)...});
  }

  const std::vector<Var>& inputs() const;
  const std::vector<Var>& outputs() const;
  // The graph that runs: outputs then update values, after givens.
  const std::vector<Var>& graph_outputs() const;
  // The shared variables this function updates, in update order.
  std::vector<Var> updated_shared() const;
  const std::string& name() const;
  Mode mode() const;
  Device device() const;

  // Compiled and debug modes: the time report, the program (steps, kernels, slots) and the
  // generated C++ (CUDA C++ for a GPU function). Empty for the interpret mode.
  const FunctionReport& compile_report() const;
  std::string program() const;
  const std::string& source() const;
  // Compiled and debug modes: the memory one call takes with inputs of these shapes, known
  // before running it (codegen/memory_report.hpp); a shape the call would reject raises the
  // same cgvm::Error.
  MemoryReport memory_report(const std::vector<Shape>& input_shapes) const;
  // Compiled and debug modes: why two values of the graph do not run in one loop kernel, in
  // words (or that they do). A value the optimizer rewrote away is an Error saying so.
  std::string why_not_fused(const Var& a, const Var& b) const;

  struct Impl;
  explicit Function(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

Function function(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                  const FunctionOptions& options = {},
                  std::source_location loc = std::source_location::current());

}  // namespace cgvm
