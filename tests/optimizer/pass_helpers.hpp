#pragma once
// Helpers for optimizer pass tests: a one-line printed form of a graph, and the check that a
// rewrite kept every value (both graphs through the reference interpreter).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cgvm.hpp"
#include "optimizer/pipeline.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/op_def.hpp"

namespace cgvm::test {

// "add(mul(x, 2), y)": inputs and shared variables by name, scalar constants by value,
// other constants as const<float32[3]>, ops with their attributes in braces.
inline std::string formula(const Var& v) {
  const Node& n = *v.node();
  if (is_input(v) || is_shared(v)) return v.name();
  if (const Array* a = constant_value(v))
    return a->rank() == 0 ? fmt::format("{}", a->item<double>())
                          : fmt::format("const<{}>", TensorType{a->dtype(), a->shape()}.str());
  std::vector<std::string> args;
  for (const Var& in : n.inputs()) args.push_back(formula(in));
  std::string attrs = n.attrs().empty() ? "" : "{" + n.attrs().str() + "}";
  std::string out = v.index() ? fmt::format(".{}", v.index()) : "";
  return fmt::format("{}{}({}){}", n.op().name, attrs, fmt::join(args, ", "), out);
}

// Runs one pass on one output.
inline Var pass(std::string_view name, const Var& v, RewriteStats* stats = nullptr) {
  return run_pass(name, {v}, stats)[0];
}

// Both graphs give the same values (float tolerance) on the same inputs.
inline void check_same_values(const Var& before, const Var& after, const Bindings& bindings,
                              double rtol = 1e-5, double atol = 1e-6) {
  Array a = evaluate(before, bindings), b = evaluate(after, bindings);
  INFO("before: " << formula(before) << "\nafter:  " << formula(after));
  CHECK(a.shape() == b.shape());
  CHECK(a.dtype() == b.dtype());
  CHECK(allclose(a.astype(DType::Float64), b.astype(DType::Float64), rtol, atol));
}

// One rewrite case: what it shows, the graph before, the printed graph expected after.
struct Case {
  const char* what;
  Var before;
  std::string expected;
};

// Each case through `rewrite`: the printed result as expected, and the values kept.
inline void check_cases(const std::vector<Case>& cases, const Bindings& bindings,
                        const std::function<Var(const Var&)>& rewrite) {
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Var after = rewrite(c.before);
    CHECK(formula(after) == c.expected);
    check_same_values(c.before, after, bindings);
  }
}
inline void check_cases(const std::vector<Case>& cases, const Bindings& bindings,
                        std::string_view pass_name) {
  check_cases(cases, bindings, [&](const Var& v) { return pass(pass_name, v); });
}

}  // namespace cgvm::test
