#!/usr/bin/env bash
# Installs what the benchmarks (bench/, BENCHMARKS.md) need on top of scripts/setup.sh:
# Debian's libtorch-dev, the C++ eager peer the benchmarks compare against.
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh" libtorch-dev
