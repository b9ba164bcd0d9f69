// Stands in for torch_peers.cpp when CMake did not find libtorch: the benchmarks still build
// and run, and say at run time that the libtorch column is missing.
#include <stdexcept>

#include "peers.hpp"

namespace bench::torch_peer {

bool available() { return false; }

std::string description() {
  return "libtorch not found when this build was configured: no libtorch column "
         "(install it with scripts/setup-bench.sh, then re-run cmake)";
}

void set_threads(int) {}

static Runner absent() { throw std::logic_error("libtorch is not available in this build"); }

Runner elementwise(const float*, const float*, float, float, std::int64_t) { return absent(); }
Runner softmax(const float*, std::int64_t, std::int64_t) { return absent(); }
Runner mlp_step(const MlpSetup&) { return absent(); }
Runner rnn(const RnnProblem&, RnnForm, bool) { return absent(); }
Runner embedding_rnn(const EmbeddingRnnSetup&) { return absent(); }

}  // namespace bench::torch_peer
