#include "optimizer/pipeline.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "optimizer/fold_constants.hpp"
#include "optimizer/ifelse_branches.hpp"
#include "optimizer/join_slice_updates.hpp"
#include "optimizer/scan_loops.hpp"
#include "optimizer/simplify_algebra.hpp"
#include "optimizer/simplify_products.hpp"
#include "optimizer/simplify_shapes.hpp"
#include "optimizer/specialize.hpp"
#include "optimizer/stabilize.hpp"
#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/print.hpp"

namespace cgvm {

void write_dump(const std::string& dir, const std::string& name, const std::string& file,
                const std::string& text) {
  static bool warned = false;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::ofstream out(std::filesystem::path(dir) / fmt::format("{}.{}", name.empty() ? "function" : name, file));
  out << text;
  if (!out && !warned) {
    warned = true;
    warn(fmt::format("CGVM_DUMP: cannot write to '{}'; dumps are skipped", dir));
  }
}

namespace {

#ifdef NDEBUG
constexpr bool kDebugBuild = false;
#else
constexpr bool kDebugBuild = true;
#endif

const RuleSet& canonicalize_rules() {
  static const RuleSet set = RuleSet(fold_constants_rules())
                                 .add(simplify_algebra_rules())
                                 .add(simplify_products_rules())
                                 .add(simplify_shapes_rules())
                                 .add(join_slice_updates_rules());
  return set;
}

const RuleSet& stabilize_rule_set() {
  static const RuleSet set(stabilize_rules());
  return set;
}

// With folding, for what specialize builds from constants (a horizontal merge's weights).
const RuleSet& specialize_rule_set() {
  static const RuleSet set = RuleSet(specialize_rules()).add(fold_constants_rules());
  return set;
}

const RuleSet& rules_of(std::string_view pass) {
  if (pass == "canonicalize") return canonicalize_rules();
  if (pass == "stabilize") return stabilize_rule_set();
  if (pass == "specialize") return specialize_rule_set();
  throw InternalError(fmt::format("no optimizer pass named '{}'", pass));
}

// A pass must give one output per output, each fitting the one it replaces.
void check_outputs(std::string_view pass, const std::vector<Var>& before,
                   const std::vector<Var>& after) {
  CGVM_ASSERT(before.size() == after.size(),
              fmt::format("pass {} changed the number of outputs", pass));
  for (std::size_t i = 0; i < before.size(); ++i)
    CGVM_ASSERT(fits(after[i].type(), before[i].type()),
                fmt::format("pass {}: output {} has type {}, was {}", pass, i,
                            after[i].type().str(), before[i].type().str()));
}

std::string kernel_listing(const FusionPlan& plan) {
  std::string text;
  for (std::size_t i = 0; i < plan.kernels.size(); ++i) {
    text += fmt::format("kernel {}:", i);
    for (const Node* n : plan.kernels[i].nodes) text += fmt::format(" {}", n->op().name);
    text += "\n";
  }
  return text;
}

}  // namespace

std::vector<Var> run_pass(std::string_view name, const std::vector<Var>& outputs,
                          RewriteStats* stats) {
  return rewrite(outputs, rules_of(name), stats);
}

namespace {

// A scan body, or an ifelse branch, goes through the same rewrites as the graph holding it.
std::vector<Var> optimize_body(const std::vector<Var>& outputs) {
  std::vector<Var> g = optimize_scan_loops(outputs, optimize_body);
  g = optimize_ifelse_branches(g, optimize_body);
  for (std::string_view pass : {"canonicalize", "stabilize", "canonicalize", "specialize"})
    g = run_pass(pass, g);
  return g;
}

}  // namespace

OptimizedGraph optimize(const std::vector<Var>& outputs, const PipelineOptions& options) {
  using clock = std::chrono::steady_clock;
  OptimizedGraph g{outputs, {}, {}};
  int stage = 0;
  auto dump = [&](std::string_view what, const std::string& text) {
    if (!options.dump_dir.empty())
      write_dump(options.dump_dir, options.name, fmt::format("{:02}-{}.txt", stage++, what), text);
  };
  dump("input", debugprint(g.outputs));
  if (options.rewrite) {
    for (std::string_view pass : {"scan_loops", "ifelse_branches", "canonicalize", "stabilize",
                                  "canonicalize", "specialize"}) {
      PassReport report{std::string(pass)};
      auto start = clock::now();
      std::vector<Var> next =
          pass == "scan_loops"        ? optimize_scan_loops(g.outputs, optimize_body, &report.stats)
          : pass == "ifelse_branches" ? optimize_ifelse_branches(g.outputs, optimize_body, &report.stats)
                                      : run_pass(pass, g.outputs, &report.stats);
      report.ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
      if (options.check || kDebugBuild) check_outputs(pass, g.outputs, next);
      for (std::size_t i = 0; i < next.size(); ++i)
        report.changed = report.changed || !next[i].same(g.outputs[i]);
      g.outputs = std::move(next);
      if (!options.dump_dir.empty()) dump(pass, debugprint(g.outputs));
      g.passes.push_back(std::move(report));
    }
  }
  auto start = clock::now();
  g.fusion = fuse_kernels(g.outputs);
  PassReport fusion{"fuse_kernels"};
  fusion.ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
  fusion.changed = !g.fusion.kernels.empty();
  g.passes.push_back(std::move(fusion));
  dump("fuse_kernels", kernel_listing(g.fusion));
  return g;
}

}  // namespace cgvm
