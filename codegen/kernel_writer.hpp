#pragma once
// What the C++ and the CUDA emitters share when they write one loop kernel as text: the
// names of values, the expression of each node (from its op's `emit`), which nodes run
// once per outer point and which per inner point, and the order they come in. The
// emitters (emit_cpp.cpp, emit_cuda.cpp) derive from KernelWriter and write only the
// loops, the signature and the reductions, which is where CPU and GPU differ.
//
// Names in the generated body: node i's value is `v<i>`; operand a is `p<a>` (its pointer),
// `o<a>` when read once per outer point and `x<a>` when read per inner point; dim d's
// extent is `n<d>` and its index `i<d>`; arg a's stride along dim d is `s<a>_<d>`; `b<a>`
// is arg a's offset at the current outer point.
#include <fmt/format.h>

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codegen/program.hpp"
#include "symbolic/op_def.hpp"

namespace cgvm {

// The C++ type generated code uses for `dtype` ("float", "long long", ...); CUDA C++ too.
std::string_view cpp_type(DType dtype);

class KernelWriter {
 public:
  KernelWriter(const Program& program, const LoopKernel& kernel);
  virtual ~KernelWriter() = default;

 protected:
  // Arg a's index expression at the current inner point.
  using IndexFn = std::function<std::string(int arg)>;

  template <class... A>
  void line(fmt::format_string<A...> f, A&&... args) {
    out_ += std::string(2 * depth_, ' ') + fmt::format(f, std::forward<A>(args)...) + "\n";
  }
  void open_block(const std::string& head);  // `head {` and one level deeper
  void close_block();
  void close_all();

  int num_operands() const { return static_cast<int>(k_.operands.size()); }
  // Operands first, then results.
  const KernelArg& arg(int a) const;
  bool is_result(int a) const { return a >= num_operands(); }
  std::string_view arg_type(int a) const;
  std::string_view node_type(int i) const;
  static bool walks(const std::vector<int>& dims, int d);
  // Walks an inner dim: read or written once per inner point.
  bool is_full(const std::vector<int>& dims) const;
  // Computed per inner point, as opposed to once per outer point (reductions: their pass).
  bool node_full(int i) const;
  bool is_reduction(int i) const { return static_cast<bool>(k_.nodes[i]->op().emit_reduce); }
  // The kernel node that writes result r.
  int result_node(int r) const { return index_.at(k_.results[r].reader); }

  // `const long long n<d> = ...` per dim: a literal where the size is static, else `size`.
  void declare_sizes(const std::function<std::string(int dim)>& runtime_size);
  // `b<a> = <first> + i<d> * s<a>_<d>` over `dims`; no term for dims arg a does not walk.
  std::string offset_expr(int a, const std::string& first, const std::vector<int>& dims) const;
  // The outer-level loads `const T o<a> = p<a>[b<a>];`, once per outer point.
  void load_outer_operands();

  std::string input_expr(int node, int input) const;
  std::string node_expr(int i) const;
  // Emits node i at the outer level, after what it needs, unless emitted already.
  // Reductions are emitted by their pass, which runs before anything that reads them.
  void ensure_outer(int i);
  // The inner-level nodes that `roots` need, in topological order; their outer-level
  // inputs are emitted (ensure_outer) on the way.
  std::vector<int> full_closure(const std::vector<int>& roots);
  // At one inner point: the loads of the operands `nodes` read and the nodes themselves.
  void emit_points(const std::vector<int>& nodes, const IndexFn& index);
  // Defines reduction r's value `v<r>` from its accumulator: NaN where one was seen (`nan`,
  // for ops that track it), the accumulator otherwise.
  void define_reduction(int r, const ReduceEmit& e, const std::string& acc, const std::string& nan);
  // Reduction node r's step `acc = step(acc, x)` as text.
  static std::string reduce_step(const ReduceEmit& e, const std::string& acc, const std::string& x);

  // The results that walk an inner dim (stored per inner point), and the others.
  std::vector<int> full_results() const;
  std::vector<int> outer_results() const;

  const Program& p_;
  const LoopKernel& k_;
  int num_args_ = 0;
  int depth_ = 0;
  std::string out_;

 private:
  std::unordered_map<const Node*, int> index_;
  std::set<int> emitted_;
};

}  // namespace cgvm
