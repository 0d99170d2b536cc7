#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the
# agent on its local default (profiles under ./profiles) for 30 seconds.
# Extra arguments go to the agent, e.g. --duration 5m.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec ./build/agent/smolder --duration 30s --output-dir ./profiles "$@"
