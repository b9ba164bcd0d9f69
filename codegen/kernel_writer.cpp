#include "codegen/kernel_writer.hpp"

#include <algorithm>

namespace cgvm {

std::string_view cpp_type(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "unsigned char";
    case DType::Int8: return "signed char";
    case DType::Int16: return "short";
    case DType::Int32: return "int";
    case DType::Int64: return "long long";
    case DType::Float32: return "float";
    case DType::Float64: return "double";
  }
  return "?";
}

KernelWriter::KernelWriter(const Program& program, const LoopKernel& kernel)
    : p_(program), k_(kernel) {
  num_args_ = static_cast<int>(k_.operands.size() + k_.results.size());
  for (std::size_t i = 0; i < k_.nodes.size(); ++i) index_[k_.nodes[i]] = static_cast<int>(i);
}

void KernelWriter::open_block(const std::string& head) {
  if (head.empty()) line("{{");
  else line("{} {{", head);
  ++depth_;
}

void KernelWriter::close_block() {
  --depth_;
  line("}}");
}

void KernelWriter::close_all() {
  while (depth_ > 0) close_block();
}

const KernelArg& KernelWriter::arg(int a) const {
  return a < num_operands() ? k_.operands[a] : k_.results[a - num_operands()];
}

std::string_view KernelWriter::arg_type(int a) const {
  return cpp_type(p_.values[arg(a).value].dtype());
}

std::string_view KernelWriter::node_type(int i) const {
  return cpp_type(k_.nodes[i]->output_types()[0].dtype);
}

bool KernelWriter::walks(const std::vector<int>& dims, int d) {
  return std::find(dims.begin(), dims.end(), d) != dims.end();
}

bool KernelWriter::is_full(const std::vector<int>& dims) const {
  return std::any_of(k_.inner.begin(), k_.inner.end(), [&](int d) { return walks(dims, d); });
}

bool KernelWriter::node_full(int i) const { return !is_reduction(i) && is_full(k_.dims[i]); }

void KernelWriter::declare_sizes(const std::function<std::string(int)>& runtime_size) {
  for (int d = 0; d < k_.num_dims; ++d) {
    if (k_.static_size[d] >= 0) line("const long long n{} = {};", d, k_.static_size[d]);
    else line("const long long n{} = {};", d, runtime_size(d));
  }
}

std::string KernelWriter::offset_expr(int a, const std::string& first,
                                      const std::vector<int>& dims) const {
  std::string offset = first;
  for (int d : dims)
    if (walks(arg(a).dims, d)) offset += fmt::format(" + i{} * s{}_{}", d, a, d);
  return offset;
}

void KernelWriter::load_outer_operands() {
  for (int a = 0; a < num_operands(); ++a)
    if (!is_full(k_.operands[a].dims)) line("const {} o{} = p{}[b{}];", arg_type(a), a, a, a);
}

std::string KernelWriter::input_expr(int node, int input) const {
  int src = k_.sources[node][input];
  if (src >= 0) return fmt::format("v{}", src);
  int a = -1 - src;
  return (is_full(k_.operands[a].dims) ? "x" : "o") + std::to_string(a);
}

std::string KernelWriter::node_expr(int i) const {
  const Node* n = k_.nodes[i];
  std::vector<std::string> in;
  for (std::size_t j = 0; j < n->inputs().size(); ++j)
    in.push_back(input_expr(i, static_cast<int>(j)));
  if (!n->op().emit) return in[0];  // dimshuffle: the same element, walked differently
  return n->op().emit(EmitArgs{*n, in, node_type(i)});
}

void KernelWriter::ensure_outer(int i) {
  if (node_full(i) || is_reduction(i) || !emitted_.insert(i).second) return;
  for (int src : k_.sources[i])
    if (src >= 0) ensure_outer(src);
  line("const {} v{} = {};", node_type(i), i, node_expr(i));
}

std::vector<int> KernelWriter::full_closure(const std::vector<int>& roots) {
  std::set<int> seen;
  std::function<void(int)> visit = [&](int i) {
    if (!node_full(i)) {
      ensure_outer(i);
      return;
    }
    if (!seen.insert(i).second) return;
    for (int src : k_.sources[i])
      if (src >= 0) visit(src);
  };
  for (int r : roots) visit(r);
  return {seen.begin(), seen.end()};  // node indices are topological
}

void KernelWriter::emit_points(const std::vector<int>& nodes, const IndexFn& index) {
  std::set<int> loads;
  for (int i : nodes)
    for (int src : k_.sources[i])
      if (src < 0 && is_full(k_.operands[-1 - src].dims)) loads.insert(-1 - src);
  for (int a : loads) line("const {} x{} = p{}[{}];", arg_type(a), a, a, index(a));
  for (int i : nodes) line("const {} v{} = {};", node_type(i), i, node_expr(i));
}

void KernelWriter::define_reduction(int r, const ReduceEmit& e, const std::string& acc,
                                    const std::string& nan) {
  const std::string_view type = node_type(r);
  if (e.propagate_nan)
    line("const {} v{} = {} ? ({})__builtin_nan(\"\") : {};", type, r, nan, type, acc);
  else
    line("const {} v{} = {};", type, r, acc);
  emitted_.insert(r);
}

std::string KernelWriter::reduce_step(const ReduceEmit& e, const std::string& acc,
                                      const std::string& x) {
  return fmt::format(fmt::runtime(e.step), fmt::arg("acc", acc), fmt::arg("x", x));
}

std::vector<int> KernelWriter::full_results() const {
  std::vector<int> r;
  for (std::size_t i = 0; i < k_.results.size(); ++i)
    if (is_full(k_.results[i].dims)) r.push_back(static_cast<int>(i));
  return r;
}

std::vector<int> KernelWriter::outer_results() const {
  std::vector<int> r;
  for (std::size_t i = 0; i < k_.results.size(); ++i)
    if (!is_full(k_.results[i].dims)) r.push_back(static_cast<int>(i));
  return r;
}

}  // namespace cgvm
