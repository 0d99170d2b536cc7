#!/usr/bin/env bash
# The README's second command, and what CI runs: install what is missing,
# build, run every test (unit and integration, with real BPF), run the unit
# tests again under ASan and UBSan, replay and briefly run the fuzz targets
# in a clang build, and end with one line: N passed, N failed.
set -uo pipefail
cd "$(dirname "$0")/.."

fail_early() { echo "$1" >&2; echo "0 passed, 1 failed"; exit 1; }

bash deploy/install-deps.sh || fail_early "tests: installing dependencies failed"

configure() { # dir, options...
  local dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
}

configure build || fail_early "tests: meson setup failed"
meson compile -C build || fail_early "tests: build failed"
configure build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  || fail_early "tests: meson setup (sanitizers) failed"
meson compile -C build-asan || fail_early "tests: sanitizer build failed"
# clang, with the libFuzzer targets: each replays its seed corpus, then
# fuzzes for 20 s under memory and time limits (tests/meson.build).
CC=clang configure build-fuzz -Dfuzz=true || fail_early "tests: meson setup (clang, fuzz) failed"
meson compile -C build-fuzz || fail_early "tests: clang build failed"

meson test -C build --print-errorlogs
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs
meson test -C build-fuzz --suite fuzz --print-errorlogs

/usr/bin/python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  build-fuzz/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"tests: no results in {path}", file=sys.stderr)
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
PY
