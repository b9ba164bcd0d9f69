#!/usr/bin/env bash
# Packs what the CUDA checks need on a lent GPU machine (the `device` tool) whose image has
# no LLVM 19, fmt, OpenBLAS or libzip: the test binary, cuda_bench, cuda_compile_bench,
# device_overhead_bench and the two examples that train on a GPU, the CUDA plugin and the
# fake drivers, every shared library they need beyond glibc and libstdc++, and the Clang
# headers the in-process JIT reads. One call to the device tool carries at most 64 MiB, so
# the bundle comes in parts of at most 60 MB (.gpu/part-*.tar.xz), one part per call: each
# call carries one part and unpacks it (scripts/gpu-check.sh); what a call unpacks stays
# while the machine is warm.
#
#   scripts/gpu-bundle.sh [build-dir] [bench-build-dir]   (defaults: build-lead, build-bench)
#
# Files keep their absolute paths (the test binary names its plugin and fake drivers by
# their build paths), except the libraries, which go to /opt/cgvm-gpu/lib.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build-lead}")
bench=$(realpath "${2:-build-bench}")
out=.gpu
rm -rf "$out" && mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

binaries=("$build/tests/cgvm_tests" "$build/cuda/libcgvm_cuda.so"
          "$build/tests/libcgvm_fake_libcuda.so" "$build/tests/libcgvm_fake_libcuda_host.so"
          "$build/examples/example_char_lstm" "$build/examples/example_mlp_digits")
for b in cuda_bench cuda_compile_bench device_overhead_bench; do
  [ -x "$bench/bench/$b" ] && binaries+=("$bench/bench/$b")
done
for f in "${binaries[@]}"; do
  [ -e "$f" ] || { echo "gpu-bundle: $f is missing; build it first" >&2; exit 1; }
  mkdir -p "$stage/files$(dirname "$f")"
  # Debug information is most of a Debug binary's size; the checks do not need it.
  objcopy --strip-debug "$f" "$stage/files$f"
done

# Libraries beyond the C and C++ runtimes, which the image has (newer than Debian 12's).
# The CUDA toolkit's own (NVRTC, cuBLAS) are the image's.
mkdir -p "$stage/files/opt/cgvm-gpu/lib"
for f in "${binaries[@]}"; do ldd "$f"; done | awk '/=> \// {print $1, $3}' | sort -u |
  while read -r name path; do
    case "$name" in
      libc.so*|libm.so*|libstdc++*|libgcc_s*|ld-linux*|libdl.so*|libpthread*|librt.so*) ;;
      libnvrtc*|libcublas*|libcuda.so*) ;;
      *) cp -L "$path" "$stage/files/opt/cgvm-gpu/lib/$name" ;;
    esac
  done
resource=$(clang-19 -print-resource-dir 2>/dev/null || echo /usr/lib/llvm-19/lib/clang/19)
mkdir -p "$stage/files$resource"
cp -r "$resource/include" "$stage/files$resource/"

# The two LLVM libraries alone fill one part; everything else goes in the other.
(cd "$stage/files" && find . -name 'libLLVM*' -o -name 'libclang-cpp*') > "$stage/llvm.list"
(cd "$stage/files" && find . \( -type f -o -type l \) | grep -v -x -F -f "$stage/llvm.list") \
  > "$stage/rest.list"
for part in llvm rest; do
  tar -C "$stage/files" -cf - -T "$stage/$part.list" | xz -T2 -9 > "$out/part-$part.tar.xz"
done
ls -l "$out"
for f in "$out"/*.tar.xz; do
  size=$(stat -c %s "$f")
  if [ "$size" -gt $((60 * 1000 * 1000)) ]; then
    echo "gpu-bundle: $f is $size bytes, over the 60 MB a device call may carry" >&2
    exit 1
  fi
done
