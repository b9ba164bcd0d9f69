// The graph cache of function(): a warm start skips the rewrites and the emitter, gives the
// same program and values, and a corrupt entry is reported and rebuilt.
#include <filesystem>
#include <fstream>

#include "cgvm.hpp"
#include "runtime/log.hpp"
#include "runtime/options.hpp"
#include "support.hpp"

using namespace cgvm;
namespace fs = std::filesystem;

namespace {

// Points the cache at a new empty directory for the test's duration.
struct FreshCacheDir {
  std::string saved = options().cache_dir;
  std::string dir = test::temp_dir();
  FreshCacheDir() {
    options().cache_dir = dir;
    jit_clear_memory_cache();
  }
  ~FreshCacheDir() { options().cache_dir = saved; }
};

// A graph with rewrites to do; built anew (fresh inputs and nodes) on every call, as a new
// process would.
struct Model {
  Var x = matrix("x");
  Var w = vector("w");
  Var out = log(softmax(x * 1 + w)) + exp(log(x * x + 1));
};

std::vector<fs::path> graph_entries(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".graph") out.push_back(e.path());
  return out;
}

const Array kX = Array::from_list<float>({1, 2, 3, -1, 0, 4}, {2, 3});
const Array kW = Array::from_list<float>({0.5f, -0.5f, 0});

}  // namespace

TEST_CASE("graph cache: a warm start reads the optimized graph and source back") {
  FreshCacheDir cache;
  Model cold_model;
  Function cold = function({cold_model.x, cold_model.w}, {cold_model.out});
  CHECK(cold.compile_report().graph_cache == "miss");
  CHECK_FALSE(cold.compile_report().passes.empty());
  REQUIRE(graph_entries(cache.dir).size() == 1);

  Model again;  // same structure, new nodes: an in-memory hit
  Function memory = function({again.x, again.w}, {again.out});
  CHECK(memory.compile_report().graph_cache == "memory hit");

  jit_clear_memory_cache();  // as a new process
  Model warm_model;
  Function warm = function({warm_model.x, warm_model.w}, {warm_model.out});
  const FunctionReport& r = warm.compile_report();
  CHECK(r.graph_cache == "disk hit");
  CHECK(r.passes.size() == 1);  // fusion only: no rewrite pass ran
  CHECK(warm.source() == cold.source());
  CHECK(warm.program() == cold.program());
  CHECK(allclose(warm(kX, kW), cold(kX, kW)));
  CHECK(allclose(warm(kX, kW), Function(function({warm_model.x, warm_model.w}, {warm_model.out},
                                                 {.mode = Mode::Interpret}))(kX, kW),
                 1e-5, 1e-6));
}

TEST_CASE("graph cache: a different graph or a different input order is a different entry") {
  FreshCacheDir cache;
  Model a;
  (void)function({a.x, a.w}, {a.out});
  Model b;
  Function other = function({b.x, b.w}, {b.out * 2});
  CHECK(other.compile_report().graph_cache == "miss");
  Var x = matrix("x"), y = matrix("y");
  (void)function({x, y}, {x - y});
  Var x2 = matrix("x"), y2 = matrix("y");
  Function swapped = function({y2, x2}, {x2 - y2});
  CHECK(swapped.compile_report().graph_cache == "miss");
  CHECK(allclose(swapped(Array::ones({1, 1}), Array::zeros({1, 1})), Array::full({1, 1}, -1)));
}

TEST_CASE("graph cache: a corrupt entry is reported, rebuilt and rewritten") {
  FreshCacheDir cache;
  Model first;
  Function f = function({first.x, first.w}, {first.out});
  auto entries = graph_entries(cache.dir);
  REQUIRE(entries.size() == 1);
  {  // flip bytes in the middle of the entry
    std::fstream file(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(entries[0]) / 2));
    file.write("#####", 5);
  }
  jit_clear_memory_cache();
  test::CapturedWarnings warnings;
  Model second;
  Function g = function({second.x, second.w}, {second.out});
  CHECK(g.compile_report().graph_cache == "miss");
  REQUIRE(warnings.messages.size() == 1);
  CHECK(warnings.messages[0].find("corrupt") != std::string::npos);
  CHECK(allclose(g(kX, kW), f(kX, kW)));
  // rewritten: the next fresh start hits again
  jit_clear_memory_cache();
  Model third;
  CHECK(function({third.x, third.w}, {third.out}).compile_report().graph_cache == "disk hit");
}

TEST_CASE("graph cache: CGVM_DUMP bypasses it, so every pass is dumped") {
  FreshCacheDir cache;
  std::string saved = options().dump_dir;
  options().dump_dir = test::temp_dir();
  Model m;
  Function f = function({m.x, m.w}, {m.out});
  options().dump_dir = saved;
  CHECK(f.compile_report().graph_cache == "off");
  CHECK(graph_entries(cache.dir).empty());
}
