// Fusion and the buffer plan, read off the printed Program (codegen/program.hpp), with the
// values checked too.
#include <filesystem>
#include <string>

#include "cgvm.hpp"
#include "runtime/allocator.hpp"
#include "runtime/options.hpp"
#include "symbolic/op_list.hpp"
#include "support.hpp"

using namespace cgvm;
using test::this_file;

namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("fusion: a chain of ten elementwise ops with broadcasting is one kernel") {
  Var x = matrix("x");
  Var b = vector("b");
  Var y = x;
  for (int i = 0; i < 5; ++i) y = tanh(y + b);  // add, tanh: ten ops
  auto f = function({x, b}, {y});
  INFO(f.program());
  CHECK(count(f.program(), "kernel ") == 1);
  CHECK(count(f.program(), "add") == 5);
  CHECK(count(f.program(), "tanh") == 5);
  CHECK(count(f.program(), "eval ") == 0);
  CHECK(f.compile_report().kernels == 1);
  Array xv = Array::normal(1, {3, 70}), bv = Array::normal(2, {70});
  auto g = function({x, b}, {y}, {.mode = Mode::Interpret});
  CHECK(allclose(f(xv, bv), g(xv, bv), 1e-5, 1e-6));
}

TEST_CASE("fusion: softmax over rows is one kernel of three passes") {
  Var x = matrix("x");
  auto f = function({x}, {softmax(x, 1)});
  INFO(f.program());
  CHECK(count(f.program(), "kernel ") == 1);
  CHECK(count(f.program(), "reduce outer[d0] inner[d1]") == 1);
  CHECK(count(f.source(), "acc") > 0);
  Array xv = Array::normal(3, {5, 33});
  Array p = f(xv);
  auto g = function({x}, {softmax(x, 1)}, {.mode = Mode::Interpret});
  CHECK(allclose(p, g(xv), 1e-5, 1e-7));
}

TEST_CASE("fusion: a transpose is index arithmetic, and x + x.T reads x twice") {
  Var x = matrix("x");
  auto f = function({x}, {x + x.T()});
  INFO(f.program());
  CHECK(count(f.program(), "kernel ") == 1);
  CHECK(count(f.program(), "v0[d0,d1]") == 1);
  CHECK(count(f.program(), "v0[d1,d0]") == 1);
  Array xv = Array::normal(4, {6, 6});
  Array fx = f(xv);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) CHECK(fx.at<float>({i, j}) == xv.at<float>({i, j}) + xv.at<float>({j, i}));
  // A computed value read transposed against itself cannot be one kernel.
  Var a = exp(x);
  auto h = function({x}, {a + a.T()});
  INFO(h.program());
  CHECK(count(h.program(), "kernel ") == 2);
  auto hi = function({x}, {a + a.T()}, {.mode = Mode::Interpret});
  CHECK(allclose(h(xv), hi(xv), 1e-5));
}

TEST_CASE("fusion: does not fuse what it must not") {
  Var x = matrix("x");
  Var w = matrix("w");
  // Reductions over different dims: two kernels.
  auto f = function({x}, {x.sum(1).sum()});
  INFO(f.program());
  CHECK(count(f.program(), "kernel ") == 2);
  // A product alone is a BLAS call; no kernel, nothing compiled.
  auto g = function({x, w}, {dot(x, w)});
  CHECK(count(g.program(), "kernel ") == 0);
  CHECK(count(g.program(), "eval matmul") == 1);
  CHECK(g.source().empty() == false);
  // A value used by two kernels is computed once, by its own kernel.
  Var e = exp(x);
  auto h = function({x, w}, {dot(e, w), e.sum(0)});
  INFO(h.program());
  CHECK(count(h.program(), "kernel ") == 2);
  Array xv = Array::normal(5, {3, 4}), wv = Array::normal(6, {4, 2});
  auto hi = function({x, w}, {dot(e, w), e.sum(0)}, {.mode = Mode::Interpret});
  Outputs got = h(xv, wv), want = hi(xv, wv);
  CHECK(allclose(got[0], want[0], 1e-5));
  CHECK(allclose(got[1], want[1], 1e-5));
}

TEST_CASE("buffer plan: intermediates share slots, work in place, and stop allocating") {
  Var x = matrix("x");
  Var w = matrix("w");
  // exp(x) and the relu are kernel results that only feed products: slots.
  Var h = relu(dot(exp(x), w));
  Var out = dot(h, w.T()).sum();
  auto f = function({x, w}, {out});
  INFO(f.program());
  CHECK(count(f.program(), "(slot 0)") >= 1);
  Array xv = Array::normal(7, {64, 64}), wv = Array::normal(8, {64, 64});
  auto g = function({x, w}, {out}, {.mode = Mode::Interpret});
  CHECK(allclose(f(xv, wv), g(xv, wv), 1e-4));
  f(xv, wv);
  AllocatorStats before = Allocator::global().stats();
  for (int i = 0; i < 5; ++i) f(xv, wv);
  AllocatorStats after = Allocator::global().stats();
  // Every allocation of the steady state (outputs, BLAS results) is served from the cache.
  CHECK(after.allocations - before.allocations == after.cache_hits - before.cache_hits);
}

TEST_CASE("buffer plan: an operand that dies is overwritten in place") {
  Var x = matrix("x");
  Var w = matrix("w");
  Var a = exp(dot(x, w));   // a kernel result, kept in a slot
  Var m = dot(a, w);        // reads a first
  Var c = a * m;            // a's last reader: c can take over a's slot (a * m: not a gemm)
  auto f = function({x, w}, {dot(c, w)});
  std::string p = f.program();
  INFO(p);
  // Without the in-place rule c would need a second slot while a is still live.
  CHECK(count(p, "(slot 0)[d0,d1]") == 2);
  CHECK(count(p, "(slot 1)") == 0);
  Array xv = Array::normal(9, {8, 8}, 0, 0.3), wv = Array::normal(10, {8, 8}, 0, 0.3);
  auto g = function({x, w}, {dot(c, w)}, {.mode = Mode::Interpret});
  CHECK(allclose(f(xv, wv), g(xv, wv), 1e-5));
}

TEST_CASE("compiled: run-time shape errors name the op and the user's line") {
  Var a = vector("a");
  Var b = vector("b");
  auto f = function({a, b}, {a * 2 + b});
  std::string line = this_file() + ":" + std::to_string(__LINE__ - 1);
  CHECK_ERROR(f(Array::ones({3}), Array::ones({4})), {"add", "float32[3]", "float32[4]", line});
  Var x = matrix("x");
  auto g = function({x}, {x.max(1)});
  CHECK_ERROR(g(Array::ones({2, 0})), {"max", "empty", this_file()});
}

TEST_CASE("debug mode: a kernel that differs from the interpreter is named with its line") {
  // An op whose generated code deliberately disagrees with its reference implementation.
  static const OpDef liar = [] {
    OpDef def = ops::exp_op();
    def.name = "liar";
    def.emit = [](const EmitArgs& a) { return "(" + a[0] + " + 1.0f)"; };
    return def;
  }();
  Var x = vector("x");
  auto here = std::source_location::current();
  Var y = apply(liar, {x}, {}, here) * 2;
  auto f = function({x}, {y}, {.mode = Mode::Debug});
  CHECK_ERROR(f(Array::ones({4})),
              {"debug mode", "differs from the interpreter",
               this_file() + ":" + std::to_string(here.line()) + ", mul at"});
  auto ok = function({x}, {exp(x) * 2}, {.mode = Mode::Debug});
  CHECK(allclose(ok(Array::ones({4})), Array::full({4}, 2 * std::exp(1.0)), 1e-6));
}

TEST_CASE("CGVM_DUMP: the graph after each pass, the program and the source") {
  std::string dir = test::temp_dir();
  std::string saved = options().dump_dir;
  options().dump_dir = dir;
  Var x = vector("x");
  auto f = function({x}, {tanh(x) * 2}, {.name = "dumped"});
  options().dump_dir = saved;
  for (const char* file : {"dumped.00-input.txt", "dumped.01-scan_loops.txt",
                           "dumped.02-ifelse_branches.txt", "dumped.03-canonicalize.txt",
                           "dumped.04-stabilize.txt", "dumped.05-canonicalize.txt",
                           "dumped.06-specialize.txt", "dumped.07-fuse_kernels.txt",
                           "dumped.program.txt", "dumped.source.cpp"})
    CHECK(std::filesystem::exists(std::filesystem::path(dir) / file));
}

TEST_CASE("compile report: stages, and a second identical function hits the cache") {
  Var x = vector("x");
  auto f = function({x}, {sigmoid(x) * x});
  const FunctionReport& r = f.compile_report();
  CHECK(r.kernels == 1);
  CHECK(r.total_ms >= r.jit.total_ms);
  auto g = function({x}, {sigmoid(x) * x});
  CHECK(g.compile_report().jit.memory_hit);
  CHECK(g.compile_report().to_string().find("memory hit") != std::string::npos);
}

TEST_CASE("fusion: why_not_fused names where each value runs and why it did not join") {
  Var x = matrix("x"), w = matrix("w");
  Var h = exp(x);
  Var scaled = h * 2;
  Var product = dot(scaled, w);
  auto f = function({x, w}, {tanh(product)});
  CHECK(f.why_not_fused(h, scaled).starts_with("fused: exp at"));
  const std::string apart = f.why_not_fused(scaled, product);
  INFO(apart);
  CHECK(apart.find("mul at ") != std::string::npos);
  CHECK(apart.find(test::this_file() + ":") != std::string::npos);
  CHECK(apart.find("it is read by matmul at") != std::string::npos);
  CHECK(apart.find("runs as its own step: matmul is not a loop op") != std::string::npos);

  // readers in two kernels: exp feeds a transposed add and two reductions over other axes
  Var t = exp(x);
  Var both = t + t.T();
  auto g = function({x}, {both, sum(t, {0}), sum(t, {1})});
  const std::string split = g.why_not_fused(t, both);
  INFO(split);
  CHECK(split.find("its readers are in different kernels") != std::string::npos);

  // one reduction kernel cannot take a reduction over other axes
  Var rows = sum(exp(x), {1}, true);
  Var all = sum(x * rows);
  auto k = function({x}, {all});
  const std::string reduce = k.why_not_fused(rows, all);
  INFO(reduce);
  CHECK(reduce.find("its reduction and the kernel's reduce different axes") != std::string::npos);

  // values the function does not have
  CHECK_ERROR(f.why_not_fused(h, x * 3), {"is not part of function"});
  Var gone = x * 1;  // rewritten to x
  auto r = function({x}, {exp(gone)});
  CHECK_ERROR(r.why_not_fused(gone, x), {"mul at", "a rewrite replaced it"});
  auto interpreted = function({x}, {exp(x)}, {.mode = Mode::Interpret});
  CHECK_ERROR(interpreted.why_not_fused(x, x), {"interpret mode"});
}
