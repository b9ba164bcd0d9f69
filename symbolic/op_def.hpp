#pragma once
// OpDef: everything about one primitive op in one place (DESIGN.md §2).
//
// Each op is one definition block in its family file (symbolic/ops/<family>.cpp) and one
// row in symbolic/op_list.hpp. The block fills the facets below; nothing else in the
// library has per-op code. Compositions (softmax, logsumexp, ...) are plain Var code and
// have no OpDef.
#include <functional>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/array.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

enum class OpFamily {
  Source, Elementwise, Reduce, Shape, Index, Contraction, Random, Gradient, Control
};
std::string_view family_name(OpFamily family);

// What type inference sees: the inputs (as Vars, so constant inputs can be read), their
// types, the attributes and the user's call site.
struct InferArgs {
  const OpDef& op;
  std::span<const Var> inputs;
  const Attrs& attrs;
  const std::source_location& loc;

  const TensorType& input(int i) const { return inputs[i].type(); }
  int num_inputs() const { return static_cast<int>(inputs.size()); }
  // Raises the op's user error: "<op>: <message> (inputs: float32[?, 3], int64[])\n at
  // file:line".
  [[noreturn]] void fail(const std::string& message) const;
};

// What the reference implementation sees: input values and the node (for its attributes,
// output types and location).
struct EvalArgs {
  const Node& node;
  std::span<const Array> inputs;
  // The device a device function's executor runs this eval on (OpDef::on_device), null on
  // the host. Most evals follow their inputs' device; a random draw has none to follow.
  std::shared_ptr<DeviceContext> device = nullptr;
  // Device mode: where lookups from indices on the device note one out of range (the
  // call's note, which the executor reads when the call ends).
  DeviceFaultNote* faults = nullptr;

  const Attrs& attrs() const;
  const TensorType& output_type(int i = 0) const;
  // Raises a run-time user error naming the op, the input shapes and the node's source line
  // (e.g. two unknown dimensions that disagree).
  [[noreturn]] void fail(const std::string& message) const;
};

// What a gradient sees: the forward node and the gradient of the cost with respect to each
// of its outputs (a null Var where none flows, e.g. an unused output of a multi-output op).
struct GradArgs {
  const Node& node;
  std::span<const Var> output_grads;

  const Var& input(int i) const { return node.input(i); }
  Var output(int i = 0) const { return node.output(i); }
  const Var& grad(int i = 0) const { return output_grads[i]; }
  const Attrs& attrs() const { return node.attrs(); }
  // Gradient nodes are built at the forward node's source line.
  const std::source_location& loc() const { return node.location(); }
};

// What an elementwise op's C++ emitter sees: the C++ expressions of its inputs (already of
// the input dtypes) and the types involved.
struct EmitArgs {
  const Node& node;
  std::span<const std::string> in;
  std::string_view out_type;  // the output's C++ type, e.g. "float"

  const std::string& operator[](std::size_t i) const { return in[i]; }
  DType in_dtype(int i = 0) const;
};

// A reduction's accumulator as C++ text: the start value and one step, an expression over
// the accumulator `{acc}` (output dtype) and the element `{x}` (input dtype).
struct ReduceEmit {
  std::string init;
  std::string step;
  // The step ignores NaN (so that it vectorizes, e.g. fmax); the generated code tracks a
  // NaN separately and makes it the result.
  bool propagate_nan = false;
  // False for max/min: an empty reduction is an error, not the start value.
  bool has_identity = true;
};

using InferFn = std::function<std::vector<TensorType>(const InferArgs&)>;
using EvalFn = std::function<std::vector<Array>(const EvalArgs&)>;
// Returns one Var per input: the gradient of the cost with respect to that input, with the
// input's dtype and shape (broadcast dimensions summed back), or a null Var where the input
// gets no gradient (integer inputs, indices, sizes; piecewise-constant ops).
using GradFn = std::function<std::vector<Var>(const GradArgs&)>;
// The op as one C++ expression of its inputs, for generated code (elementwise ops only).
using EmitFn = std::function<std::string(const EmitArgs&)>;
using ReduceEmitFn = std::function<ReduceEmit(const Node&)>;

struct OpDef {
  std::string_view name;
  OpFamily family = OpFamily::Elementwise;
  int min_inputs = 0;
  int max_inputs = 0;  // -1: any number

  // Output types from input types and attributes; raises cgvm::Error on bad input.
  InferFn infer;
  // The reference implementation: simple and exact. The interpreter, constant folding and
  // every test's oracle use it. Must return arrays of exactly the inferred dtypes/ranks.
  EvalFn eval;
  // The gradient, written with Var ops so that it can itself be differentiated. Empty for
  // ops that are not differentiable; grad() then reports the op when a gradient must flow
  // through it.
  GradFn grad;

  // Random draws and other ops with state: output `state_output` is the next value of the
  // shared-variable input `state_input`. function() adds that update automatically (as
  // Theano's default_update did), unless the user updates the variable explicitly.
  int state_input = -1;
  int state_output = -1;

  // `eval` returns a view of its first input, no new memory (reshape: where the layout
  // allows; it copies a value it cannot view). The memory report counts none.
  bool view = false;

  // Whether `eval` also runs where its inputs live when they are on a device
  // (runtime/device.hpp), for this node: it only makes views, allocates with new_empty,
  // copies and converts through Array methods, reads scalars on the host (item()) and
  // leaves the rest to the DeviceContext (gemm, gather, scatter, arg_reduce, draw). Empty:
  // host only (a device executor copies the operands to the host and says so;
  // api/executor.hpp).
  std::function<bool(const Node&)> on_device;
  // Small inputs such an eval reads wherever they are (index lists, a generator state):
  // on the host, where it reads them at once (take checks its indices there), or on the
  // device, where the DeviceContext's kernels read them (an index out of range is then
  // reported when the call ends, DeviceIndexFault; a draw advances the state there). A
  // device executor leaves them where they are, except those a scan's step reads, which it
  // keeps on the device, so that no step copies them over and the step can be recorded.
  std::vector<int> anywhere_inputs;
  // What such an eval asks of a device's own kernels (lookups, argmax, draws): a device
  // function has them made when it is built (DeviceContext::prepare).
  DeviceWork device_work;

  // Code generation (codegen/). An elementwise op with `emit` fuses into loop kernels; a
  // reduction with `emit_reduce` fuses with its producers and consumers. Any other op runs
  // in compiled functions through `eval` (matmul's eval is the BLAS call).
  EmitFn emit;
  ReduceEmitFn emit_reduce;

  // Sets `emit` on a builder's result: `unary_float(...).emitting(emit_call("cgm::exp"))`.
  OpDef emitting(EmitFn e) && {
    emit = std::move(e);
    return std::move(*this);
  }
};

// on_device for an eval that works on any device for every node.
bool any_device(const Node&);

// Emitters for the common forms: `f(a, b)` and `(a op b)`.
EmitFn emit_call(std::string function);
EmitFn emit_infix(std::string op);

// The value of a constant Var (a node of the `constant` op), or nullptr.
const Array* constant_value(const Var& v);
// A constant's value as one integer, when `v` is a constant integer scalar.
std::optional<std::int64_t> constant_int(const Var& v);

}  // namespace cgvm
