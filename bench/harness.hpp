#pragma once
// The shared benchmark harness: timing, thread control, the environment record and the
// table every benchmark prints. Header-only; every benchmark includes it.
//
//   bench::Config config = bench::parse_args(argc, argv);   // --quick, --threads 1,2
//   bench::print_environment("elementwise", config);
//   bench::Stats s = bench::measure([&] { f(x); }, config);
//   bench::print_row({"cgvm", "N=65536", 1, s, n / s.median, "elem/s"});
//
// measure() warms up, then sizes an inner loop so that one repetition lasts at least
// config.min_rep_seconds (timer precision and scheduler noise), then times
// config.repetitions repetitions. Stats are seconds per single call: the median is the
// figure to quote, min and max show the spread (this is a shared, noisy machine).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#if __has_include("runtime/thread_pool.hpp")
#include "runtime/thread_pool.hpp"
#define CGVM_BENCH_HAVE_THREAD_POOL 1
#endif

namespace bench {

struct Config {
  bool quick = false;                // smaller problems (each benchmark says which)
  std::vector<int> threads{1, 2};    // thread counts to run each contestant at
  int repetitions = 11;              // timed repetitions (the median of these is quoted)
  double min_rep_seconds = 0.02;     // each repetition loops inner calls to last this long
  std::vector<std::string> rest;     // arguments the harness did not recognise
};

inline std::vector<int> parse_int_list(const std::string& text) {
  std::vector<int> out;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::atoi(text.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }
  return out;
}

inline Config parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      c.quick = true;
    } else if (a == "--threads" && i + 1 < argc) {
      c.threads = parse_int_list(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      c.repetitions = std::max(1, std::atoi(argv[++i]));
    } else {
      c.rest.push_back(a);
    }
  }
  return c;
}

struct Stats {
  double median = 0, min = 0, max = 0;  // seconds per call
  long inner = 1;                        // calls per repetition
  int repetitions = 0;
};

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Median, min and max of samples measured elsewhere (e.g. one per child process).
inline Stats summarize(std::vector<double> samples) {
  Stats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.median = samples[samples.size() / 2];
  s.min = samples.front();
  s.max = samples.back();
  s.repetitions = static_cast<int>(samples.size());
  return s;
}

template <class F>
Stats measure(F&& call, const Config& config) {
  // Warm-up: first-call costs (allocation, page faults, lazy initialisation) stay out;
  // then one more call estimates the steady cost of a call.
  call();
  double t0 = now_seconds();
  call();
  double one = std::max(now_seconds() - t0, 1e-9);
  long inner = std::max(1L, static_cast<long>(std::ceil(config.min_rep_seconds / one)));

  std::vector<double> per_call;
  for (int r = 0; r < config.repetitions; ++r) {
    t0 = now_seconds();
    for (long i = 0; i < inner; ++i) call();
    per_call.push_back((now_seconds() - t0) / static_cast<double>(inner));
  }
  Stats s = summarize(per_call);
  s.inner = inner;
  return s;
}

// --- threads ------------------------------------------------------------------------
// OpenBLAS is one library shared by cgvm and libtorch in this process; its thread count is
// set through the symbol it exports (found at run time, so nothing else needs linking).
inline void set_blas_threads(int n) {
  using SetFn = void (*)(int);
  if (auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(n);
}

inline int blas_threads() {
  using GetFn = int (*)();
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : -1;
}

// cgvm's pool, when runtime/thread_pool.hpp exists; OpenBLAS first, so that whatever
// policy cgvm applies to BLAS threads wins.
inline void set_cgvm_threads(int n) {
  set_blas_threads(n);
#ifdef CGVM_BENCH_HAVE_THREAD_POOL
  cgvm::set_num_threads(n);
#endif
}

inline const char* cgvm_thread_note() {
#ifdef CGVM_BENCH_HAVE_THREAD_POOL
  return "cgvm::set_num_threads(n) and OpenBLAS n threads";
#else
  return "runtime/thread_pool.hpp absent at build time: cgvm runs single-threaded, "
         "only OpenBLAS gets n threads";
#endif
}

// --- environment --------------------------------------------------------------------
inline std::string env_or(const char* name, const char* fallback = "(unset)") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

inline std::string today() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return buf;
}

// `repeated`: whether the benchmark times with measure() (prints its timing scheme).
inline void print_environment(const char* benchmark, const Config& c, bool repeated = true) {
  std::printf("== %s ==\n", benchmark);
  std::printf("date:               %s\n", today().c_str());
  std::printf("cpu:                %s, %u hardware threads\n", cpu_model().c_str(),
              std::thread::hardware_concurrency());
  std::printf("OPENBLAS_CORETYPE:  %s\n", env_or("OPENBLAS_CORETYPE").c_str());
  std::printf("OMP_NUM_THREADS:    %s, OPENBLAS_NUM_THREADS: %s, CGVM_NUM_THREADS: %s\n",
              env_or("OMP_NUM_THREADS").c_str(), env_or("OPENBLAS_NUM_THREADS").c_str(),
              env_or("CGVM_NUM_THREADS").c_str());
  // Both change libtorch's figures a lot on this machine class; bench/run_all.sh sets them.
  std::printf("OMP_WAIT_POLICY:    %s\n", env_or("OMP_WAIT_POLICY").c_str());
  std::printf("MALLOC_MMAP_THRESHOLD_: %s, MALLOC_TRIM_THRESHOLD_: %s\n",
              env_or("MALLOC_MMAP_THRESHOLD_").c_str(), env_or("MALLOC_TRIM_THRESHOLD_").c_str());
  std::printf("OpenBLAS threads at start: %d\n", blas_threads());
  std::printf("cgvm threads:       %s\n", cgvm_thread_note());
#ifdef __clang__
  std::printf("compiler:           %s\n", __VERSION__);
#else
  std::printf("compiler:           GCC %s\n", __VERSION__);
#endif
  if (repeated)
    std::printf("timing:             warm-up, then %d repetitions of >= %.0f ms each; "
                "median [min, max] per call%s\n",
                c.repetitions, c.min_rep_seconds * 1e3, c.quick ? " (--quick)" : "");
}

// Largest |a[i] - b[i]|: results of different contestants are checked before timing.
inline double max_abs_diff(const float* a, const float* b, std::int64_t n) {
  double worst = 0;
  for (std::int64_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return worst;
}

// --- the table ------------------------------------------------------------------------
struct Row {
  std::string contestant;  // "cgvm", "loop -O3", "libtorch"
  std::string problem;     // "N=65536"
  int threads = 1;         // <= 0: not applicable, printed as "-"
  Stats stats;
  double rate = 0;         // work per second at the median, 0 for none
  std::string rate_unit;   // "elem/s"
};

// "2^16" for a power of two, the number otherwise.
inline std::string pow2_label(std::int64_t n) {
  int k = 0;
  while ((std::int64_t(1) << k) < n) ++k;
  return (std::int64_t(1) << k) == n ? "2^" + std::to_string(k) : std::to_string(n);
}

inline std::string human_time(double s) {
  char buf[32];
  if (s < 1e-3) std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

inline void print_header() {
  std::printf("%-22s %-16s %3s %12s %24s %16s\n", "contestant", "problem", "thr", "median",
              "[min, max]", "rate");
}

inline void print_row(const Row& r) {
  std::string spread = "[" + human_time(r.stats.min) + ", " + human_time(r.stats.max) + "]";
  char rate[48] = "";
  if (r.rate > 0) std::snprintf(rate, sizeof rate, "%.3g %s", r.rate, r.rate_unit.c_str());
  std::string threads = r.threads > 0 ? std::to_string(r.threads) : "-";
  std::printf("%-22s %-16s %3s %12s %24s %16s\n", r.contestant.c_str(), r.problem.c_str(),
              threads.c_str(), human_time(r.stats.median).c_str(), spread.c_str(), rate);
  std::fflush(stdout);
}

// "cgvm speed vs <peer>": peer median time / cgvm median time, so > 1 means cgvm is faster.
// target <= 0: no target, the ratio is for reference.
inline void print_ratio(const std::string& problem, int threads, const std::string& peer,
                        double cgvm_seconds, double peer_seconds, double target) {
  double ratio = peer_seconds / cgvm_seconds;
  std::printf("  ratio %-16s thr %d: cgvm speed / %-9s = %7.3fx", problem.c_str(), threads,
              peer.c_str(), ratio);
  if (target > 0) std::printf("  (target >= %gx: %s)", target, ratio >= target ? "met" : "NOT met");
  std::printf("\n");
  std::fflush(stdout);
}

// The agreement line printed before timing: how far cgvm's and (when given) libtorch's
// results are from the loop's.
inline void print_agreement(const std::string& problem, const float* cgvm, const float* loop,
                            std::int64_t n, const float* torch = nullptr) {
  std::printf("check %s: max |cgvm - loop| = %.3g", problem.c_str(), max_abs_diff(cgvm, loop, n));
  if (torch) std::printf(", max |torch - loop| = %.3g", max_abs_diff(torch, loop, n));
  std::printf("\n");
}

// Times a peer at `threads`, prints its row (`work` per call, in `unit`) and cgvm's speed
// ratio against it (labelled `label`).
template <class F>
void time_peer(const std::string& name, const std::string& label, F&& run,
               const std::string& problem, int threads, const Stats& cgvm, double work,
               const char* unit, double target, const Config& config) {
  Stats s = measure(run, config);
  print_row({name, problem, threads, s, work / s.median, unit});
  print_ratio(problem, threads, label, cgvm.median, s.median, target);
}

}  // namespace bench
