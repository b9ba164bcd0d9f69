#include "codegen/emit_cpp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_map>

#include "codegen/prelude.hpp"
#include "symbolic/op_def.hpp"

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

int parallel_dim(const LoopKernel& k) {
  if (!k.outer.empty()) return k.outer.front();
  if (!k.reduces && !k.inner.empty()) return k.inner.front();
  return -1;
}

namespace {

// Accumulators per reduction in the vectorized loop: one AVX-512 register of float.
constexpr int reduce_lanes = 16;

bool walks(const std::vector<int>& dims, int d) {
  return std::find(dims.begin(), dims.end(), d) != dims.end();
}

// Emits one kernel. Node i's value is `v<i>`; operand a is `o<a>` when read once per outer
// iteration and `x<a>` when read inside a pass.
class KernelEmitter {
 public:
  KernelEmitter(const Program& p, const LoopKernel& k) : p_(p), k_(k) {
    num_args_ = static_cast<int>(k.operands.size() + k.results.size());
    for (std::size_t i = 0; i < k.nodes.size(); ++i) index_[k.nodes[i]] = static_cast<int>(i);
  }

  std::string emit() {
    line("extern \"C\" void {}(const long long* size, char* const* data, "
         "const long long* stride, long long begin, long long end) {{",
         k_.name);
    ++depth_;
    declare_args();
    const int first = parallel_dim(k_);
    if (first < 0) line("(void)begin; (void)end;");
    for (int d : k_.outer)
      open_loop(d, d == first ? "begin" : "0", d == first ? "end" : fmt::format("n{}", d));
    for (int a = 0; a < num_args_; ++a) {
      std::string offset = "0";
      for (int d : k_.outer)
        if (walks(arg(a).dims, d)) offset += fmt::format(" + i{} * s{}_{}", d, a, d);
      line("const long long b{} = {};", a, offset);
    }
    for (std::size_t a = 0; a < k_.operands.size(); ++a)
      if (!is_full(k_.operands[a].dims)) line("const {} o{} = p{}[b{}];", arg_type(a), a, a, a);

    for (std::size_t i = 0; i < k_.nodes.size(); ++i)
      if (k_.nodes[i]->op().emit_reduce) reduction_pass(static_cast<int>(i));
    std::vector<int> full_results;
    for (std::size_t r = 0; r < k_.results.size(); ++r)
      if (is_full(k_.results[r].dims)) full_results.push_back(static_cast<int>(r));
    if (!full_results.empty()) store_pass(full_results);
    for (std::size_t r = 0; r < k_.results.size(); ++r) {
      if (is_full(k_.results[r].dims)) continue;
      int node = index_.at(k_.results[r].reader);
      ensure_outer(node);
      int a = static_cast<int>(k_.operands.size() + r);
      line("p{}[b{}] = v{};", a, a, node);
    }
    while (depth_ > 0) {
      --depth_;
      line("}}");
    }
    return out_;
  }

 private:
  using IndexFn = std::function<std::string(int arg)>;

  template <class... A>
  void line(fmt::format_string<A...> f, A&&... args) {
    out_ += std::string(2 * depth_, ' ') + fmt::format(f, std::forward<A>(args)...) + "\n";
  }

  const KernelArg& arg(int a) const {
    int n_ops = static_cast<int>(k_.operands.size());
    return a < n_ops ? k_.operands[a] : k_.results[a - n_ops];
  }
  std::string_view arg_type(std::size_t a) const {
    return cpp_type(p_.values[arg(static_cast<int>(a)).value].dtype());
  }
  std::string_view node_type(int i) const {
    return cpp_type(k_.nodes[i]->output_types()[0].dtype);
  }
  bool is_full(const std::vector<int>& dims) const {
    return std::any_of(k_.inner.begin(), k_.inner.end(), [&](int d) { return walks(dims, d); });
  }
  // Computed inside passes (per inner point), as opposed to once per outer iteration.
  bool node_full(int i) const { return !k_.nodes[i]->op().emit_reduce && is_full(k_.dims[i]); }

  void declare_args() {
    for (int d = 0; d < k_.num_dims; ++d) {
      if (k_.static_size[d] >= 0) line("const long long n{} = {};", d, k_.static_size[d]);
      else line("const long long n{} = size[{}];", d, d);
    }
    for (int a = 0; a < num_args_; ++a) {
      bool result = a >= static_cast<int>(k_.operands.size());
      line("{}{}* __restrict p{} = ({}{}*)data[{}];", result ? "" : "const ", arg_type(a), a,
           result ? "" : "const ", arg_type(a), a);
      for (int d : arg(a).dims)
        if (d >= 0) line("const long long s{}_{} = stride[{}];", a, d, a * k_.num_dims + d);
    }
    if (k_.inner.empty()) return;
    // The fast path: every arg that walks the innermost dim does so with stride 1.
    const int last = k_.inner.back();
    std::string unit;
    for (int a = 0; a < num_args_; ++a)
      if (walks(arg(a).dims, last)) unit += fmt::format("{}s{}_{} == 1", unit.empty() ? "" : " && ", a, last);
    line("const bool unit = {};", unit.empty() ? "true" : unit);
  }

  void open_loop(int d, const std::string& from, const std::string& to) {
    line("for (long long i{} = {}; i{} < {}; ++i{}) {{", d, from, d, to, d);
    ++depth_;
  }

  std::string input_expr(int node, int input) const {
    int src = k_.sources[node][input];
    if (src >= 0) return fmt::format("v{}", src);
    int a = -1 - src;
    return (is_full(k_.operands[a].dims) ? "x" : "o") + std::to_string(a);
  }

  std::string node_expr(int i) const {
    const Node* n = k_.nodes[i];
    std::vector<std::string> in;
    for (std::size_t j = 0; j < n->inputs().size(); ++j) in.push_back(input_expr(i, static_cast<int>(j)));
    if (!n->op().emit) return in[0];  // dimshuffle: the same element, walked differently
    return n->op().emit(EmitArgs{*n, in, node_type(i)});
  }

  // Emits, at the outer level, node i and what it needs, unless done already. Reductions
  // are emitted by their pass, which runs before anything that reads them.
  void ensure_outer(int i) {
    if (node_full(i) || k_.nodes[i]->op().emit_reduce || !emitted_.insert(i).second) return;
    for (int src : k_.sources[i])
      if (src >= 0) ensure_outer(src);
    line("const {} v{} = {};", node_type(i), i, node_expr(i));
  }

  // The full-level nodes that `roots` need, in order, and the outer values they read.
  std::vector<int> full_closure(const std::vector<int>& roots) {
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

  // The inner loop nest. The innermost loop exists as a unit-stride copy (the one that
  // vectorizes) and a general-stride copy (kept scalar: gathers cost more compile time than
  // they save). With `lanes`, the unit-stride copy runs in blocks of `lanes` elements, one
  // accumulator per lane: reductions such as max do not vectorize otherwise (LLVM does not
  // take fmax as a reduction without -ffast-math). `body(index, lane)` emits the loop body;
  // lane is "[l]" inside a block and "" elsewhere.
  void inner_loops(int lanes, const std::function<void(const IndexFn&, const std::string&)>& body) {
    const int last = k_.inner.back();
    const bool split_inner = parallel_dim(k_) == last;
    for (std::size_t j = 0; j + 1 < k_.inner.size(); ++j)
      open_loop(k_.inner[j], "0", fmt::format("n{}", k_.inner[j]));
    for (int a = 0; a < num_args_; ++a) {
      std::string offset = fmt::format("b{}", a);
      for (std::size_t j = 0; j + 1 < k_.inner.size(); ++j)
        if (walks(arg(a).dims, k_.inner[j]))
          offset += fmt::format(" + i{} * s{}_{}", k_.inner[j], a, k_.inner[j]);
      line("const long long q{} = {};", a, offset);
    }
    const std::string from = split_inner ? "begin" : "0";
    const std::string to = split_inner ? "end" : fmt::format("n{}", last);
    auto index_fn = [&](const std::string& at, bool unit) -> IndexFn {
      return [&, at, unit](int a) {
        if (!walks(arg(a).dims, last)) return fmt::format("q{}", a);
        return unit ? fmt::format("q{} + {}", a, at) : fmt::format("q{} + {} * s{}_{}", a, at, a, last);
      };
    };
    const std::string i = fmt::format("i{}", last);
    line("if (unit) {{");
    ++depth_;
    if (lanes > 1) {
      line("long long {} = {};", i, from);
      line("for (; {} + {} <= {}; {} += {}) {{", i, lanes, to, i, lanes);
      ++depth_;
      line("for (int l = 0; l < {}; ++l) {{", lanes);
      ++depth_;
      body(index_fn(i + " + l", true), "[l]");
      close_block();
      close_block();
      line("#pragma clang loop vectorize(disable)");
      line("for (; {} < {}; ++{}) {{", i, to, i);
      ++depth_;
      body(index_fn(i, true), "");
      close_block();
    } else {
      open_loop(last, from, to);
      body(index_fn(i, true), "");
      close_block();
    }
    --depth_;
    line("}} else {{");
    ++depth_;
    line("#pragma clang loop vectorize(disable)");
    open_loop(last, from, to);
    body(index_fn(i, false), "");
    close_block();
    close_block();
    for (std::size_t j = 0; j + 1 < k_.inner.size(); ++j) close_block();
  }

  void close_block() {
    --depth_;
    line("}}");
  }

  // Loads of the pass operands and the full-level values, in order.
  void emit_points(const std::vector<int>& nodes, const IndexFn& index) {
    std::set<int> loads;
    for (int i : nodes)
      for (int src : k_.sources[i])
        if (src < 0 && is_full(k_.operands[-1 - src].dims)) loads.insert(-1 - src);
    for (int a : loads) line("const {} x{} = p{}[{}];", arg_type(a), a, a, index(a));
    for (int i : nodes) line("const {} v{} = {};", node_type(i), i, node_expr(i));
  }

  void reduction_pass(int r) {
    const Node* n = k_.nodes[r];
    const ReduceEmit e = n->op().emit_reduce(*n);
    const std::string acc = fmt::format("acc{}", r), nan = fmt::format("nan{}", r);
    const std::string_view type = node_type(r);
    const int src = k_.sources[r][0];
    std::vector<int> nodes = src >= 0 ? full_closure({src}) : std::vector<int>{};
    const std::string x = input_expr(r, 0);
    auto step = [&](const std::string& a, const std::string& v) {
      return fmt::format(fmt::runtime(e.step), fmt::arg("acc", a), fmt::arg("x", v));
    };
    line("{} {} = ({})({});", type, acc, type, e.init);
    line("{} {}v[{}];", type, acc, reduce_lanes);
    line("for (int l = 0; l < {}; ++l) {}v[l] = {};", reduce_lanes, acc, acc);
    if (e.propagate_nan) {
      line("bool {} = false;", nan);
      line("bool {}v[{}] = {{}};", nan, reduce_lanes);
    }
    line("{{");
    ++depth_;
    inner_loops(reduce_lanes, [&](const IndexFn& index, const std::string& lane) {
      emit_points(nodes, index);
      if (src < 0) {  // the reduction reads an operand directly
        int a = -1 - src;
        line("const {} x{} = p{}[{}];", arg_type(a), a, a, index(a));
      }
      const std::string acc_l = acc + (lane.empty() ? "" : "v" + lane);
      line("{} = {};", acc_l, step(acc_l, x));
      if (e.propagate_nan) line("{}{} |= {} != {};", nan, lane.empty() ? "" : "v" + lane, x, x);
    });
    close_block();
    line("for (int l = 0; l < {}; ++l) {{", reduce_lanes);
    ++depth_;
    line("{} = {};", acc, step(acc, acc + "v[l]"));
    if (e.propagate_nan) line("{} |= {}v[l];", nan, nan);
    close_block();
    if (e.propagate_nan)
      line("const {} v{} = {} ? ({})__builtin_nan(\"\") : {};", type, r, nan, type, acc);
    else
      line("const {} v{} = {};", type, r, acc);
    emitted_.insert(r);
  }

  // The last pass: computes and stores the full-level results.
  void store_pass(const std::vector<int>& results) {
    std::vector<int> roots;
    for (int r : results) roots.push_back(index_.at(k_.results[r].reader));
    std::vector<int> nodes = full_closure(roots);
    line("{{");
    ++depth_;
    inner_loops(1, [&](const IndexFn& index, const std::string&) {
      emit_points(nodes, index);
      for (std::size_t j = 0; j < results.size(); ++j) {
        int a = static_cast<int>(k_.operands.size()) + results[j];
        line("p{}[{}] = v{};", a, index(a), roots[j]);
      }
    });
    close_block();
  }

  const Program& p_;
  const LoopKernel& k_;
  std::unordered_map<const Node*, int> index_;
  std::set<int> emitted_;
  int num_args_ = 0;
  int depth_ = 0;
  std::string out_;
};

}  // namespace

std::string emit_cpp(const Program& program) {
  std::string source = std::string(prelude_source());
  std::string table;
  std::function<void(const Program&)> emit_all = [&](const Program& p) {
    for (const LoopKernel& k : p.kernels) {
      source += "\n" + KernelEmitter(p, k).emit();
      table += fmt::format("  table[{}] = {};\n", p.kernel_base + (&k - p.kernels.data()), k.name);
    }
    for (const ScanLoop& l : p.loops) emit_all(l.body);
  };
  emit_all(program);
  // The one entry point: the executor looks up this symbol only.
  source += "\ntypedef void (*cgvm_kernel_fn)(const long long*, char* const*, const long long*, "
            "long long, long long);\n";
  return source + "extern \"C\" void cgvm_kernel_table(cgvm_kernel_fn* table) {\n" + table + "}\n";
}

}  // namespace cgvm
