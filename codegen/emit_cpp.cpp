#include "codegen/emit_cpp.hpp"

#include <fmt/format.h>

#include <functional>

#include "codegen/kernel_writer.hpp"
#include "codegen/prelude.hpp"

namespace cgvm {

int parallel_dim(const LoopKernel& k) {
  if (!k.outer.empty()) return k.outer.front();
  if (!k.reduces && !k.inner.empty()) return k.inner.front();
  return -1;
}

namespace {

// Accumulators per reduction in the vectorized loop: one AVX-512 register of float.
constexpr int reduce_lanes = 16;

// Emits one kernel as a C++ function (emit_cpp.hpp has its signature).
class KernelEmitter : public KernelWriter {
 public:
  using KernelWriter::KernelWriter;

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
    for (int a = 0; a < num_args_; ++a)
      line("const long long b{} = {};", a, offset_expr(a, "0", k_.outer));
    load_outer_operands();

    for (std::size_t i = 0; i < k_.nodes.size(); ++i)
      if (is_reduction(static_cast<int>(i))) reduction_pass(static_cast<int>(i));
    if (std::vector<int> full = full_results(); !full.empty()) store_pass(full);
    for (int r : outer_results()) {
      int node = result_node(r);
      ensure_outer(node);
      int a = num_operands() + r;
      line("p{}[b{}] = v{};", a, a, node);
    }
    close_all();
    return out_;
  }

 private:
  void declare_args() {
    declare_sizes([](int d) { return fmt::format("size[{}]", d); });
    for (int a = 0; a < num_args_; ++a) {
      const char* qualifier = is_result(a) ? "" : "const ";
      line("{}{}* __restrict p{} = ({}{}*)data[{}];", qualifier, arg_type(a), a, qualifier,
           arg_type(a), a);
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
    open_block(fmt::format("for (long long i{} = {}; i{} < {}; ++i{})", d, from, d, to, d));
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
    const std::vector<int> middle(k_.inner.begin(), k_.inner.end() - 1);
    for (int d : middle) open_loop(d, "0", fmt::format("n{}", d));
    for (int a = 0; a < num_args_; ++a)
      line("const long long q{} = {};", a, offset_expr(a, fmt::format("b{}", a), middle));
    const std::string from = split_inner ? "begin" : "0";
    const std::string to = split_inner ? "end" : fmt::format("n{}", last);
    auto index_fn = [&](const std::string& at, bool unit) -> IndexFn {
      return [&, at, unit](int a) {
        if (!walks(arg(a).dims, last)) return fmt::format("q{}", a);
        return unit ? fmt::format("q{} + {}", a, at) : fmt::format("q{} + {} * s{}_{}", a, at, a, last);
      };
    };
    const std::string i = fmt::format("i{}", last);
    open_block("if (unit)");
    if (lanes > 1) {
      line("long long {} = {};", i, from);
      open_block(fmt::format("for (; {} + {} <= {}; {} += {})", i, lanes, to, i, lanes));
      open_block(fmt::format("for (int l = 0; l < {}; ++l)", lanes));
      body(index_fn(i + " + l", true), "[l]");
      close_block();
      close_block();
      line("#pragma clang loop vectorize(disable)");
      open_block(fmt::format("for (; {} < {}; ++{})", i, to, i));
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
    for (std::size_t j = 0; j < middle.size(); ++j) close_block();
  }

  void reduction_pass(int r) {
    const Node* n = k_.nodes[r];
    const ReduceEmit e = n->op().emit_reduce(*n);
    const std::string acc = fmt::format("acc{}", r), nan = fmt::format("nan{}", r);
    const std::string_view type = node_type(r);
    const int src = k_.sources[r][0];
    std::vector<int> nodes = src >= 0 ? full_closure({src}) : std::vector<int>{};
    const std::string x = input_expr(r, 0);
    line("{} {} = ({})({});", type, acc, type, e.init);
    line("{} {}v[{}];", type, acc, reduce_lanes);
    line("for (int l = 0; l < {}; ++l) {}v[l] = {};", reduce_lanes, acc, acc);
    if (e.propagate_nan) {
      line("bool {} = false;", nan);
      line("bool {}v[{}] = {{}};", nan, reduce_lanes);
    }
    open_block("");
    inner_loops(reduce_lanes, [&](const IndexFn& index, const std::string& lane) {
      emit_points(nodes, index);
      if (src < 0) {  // the reduction reads an operand directly
        int a = -1 - src;
        line("const {} x{} = p{}[{}];", arg_type(a), a, a, index(a));
      }
      const std::string acc_l = acc + (lane.empty() ? "" : "v" + lane);
      line("{} = {};", acc_l, reduce_step(e, acc_l, x));
      if (e.propagate_nan) line("{}{} |= {} != {};", nan, lane.empty() ? "" : "v" + lane, x, x);
    });
    close_block();
    open_block(fmt::format("for (int l = 0; l < {}; ++l)", reduce_lanes));
    line("{} = {};", acc, reduce_step(e, acc, acc + "v[l]"));
    if (e.propagate_nan) line("{} |= {}v[l];", nan, nan);
    close_block();
    define_reduction(r, e, acc, nan);
  }

  // The last pass: computes and stores the full-level results.
  void store_pass(const std::vector<int>& results) {
    std::vector<int> roots;
    for (int r : results) roots.push_back(result_node(r));
    std::vector<int> nodes = full_closure(roots);
    open_block("");
    inner_loops(1, [&](const IndexFn& index, const std::string&) {
      emit_points(nodes, index);
      for (std::size_t j = 0; j < results.size(); ++j) {
        int a = num_operands() + results[j];
        line("p{}[{}] = v{};", a, index(a), roots[j]);
      }
    });
    close_block();
  }
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
