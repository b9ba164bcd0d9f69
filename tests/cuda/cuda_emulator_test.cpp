// The CPU emulation of a GPU (cuda_emulator.hpp) stops a kernel that would be undefined on a
// GPU instead of computing something: threads that meet at different barriers, a thread
// that never reaches the barrier the others wait at, a shuffle of part of a warp. Each
// stops the process (the fibers cannot unwind into the test), so each runs in a child.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "cuda_emulator.hpp"
#include "cuda_helpers.hpp"

namespace cgvm::test {
namespace {

// A unit of one kernel `name` with `body`, as the device's own units are written.
std::string one_kernel(const std::string& name, const std::string& body) {
  return "struct " + name + "_params { long long w[1]; };\n" + "extern \"C\" __global__ void " +
         name + "(const " + name + "_params p) {\n" + body + "\n}\n";
}

struct ChildEnd {
  bool aborted = false;
  std::string stderr_text;
};

// Runs `name` of `emulator` on a block of 64 threads in a child process; how it ended and
// what it wrote to stderr.
ChildEnd run_in_child(CudaEmulator& emulator, const std::string& name) {
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The test framework's handler would report the abort as its own crash.
    std::signal(SIGABRT, SIG_DFL);
    ::dup2(pipe_ends[1], STDERR_FILENO);
    ::close(pipe_ends[0]);
    emulator.run(name, 1, 64, {0});
    ::_exit(0);  // skips the parent's exit handlers
  }
  ::close(pipe_ends[1]);
  ChildEnd end;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;)
    end.stderr_text.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_ends[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  end.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return end;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda emulator: kernels undefined on a GPU stop with a message") {
    const std::vector<std::pair<std::string, std::string>> kernels{
        {"uniform", "__syncthreads();\n  if (threadIdx.x < 64) __syncthreads();"},
        {"split_barrier", "if (threadIdx.x % 2) {\n    __syncthreads();\n  } else {\n"
                          "    __syncthreads();\n  }"},
        {"missed_barrier", "if (threadIdx.x == 5) return;\n  __syncthreads();"},
        {"half_warp_shuffle", "(void)__shfl_down_sync(0xffffu, (int)threadIdx.x, 1);"},
        {"split_shuffle", "if (threadIdx.x % 2)\n    (void)__shfl_down_sync(0xffffffffu, 1, 1);\n"
                          "  else\n    (void)__shfl_down_sync(0xffffffffu, 2, 1);"}};
    std::string source;
    std::vector<std::pair<std::string, int>> names;
    for (const auto& [name, body] : kernels) {
      source += one_kernel(name, body);
      names.emplace_back(name, 1);
    }
    CudaEmulator emulator(source, names);

    // Barriers every thread reaches at one place run as usual.
    const ChildEnd uniform = run_in_child(emulator, "uniform");
    CHECK_FALSE(uniform.aborted);
    CHECK(uniform.stderr_text.empty());

    const ChildEnd split = run_in_child(emulator, "split_barrier");
    CHECK(split.aborted);
    CHECK(contains(split.stderr_text, "reaches the __syncthreads at line"));
    CHECK(contains(split.stderr_text, "while others wait at the one at line"));

    const ChildEnd missed = run_in_child(emulator, "missed_barrier");
    CHECK(missed.aborted);
    CHECK(contains(missed.stderr_text, "63 threads wait at barriers that the other threads of "
                                       "block 0 never reach"));

    const ChildEnd half = run_in_child(emulator, "half_warp_shuffle");
    CHECK(half.aborted);
    CHECK(contains(half.stderr_text, "with mask 0xffff; the kernels shuffle whole warps"));

    const ChildEnd split_shuffle = run_in_child(emulator, "split_shuffle");
    CHECK(split_shuffle.aborted);
    CHECK(contains(split_shuffle.stderr_text, "reaches the shuffle at line"));
  }
}

}  // namespace cgvm::test
