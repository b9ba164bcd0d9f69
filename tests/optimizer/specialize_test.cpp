// The specialize pass: products with their scale and addend become gemm, products sharing
// their left operand one product. Each rule as printed (after canonicalize, as the pipeline
// runs it) with its values kept; where it must not fire; compiled programs (BLAS reads a
// transposed operand in place, an MLP step trains the same); a user's shape mistake in a
// specialized product still names the user's line.
#include "pass_helpers.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::check_same_values;
using cgvm::test::formula;
using cgvm::test::pass;

namespace {

const std::string file_name = cgvm::test::this_file();

// `outputs` as the pipeline hands them to specialize (canonical first), specialized.
std::vector<Var> specialized(const std::vector<Var>& outputs, RewriteStats* stats = nullptr) {
  return run_pass("specialize", run_pass("canonicalize", outputs), stats);
}
Var specialized(const Var& v, RewriteStats* stats = nullptr) {
  return specialized(std::vector<Var>{v}, stats)[0];
}

void check_cases(const std::vector<test::Case>& cases, const Bindings& bindings) {
  test::check_cases(cases, bindings, [](const Var& v) { return specialized(v); });
}

// The distinct nodes of op `name` in the graph of `outputs`.
int count_nodes(const std::vector<Var>& outputs, std::string_view name) {
  int n = 0;
  for (const Node* node : topo_sort(outputs)) n += node->op().name == name;
  return n;
}

// The same graph compiled, and run by the interpreter as written.
void check_compiled(const std::vector<Var>& inputs, const Var& out,
                    const std::vector<Value>& values) {
  Function compiled = function(inputs, {out});
  Function reference = function(inputs, {out}, {.mode = Mode::Interpret});
  Array got = compiled(values), want = reference(values);
  CHECK(got.shape() == want.shape());
  CHECK(allclose(got, want, 1e-5, 1e-5));
}

}  // namespace

TEST_CASE("specialize: dot + c -> gemm for every shape of c, on either side") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b"), r = row("r"), k = col("k");
  Var m = matrix("m"), s = scalar("s");
  Bindings binds{{x, Array::uniform(1, {3, 4}, -1, 1)}, {w, Array::uniform(2, {4, 5}, -1, 1)},
                 {b, Array::uniform(3, {5}, -1, 1)},    {r, Array::uniform(4, {1, 5}, -1, 1)},
                 {k, Array::uniform(5, {3, 1}, -1, 1)}, {m, Array::uniform(6, {3, 5}, -1, 1)},
                 {s, Array::scalar(0.5f)}};
  check_cases({{"bias row [n]", dot(x, w) + b, "gemm{alpha=1, beta=1}(x, w, b)"},
               {"the addend first", b + dot(x, w), "gemm{alpha=1, beta=1}(x, w, b)"},
               {"bias row [1, n]", dot(x, w) + r, "gemm{alpha=1, beta=1}(x, w, r)"},
               {"column [m, 1]", k + dot(x, w), "gemm{alpha=1, beta=1}(x, w, k)"},
               {"full matrix", dot(x, w) + m, "gemm{alpha=1, beta=1}(x, w, m)"},
               {"scalar", dot(x, w) + s, "gemm{alpha=1, beta=1}(x, w, s)"},
               {"an expression as the addend", dot(x, w) + exp(b),
                "gemm{alpha=1, beta=1}(x, w, exp(b))"}},
              binds);
}

TEST_CASE("specialize: scales and subtractions become alpha and beta") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b");
  Bindings binds{{x, Array::uniform(1, {3, 4}, -1, 1)}, {w, Array::uniform(2, {4, 5}, -1, 1)},
                 {b, Array::uniform(3, {5}, -1, 1)}};
  check_cases({{"k*dot", 2 * dot(x, w), "gemm{alpha=2, beta=0}(x, w, 0)"},
               {"dot*k", dot(x, w) * 0.5, "gemm{alpha=0.5, beta=0}(x, w, 0)"},
               {"-dot", -dot(x, w), "gemm{alpha=-1, beta=0}(x, w, 0)"},
               {"k*dot + c", 3 * dot(x, w) + b, "gemm{alpha=3, beta=1}(x, w, b)"},
               {"c + dot*k", b + dot(x, w) * 3, "gemm{alpha=3, beta=1}(x, w, b)"},
               {"dot - c", dot(x, w) - b, "gemm{alpha=1, beta=-1}(x, w, b)"},
               {"c - dot", b - dot(x, w), "gemm{alpha=-1, beta=1}(x, w, b)"},
               {"c - k*dot", b - 0.25 * dot(x, w), "gemm{alpha=-0.25, beta=1}(x, w, b)"},
               {"k*dot - c", dot(x, w) * 4 - b, "gemm{alpha=4, beta=-1}(x, w, b)"},
               {"c + -dot", b + -dot(x, w), "gemm{alpha=-1, beta=1}(x, w, b)"},
               {"a scale of shape [1, 1]", dot(x, w) * constant(Array::full({1, 1}, 2)),
                "gemm{alpha=2, beta=0}(x, w, 0)"}},
              binds);
  // The rule names the compile report counts by.
  RewriteStats stats;
  specialized(b - 2 * dot(x, w), &stats);
  CHECK(stats.fired.at("c - dot(a,b) -> gemm") == 1);
  CHECK(stats.fired.count("k*dot(a,b) -> gemm") == 0);  // the sub took the scale
}

TEST_CASE("specialize: transposed operands stay views inside the gemm") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b");
  Bindings binds{{x, Array::uniform(1, {4, 3}, -1, 1)}, {w, Array::uniform(2, {5, 4}, -1, 1)},
                 {b, Array::uniform(3, {5}, -1, 1)}};
  check_cases({{"x^T @ w^T + b", dot(x.T(), w.T()) + b,
                "gemm{alpha=1, beta=1}(dimshuffle{pattern=[1, 0]}(x), "
                "dimshuffle{pattern=[1, 0]}(w), b)"}},
              binds);
}

TEST_CASE("specialize: where it must not fire") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b"), s = scalar("s");
  Var t = tensor3("t");
  Var xi = matrix("xi", int32), wi = matrix("wi", int32), bi = vector("bi", int32);
  Var one_row = tensor("one_row", float32, {1, unknown_dim});
  Var tall = tensor("tall", float32, {5, unknown_dim});
  auto unchanged = [](const Var& v) {
    Var canonical = pass("canonicalize", v);
    CHECK(formula(pass("specialize", canonical)) == formula(canonical));
  };
  // integer products stay exact loops
  unchanged(dot(xi, wi) + bi);
  unchanged(dot(xi, wi) * 2);
  // a batch of products (rank 3)
  unchanged(matmul(t, w) + b);
  unchanged(dot(t, w) * 2);
  // matrix @ vector stays matmul (its eval calls gemv)
  unchanged(dot(x, b) + vector("c"));
  // an addend that would make the result larger: [1, n] + [5, n], or a rank-3 addend
  unchanged(dot(one_row, w) + tall);
  unchanged(dot(x, w) + t);
  unchanged(dot(one_row, w) + col("k"));
  // a scale that is not a constant, or not one number
  unchanged(s * dot(x, w) + b);
  unchanged(dot(x, w) * constant(Array::from_list<float>({1, 2, 3})));
  // a division by a constant is not a scale the rules read
  CHECK(formula(specialized(dot(x, w) / s)) == "true_div(matmul(x, w), s)");
}

TEST_CASE("specialize: one addend per gemm, one product computed once") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b"), c = vector("c");
  Bindings binds{{x, Array::uniform(1, {3, 4}, -1, 1)}, {w, Array::uniform(2, {4, 5}, -1, 1)},
                 {b, Array::uniform(3, {5}, -1, 1)},    {c, Array::uniform(4, {5}, -1, 1)}};
  // The canonical chain (b + c) + dot: the product takes the rest of the chain as addend.
  Var three = dot(x, w) + b + c;
  Var after = specialized(three);
  CHECK(formula(after) == "gemm{alpha=1, beta=1}(x, w, add(b, c))");
  check_same_values(three, after, binds);
  // gemm(a, b, c) + d keeps the add: a gemm has one addend.
  Var g = gemm(x, w, b) + c;
  CHECK(specialized(g).same(pass("canonicalize", g)));
  // A product that other nodes also read is not folded into any of them.
  Var h = dot(x, w);
  std::vector<Var> outs = specialized(std::vector<Var>{h + b, h * 2});
  CHECK(formula(outs[0]) == "add(b, matmul(x, w))");
  CHECK(formula(outs[1]) == "mul(2, matmul(x, w))");
  outs = specialized(std::vector<Var>{h, h + b});
  CHECK(formula(outs[1]) == "add(b, matmul(x, w))");
  // ... nor a scale that other nodes read: the scale alone becomes the gemm
  Var scaled = 2 * h;
  outs = specialized(std::vector<Var>{scaled + b, scaled});
  CHECK(formula(outs[0]) == "add(b, gemm{alpha=2, beta=0}(x, w, 0))");
  CHECK(outs[1].same(outs[0].node()->input(1)));
}

TEST_CASE("specialize: a transposed operand is read by BLAS in place, not copied") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b");
  Var y = dot(x, w.T()) + b;
  Function f = function({x, w, b}, {y});
  const std::string program = f.program();
  INFO(program);
  CHECK(program.find("eval gemm") != std::string::npos);
  CHECK(program.find("eval dimshuffle") != std::string::npos);  // a view
  CHECK(f.compile_report().kernels == 0);                       // no copy, no add
  check_compiled({x, w, b}, y,
                 {Array::uniform(1, {3, 4}, -1, 1), Array::uniform(2, {5, 4}, -1, 1),
                  Array::uniform(3, {5}, -1, 1)});
  // matrix @ vector, both ways round, compiled (gemv)
  Var v = vector("v");
  check_compiled({x, v}, dot(x, v) * 2 + 1,
                 {Array::uniform(4, {3, 4}, -1, 1), Array::uniform(5, {4}, -1, 1)});
  check_compiled({x, v}, dot(v, x.T()), {Array::uniform(6, {3, 4}, -1, 1),
                                          Array::uniform(7, {4}, -1, 1)});
}

TEST_CASE("specialize: an MLP training step runs on gemms and trains the same") {
  // Two layers, tanh, squared error, SGD: the forward dot + bias and the SGD step
  // w - lr * (h^T @ g) both become gemms. Static sizes: the mean's count is a constant.
  // (With an unknown batch it is shape_of(h - target), which canonicalize follows back to
  // shape_of of the last product: that product then has two readers and stays a matmul.)
  auto build = [](std::vector<SharedVar>& params) {
    Var x = tensor("x", float32, {5, 6}), target = tensor("target", float32, {5, 8});
    Var h = x;
    for (int i = 0; i < 2; ++i) {
      params.push_back(shared(Array::uniform(10 + i, {i == 0 ? 6 : 8, 8}, -0.5, 0.5), "w"));
      params.push_back(shared(Array::uniform(20 + i, {8}, -0.5, 0.5), "b"));
      h = tanh(dot(h, params[2 * i]) + params[2 * i + 1]);
    }
    Var loss = sqr(h - target).mean();
    std::vector<Var> wrt(params.begin(), params.end());
    std::vector<Var> grads = grad(loss, wrt);
    Replacements updates;
    for (std::size_t i = 0; i < params.size(); ++i)
      updates.emplace_back(params[i], params[i] - 0.1f * grads[i]);
    return std::tuple{x, target, loss, updates};
  };
  std::vector<SharedVar> p1, p2;
  auto [x1, t1, loss1, u1] = build(p1);
  auto [x2, t2, loss2, u2] = build(p2);
  Function compiled = function({x1, t1}, {loss1}, {.updates = u1});
  Function reference = function({x2, t2}, {loss2}, {.updates = u2, .mode = Mode::Interpret});
  const std::string program = compiled.program();
  INFO(program);
  std::size_t gemms = 0;
  for (std::size_t at = program.find("eval gemm"); at != std::string::npos;
       at = program.find("eval gemm", at + 1))
    ++gemms;
  CHECK(gemms >= 4);  // two forward layers, two weight updates
  Array x = Array::uniform(30, {5, 6}, -1, 1), target = Array::uniform(31, {5, 8}, -1, 1);
  for (int step = 0; step < 3; ++step) {
    Array got = compiled(x, target), want = reference(x, target);
    CHECK(allclose(got, want, 1e-5, 1e-6));
  }
  for (std::size_t i = 0; i < p1.size(); ++i)
    CHECK(allclose(p1[i].get_value(), p2[i].get_value(), 1e-5, 1e-6));
}

TEST_CASE("specialize: a mismatch of a specialized product names the user's line") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b");
  const int line = __LINE__ + 1;
  Var h = dot(x, w);
  Var y = h + b;
  Function f = function({x, w, b}, {y});
  REQUIRE(f.program().find("eval gemm") != std::string::npos);
  CHECK_ERROR(f(Array::zeros({2, 3}), Array::zeros({4, 5}), Array::zeros({5})),
              {"inner dimensions do not match: float32[2, 3] @ float32[4, 5]",
               fmt::format("{}:{}", file_name, line)});
  // and a bias of the wrong length, at the same line
  CHECK_ERROR(f(Array::zeros({2, 3}), Array::zeros({3, 5}), Array::zeros({4})),
              {"float32[4]", "[2, 5]", fmt::format("{}:{}", file_name, line)});
}

TEST_CASE("specialize: runs in the pipeline after canonicalize, before fusion") {
  Var x = matrix("x"), w = matrix("w"), b = vector("b");
  OptimizedGraph g = optimize({tanh(dot(x, w) * 1 + b)}, {.check = true});
  std::vector<std::string> names;
  for (const PassReport& p : g.passes) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"scan_loops", "ifelse_branches", "canonicalize",
                                          "stabilize", "canonicalize", "specialize",
                                          "fuse_kernels"});
  CHECK(g.passes[5].stats.fired.at("dot(a,b) + c -> gemm") == 1);
  CHECK(formula(g.outputs[0]) == "tanh(gemm{alpha=1, beta=1}(x, w, b))");
}

TEST_CASE("specialize: products that share their left operand become one product") {
  // An LSTM cell's four gate products of one input, weights side by side in one product.
  Var x = matrix("x"), c = matrix("c");
  std::vector<Var> w;
  for (int i = 0; i < 4; ++i) w.push_back(tensor(fmt::format("w{}", i), float32, {6, 5}));
  Var i_gate = sigmoid(dot(x, w[0])), f_gate = sigmoid(dot(x, w[1]));
  Var o_gate = sigmoid(dot(x, w[2])), cell = tanh(dot(x, w[3]));
  Var c_next = f_gate * c + i_gate * cell;
  Var h_next = o_gate * tanh(c_next);
  Bindings binds{{x, Array::uniform(1, {3, 6}, -1, 1)}, {c, Array::uniform(2, {3, 5}, -1, 1)}};
  for (int i = 0; i < 4; ++i) binds.emplace_back(w[i], Array::uniform(40 + i, {6, 5}, -1, 1));
  std::vector<Var> before{h_next, c_next};
  std::vector<Var> after = specialized(before);
  CHECK(count_nodes(before, "matmul") == 4);
  CHECK(count_nodes(after, "matmul") == 1);
  CHECK(count_nodes(after, "concatenate") == 1);
  for (int k = 0; k < 2; ++k) check_same_values(before[k], after[k], binds);
  // Two products, printed: each is a column range of the joined product (slices [:, 0:5]
  // and [:, 5:10]; the minimum int64 is an omitted bound).
  Var two = dot(x, w[0]) - dot(x, w[1]);
  const std::string joined = "(matmul(x, concatenate{axis=1}(w0, w1)))";
  const std::string all_rows = "subtensor{kinds=[1, 1], values=[-9223372036854775808, "
                               "-9223372036854775808, 1, ";
  CHECK(formula(specialized(two)) ==
        "sub(" + all_rows + "0, 5, 1]}" + joined + ", " + all_rows + "5, 10, 1]}" + joined + ")");
  check_same_values(two, specialized(two), binds);
  // Compiled: one product in the program, and the same values as the interpreter.
  std::vector<Var> inputs{x, c, w[0], w[1], w[2], w[3]};
  Function f = function(inputs, {h_next, c_next});
  const std::string program = f.program();
  INFO(program);
  CHECK(program.find("eval matmul") == program.rfind("eval matmul"));
  Function reference = function(inputs, {h_next, c_next}, {.mode = Mode::Interpret});
  std::vector<Value> values;
  for (const auto& [var, value] : binds) values.emplace_back(value);
  Outputs got = f(values), want = reference(values);
  for (int k = 0; k < 2; ++k) CHECK(allclose(got[k], want[k], 1e-5, 1e-6));
  // Constant weights are joined once, when the function is built.
  Var k0 = constant(Array::uniform(50, {6, 5}, -1, 1));
  Var k1 = constant(Array::uniform(51, {6, 2}, -1, 1));
  std::vector<Var> consts = specialized(std::vector<Var>{dot(x, k0), dot(x, k1)});
  CHECK(count_nodes(consts, "concatenate") == 0);
  CHECK(formula(consts[0]).find("matmul(x, const<float32[6, 7]>)") != std::string::npos);
  // A left operand the pass itself rewrote (a layer's gemm) still merges its readers: a
  // second layer over h.
  Var b0 = tensor("b0", float32, {6});
  Var h = tanh(dot(x, tensor("w_in", float32, {6, 6})) + b0);
  std::vector<Var> layer{dot(h, w[0]), dot(h, w[1])};
  std::vector<Var> merged = specialized(layer);
  CHECK(count_nodes(merged, "gemm") == 1);
  CHECK(count_nodes(merged, "matmul") == 1);
  CHECK(count_nodes(merged, "concatenate") == 1);
}

TEST_CASE("specialize: products that must not merge") {
  Var x = matrix("x");
  Var w0 = tensor("w0", float32, {6, 5}), w1 = tensor("w1", float32, {6, 5});
  auto merges = [](const std::vector<Var>& outputs) {
    return count_nodes(specialized(outputs), "concatenate") > 0;
  };
  CHECK(merges({dot(x, w0), dot(x, w1)}));
  // a single product
  CHECK_FALSE(merges({dot(x, w0) * 2}));
  // weights of unknown size (shared variables' sizes may change), or computed (they could
  // be rewritten under the merge)
  CHECK_FALSE(merges({dot(x, w0), dot(x, matrix("u"))}));
  SharedVar s0 = shared(Array::zeros({6, 5}), "s0"), s1 = shared(Array::zeros({6, 5}), "s1");
  CHECK_FALSE(merges({dot(x, s0), dot(x, s1)}));
  CHECK_FALSE(merges({dot(x, w0), dot(x, exp(w1))}));
  // a shared right operand (the merge joins weights by columns, for one left operand)
  Var a0 = tensor("a0", float32, {3, 6}), a1 = tensor("a1", float32, {3, 6});
  CHECK_FALSE(merges({dot(a0, w0), dot(a1, w0)}));
  // one row: matrix @ vector products read their weights once; joining them copies them again
  Var one_row = tensor("one_row", float32, {1, unknown_dim});
  CHECK_FALSE(merges({dot(one_row, w0), dot(one_row, w1)}));
}

TEST_CASE("specialize: a product with inner size 1 is the broadcast outer product") {
  Var col = tensor("col", DType::Float32, {unknown_dim, 1});
  Var row = tensor("row", DType::Float32, {1, unknown_dim});
  Bindings binds{{col, Array::from_list<float>({1, 2, 3}, {3, 1})},
                 {row, Array::from_list<float>({4, 5}, {1, 2})}};
  check_cases({{"column @ row", dot(col, row), "mul(col, row)"}}, binds);
  // compiled, it fuses with its reader: one kernel, no product step
  Function f = function({col, row}, {tanh(dot(col, row))});
  const std::string program = f.program();
  INFO(program);
  CHECK(program.find("matmul") == std::string::npos);
  CHECK(program.find("gemm") == std::string::npos);
  CHECK(f.compile_report().kernels == 1);
  CHECK(allclose(f(binds[0].second, binds[1].second), evaluate(tanh(dot(col, row)), binds)));
  // an unknown inner size stays a product
  Var a = matrix("a"), b = matrix("b");
  CHECK(formula(specialized(dot(a, b))) == "matmul(a, b)");
}
