#!/usr/bin/env bash
# Installs what cgvm needs from Debian 12's packages, skipping what is already installed.
# Runs apt as root, or through sudo when not root. Extra package names given as arguments
# are installed too (scripts/setup-bench.sh adds libtorch-dev).
set -euo pipefail

packages=(
  cmake g++ make pkg-config            # the build
  libopenblas-dev                      # BLAS: matrix products
  libfmt-dev                           # text formatting of messages and printouts
  libzip-dev                           # .npz archives
  doctest-dev                          # the test framework
  python3-numpy                        # tests check .npy/.npz interchange with numpy itself
  llvm-19-dev libclang-cpp19-dev libclang-19-dev clang-19 clang-tools-19 lld-19  # the JIT
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
