#!/usr/bin/env bash
# The parser worker's cost per request (BENCHMARKS.md): every function of a
# large library with DWARF named in-process, through the worker one address
# a request, and in batches, in fresh caches each time.
#
#   bash bench/worker.sh [BUILD_DIR] [FILE]
#
# FILE: default the pyenv CPython 3.11's libpython (DWARF in the file).
set -euo pipefail
build=${1:-build}
file=${2:-/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0}
nm_out=$(mktemp)
trap 'rm -f "$nm_out"' EXIT
{ nm -S --defined-only "$file" 2>/dev/null; nm -S --defined-only -D "$file"; } | sort -u > "$nm_out"
echo "file: $file ($(stat -c %s "$file") bytes), commit $(git rev-parse --short HEAD), $(date -u '+%F %H:%M UTC')"
"$build/bench/worker_rtt" "$build/agent/smolder" "$file" "$nm_out"
