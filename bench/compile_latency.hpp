#pragma once
// What the compile-latency benchmarks share (compile_bench, rnn_bench): one sample of
// "build the graph, function(), first call", fresh cache dirs, re-running this program as a
// child process that measures once in a new process, and printing a scenario's samples.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"

namespace bench::latency {

struct Sample {
  double build = 0;       // graph (+ grad, updates), before function()
  double function = 0;    // function(): from the call to a callable
  double first_call = 0;  // the first call with real data
  double process = 0;     // the whole child process, start to exit (new-process scenarios)
};

// A new, empty directory for a compile cache.
inline std::string new_cache_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cgvm-bench-cache-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + tmpl);
  return tmpl;
}

// What a child prints for its parent: one line.
inline void print_child_result(const Sample& s) {
  std::printf("RESULT %.9f %.9f %.9f\n", s.build, s.function, s.first_call);
}

// Re-executes this program with `child_args` and CGVM_CACHE_DIR=cache_dir; the child
// measures once and prints print_child_result's line.
inline Sample run_child(const std::string& cache_dir, const std::string& child_args) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = "CGVM_CACHE_DIR='" + cache_dir + "' '" + exe + "' " + child_args;
  const double t0 = now_seconds();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  Sample s;
  bool found = false;
  char line[512];
  while (std::fgets(line, sizeof line, pipe))
    found |= std::sscanf(line, "RESULT %lf %lf %lf", &s.build, &s.function, &s.first_call) == 3;
  const int status = pclose(pipe);
  s.process = now_seconds() - t0;
  if (!found || status != 0) throw std::runtime_error("child failed: " + command);
  return s;
}

// One row per stage (and the whole process with `with_process`), median [min, max].
inline void print_scenario(const std::string& name, const std::vector<Sample>& samples,
                           bool with_process) {
  auto column = [&](double Sample::*field) {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(s.*field);
    return summarize(v);
  };
  print_row({name, "graph+grad", 0, column(&Sample::build), 0, ""});
  print_row({name, "function()", 0, column(&Sample::function), 0, ""});
  print_row({name, "first call", 0, column(&Sample::first_call), 0, ""});
  if (with_process) print_row({name, "process wall", 0, column(&Sample::process), 0, ""});
}

}  // namespace bench::latency
