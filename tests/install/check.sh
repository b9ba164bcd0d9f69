#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds tests/install as an outside
# project against it, and runs it.
set -euo pipefail
build_dir="$1"; source_dir="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
cmake -S "$source_dir" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j 2 >/dev/null
"$tmp/build/consumer"
