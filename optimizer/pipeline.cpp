#include "optimizer/pipeline.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

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

OptimizedGraph optimize(const std::vector<Var>& outputs, const PipelineOptions& options) {
  OptimizedGraph g{outputs, {}};
  int stage = 0;
  auto dump = [&](const char* what, const std::string& text) {
    if (!options.dump_dir.empty())
      write_dump(options.dump_dir, options.name, fmt::format("{:02}-{}.txt", stage++, what), text);
  };
  dump("input", debugprint(g.outputs));
  g.fusion = fuse_kernels(g.outputs);
  std::string kernels;
  for (std::size_t i = 0; i < g.fusion.kernels.size(); ++i) {
    kernels += fmt::format("kernel {}:", i);
    for (const Node* n : g.fusion.kernels[i].nodes) kernels += fmt::format(" {}", n->op().name);
    kernels += "\n";
  }
  dump("fuse_kernels", kernels);
  return g;
}

}  // namespace cgvm
