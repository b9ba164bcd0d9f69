#!/usr/bin/env bash
# Runs every benchmark and prints everything (see BENCHMARKS.md).
#
#   bench/run_all.sh [BUILD_DIR] [--peer-defaults] [ARGS...]
#
# BUILD_DIR (default: build-bench at the repository root) is a build configured with
# -DCGVM_BUILD_BENCH=ON. ARGS go to every benchmark: --quick (smaller problems),
# --threads 1,2, --reps N.
#
# The peers get their best environment unless --peer-defaults is given (variables already
# set are kept either way; every benchmark prints them):
#   OMP_WAIT_POLICY=PASSIVE   libtorch's OpenMP threads otherwise spin after each parallel
#                             region and starve OpenBLAS's threads on 2 cores (2-thread
#                             MLP step 3-7x slower);
#   MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ = 4 GiB
#                             glibc otherwise gives large freed blocks back to the kernel,
#                             so libtorch's next result touches fresh pages (elementwise
#                             N=2^24 20x slower, and figures that depend on what ran before).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-bench"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build="$1"; shift; fi
peer_defaults=0
args=()
for a in "$@"; do
  if [ "$a" = "--peer-defaults" ]; then peer_defaults=1; else args+=("$a"); fi
done
if [ $peer_defaults = 0 ]; then
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}"
  export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"
fi

seconds_since() {
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf "%d.%03d" $((ms / 1000)) $((ms % 1000))
}
total_start=$(date +%s%N)
for name in elementwise softmax mlp_step compile cuda_compile device_overhead optimizer rnn \
    embedding_scan; do
  exe="$build/bench/${name}_bench"
  if [ ! -x "$exe" ]; then
    echo "run_all: $exe is missing: configure with -DCGVM_BUILD_BENCH=ON and build" >&2
    exit 1
  fi
  start=$(date +%s%N)
  "$exe" ${args[@]+"${args[@]}"}
  echo "(${name}_bench took $(seconds_since "$start") s)"
  echo
done
echo "run_all: all benchmarks took $(seconds_since "$total_start") s"
