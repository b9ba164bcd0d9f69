#!/usr/bin/env bash
# The CUDA checks on a lent GPU machine (the `device` tool), from the repository's copy
# there, with what scripts/gpu-bundle.sh packed in .gpu/ (carried one part per call):
#
#   bash scripts/gpu-check.sh unpack        unpacks the parts carried so far (once each)
#   bash scripts/gpu-check.sh test          nvidia-smi, then the "cuda" test suite
#   bash scripts/gpu-check.sh bench         cuda_bench (also with CGVM_CUDA_GRAPHS=0),
#                                           bench/torch_gpu.py, then cuda_compile_bench
#                                           --quick (NVRTC on the machine's cores) and
#                                           device_overhead_bench --quick (its CPU)
#   bash scripts/gpu-check.sh examples      char_lstm (--quick --check) and mlp_digits
#                                           trained with --device cuda
#
# Several verbs may follow one another in one call. Logs go to $OUT (or ./gpu-out).
# CGVM_GPU_ROOT (default /) is where the parts unpack: set it to try the bundle here.
#
# The two calls, the second within the 30 s the machine stays warm:
#   run("bash scripts/gpu-check.sh unpack", carry=[".gpu/part-llvm.tar.xz"])
#   run("bash scripts/gpu-check.sh unpack test examples bench", carry=[".gpu/part-rest.tar.xz"])
set -uo pipefail
cd "$(dirname "$0")/.."
root=${CGVM_GPU_ROOT:-/}
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"

unpack() {
  mkdir -p "$root/opt/cgvm-gpu"
  for part in .gpu/part-*.tar.xz; do
    [ -e "$part" ] || continue
    # A part an earlier call unpacked stays on the machine while it is warm.
    local done_mark
    done_mark="$root/opt/cgvm-gpu/.unpacked-$(basename "$part")-$(stat -c %s "$part")"
    [ -e "$done_mark" ] && continue
    echo "unpacking $part"
    # Python's tarfile reads xz on any image; no xz binary is needed.
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$part" "$root" || exit 1
    touch "$done_mark"
  done
}

# Library paths: the bundle's, then the image's CUDA toolkit (NVRTC, cuBLAS).
environment() {
  local dirs=$root/opt/cgvm-gpu/lib
  for lib in libnvrtc.so.13 libcublas.so.13; do
    local found
    found=$(find /usr/local /usr/lib /opt /usr/local/lib/python3* -name "$lib*" 2>/dev/null | head -1)
    [ -n "$found" ] && dirs=$dirs:$(dirname "$found")
  done
  export LD_LIBRARY_PATH=$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The tests read their data where the binary was built from.
  local src
  src=$(strings "$root"/work/*/build-lead/tests/cgvm_tests 2>/dev/null | grep -m1 -o '/[^ ]*/tests/data' || true)
  if [ -n "$src" ] && [ ! -e "$src" ]; then
    mkdir -p "$(dirname "$(dirname "$src")")"
    ln -sfn "$PWD/tests" "$(dirname "$src")"
  fi
}

tests() {
  environment
  nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt" | head -15
  local bin
  bin=$(ls "$root"/work/*/build-lead/tests/cgvm_tests | head -1)
  timeout 480 "$bin" --no-intro=true --test-suite=cuda --duration=true 2>&1 |
    tee "$out/cuda-tests.log" | grep -E "ERROR|FAILED|skipped, no|test cases|assertions|^[0-9.]+ s" |
    tail -60
}

bench() {
  environment
  local bin
  bin=$(ls "$root"/work/*/build-bench/bench/cuda_bench 2>/dev/null | head -1)
  if [ -n "$bin" ]; then
    timeout 240 "$bin" --reps 11 2>&1 | tee "$out/cuda_bench.txt"
    # The same with scans run step by step: what replaying a graph per step gains.
    CGVM_CUDA_GRAPHS=0 timeout 180 "$bin" --reps 5 2>&1 | tee "$out/cuda_bench_no_graphs.txt"
  fi
  PYTHONUNBUFFERED=1 timeout 240 python3 bench/torch_gpu.py 2>&1 | tee "$out/torch_gpu.txt"
  bin=$(ls "$root"/work/*/build-bench/bench/cuda_compile_bench 2>/dev/null | head -1)
  [ -n "$bin" ] && timeout 120 "$bin" --quick 2>&1 | tee "$out/cuda_compile_bench.txt"
  # The host's cost per call on this machine's CPU (no GPU work), beside cuda_bench's.
  bin=$(ls "$root"/work/*/build-bench/bench/device_overhead_bench 2>/dev/null | head -1)
  [ -n "$bin" ] && timeout 60 "$bin" --quick 2>&1 | tee "$out/device_overhead_bench.txt"
}

examples() {
  environment
  local dir
  dir=$(ls -d "$root"/work/*/build-lead/examples | head -1)
  timeout 240 "$dir/example_char_lstm" --quick --check --device cuda \
    --data "$PWD/examples/data/shakespeare.txt" 2>&1 | tee "$out/char_lstm.txt" | tail -8
  echo "example_char_lstm: exit ${PIPESTATUS[0]}"
  timeout 120 "$dir/example_mlp_digits" --epochs 10 --device cuda \
    --data "$PWD/examples/data/digits.npz" 2>&1 | tee "$out/mlp_digits.txt" | tail -4
  echo "example_mlp_digits: exit ${PIPESTATUS[0]}"
}

for verb in "$@"; do
  case "$verb" in
    unpack) unpack ;;
    test) tests ;;
    bench) bench ;;
    examples) examples ;;
    *) echo "gpu-check: unknown verb '$verb' (unpack, test, bench, examples)" >&2; exit 2 ;;
  esac
done
