#!/bin/bash
# Runs every libFuzzer target of the project for a while, each from its
# committed seed corpus.
#
#   bench/fuzz.sh [SECONDS] [BUILDDIR] [TARGET...]
#
# SECONDS (default 60) each; BUILDDIR (default build-fuzz, in the
# repository) is configured with `CC=clang meson setup BUILDDIR -Dfuzz=true`
# when it does not exist, and built. The targets are the tests of the
# 'fuzz' suite (each replays its corpus in `meson test`): their executable
# and their corpus directory, the last argument, come from `meson introspect
# --tests`, so a new target is picked up where it is wired. TARGET names
# (e.g. fuzz_dwarf) narrow the list.
#
# Each target works on a copy of its corpus in a temporary directory, so the
# committed corpus only grows by hand. libFuzzer stops at the first crash,
# leak, timeout or out-of-memory; the target is then started again for the
# rest of its time (at most 5 times), so one crash does not end its run.
# Per target: runs, and the reproducers found (crash-*, leak-*, timeout-*,
# oom-*), kept under $FUZZ_OUT (default /tmp/smolder-fuzz) and printed; to
# replay one: BUILDDIR/.../fuzz_X REPRODUCER.
# Exit status: 0 nothing found, 1 something found or a target did not
# build, 2 bad usage.
set -euo pipefail

SECONDS_EACH=${1:-60}
REPO=$(dirname "$(dirname "$(realpath "$0")")")
BUILD=${2:-$REPO/build-fuzz}
shift $(($# < 2 ? $# : 2))
ONLY=("$@")
OUT=${FUZZ_OUT:-/tmp/smolder-fuzz}
[[ $SECONDS_EACH =~ ^[0-9]+$ && $SECONDS_EACH -gt 0 ]] ||
	{ echo "fuzz: SECONDS must be a positive number" >&2; exit 2; }

if [[ ! -f $BUILD/build.ninja ]]; then
	CC=clang meson setup "$BUILD" "$REPO" -Dfuzz=true >/dev/null
fi
[[ $(meson introspect --buildoptions "$BUILD" |
	/usr/bin/python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "fuzz"][0])') == True ]] ||
	{ echo "fuzz: $BUILD is not configured with -Dfuzz=true" >&2; exit 2; }

# Name, executable and corpus of each target, from the fuzz suite.
mapfile -t TARGETS < <(meson introspect --tests "$BUILD" | /usr/bin/python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if any(s.endswith(":fuzz") or s == "fuzz" for s in t["suite"]):
        exe, corpus = t["cmd"][0], t["cmd"][-1]
        print(os.path.basename(exe), exe, corpus)
' | sort -u)
if ((${#ONLY[@]})); then
	keep=()
	for t in "${TARGETS[@]}"; do
		for o in "${ONLY[@]}"; do [[ ${t%% *} == "$o" ]] && keep+=("$t"); done
	done
	TARGETS=("${keep[@]}")
fi
((${#TARGETS[@]})) || { echo "fuzz: no fuzz targets found in $BUILD" >&2; exit 2; }

# A fuzz_*.c that no test runs is a target nobody fuzzes.
for src in "$REPO"/tests/*/fuzz_*.c; do
	name=$(basename "$src" .c)
	printf '%s\n' "${TARGETS[@]}" | grep -q "^$name " ||
		((${#ONLY[@]})) || echo "fuzz: warning: $src is not wired as a fuzz test" >&2
done

# Build what builds; a target that does not is reported, not fatal.
mkdir -p "$OUT"
ninja -C "$BUILD" -k 0 $(printf '%s\n' "${TARGETS[@]}" |
	awk -v b="$BUILD/" '{sub("^" b, "", $2); print $2}') >"$OUT/build.log" 2>&1 || true

WORK=$(mktemp -d /tmp/smolder-fuzz-corpus.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
printf '| target | seconds | runs | exec/s | found |\n|---|---|---|---|---|\n' >"$WORK/table"
for t in "${TARGETS[@]}"; do
	read -r name exe corpus <<<"$t"
	if [[ ! -x $exe ]]; then
		echo "| $name | - | - | - | did not build (see $OUT/build.log) |" >>"$WORK/table"
		status=1
		continue
	fi
	mkdir -p "$WORK/$name"
	cp -r "$corpus"/. "$WORK/$name/"
	art=$OUT/$name
	rm -rf "$art"
	mkdir -p "$art"
	runs=0
	start=$(date +%s)
	for attempt in 1 2 3 4 5; do
		left=$((SECONDS_EACH - ($(date +%s) - start)))
		((left > 0)) || break
		"$exe" -max_total_time="$left" -print_final_stats=1 \
			-artifact_prefix="$art/" "$WORK/$name" >"$art/log.$attempt" 2>&1 || true
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$art/log.$attempt" | tail -1)
		[[ -n $n ]] || n=$(grep -o '^#[0-9]*' "$art/log.$attempt" | tail -1 | tr -d '#')
		runs=$((runs + ${n:-0}))
		# Stopped early without a reproducer: not a crash we can report.
		ls "$art" | grep -qE '^(crash|leak|timeout|oom)-' || break
	done
	took=$(($(date +%s) - start))
	found=$(find "$art" -maxdepth 1 -type f -regex '.*/\(crash\|leak\|timeout\|oom\)-.*' | sort)
	if [[ -n $found ]]; then
		status=1
		what=$(echo "$found" | wc -l)
		echo "| $name | $took | $runs | $((runs / (took ? took : 1))) | $what: $(echo $found) |" >>"$WORK/table"
		for log in "$art"/log.*; do
			grep -q '^==[0-9]*==ERROR\|^==[0-9]*== ERROR' "$log" || continue
			echo "== $name: $log" >&2
			grep -m1 -A14 '^==[0-9]*== *ERROR' "$log" >&2 || true
		done
	else
		echo "| $name | $took | $runs | $((runs / (took ? took : 1))) | nothing |" >>"$WORK/table"
		rm -f "$art"/log.*
	fi
done
cat "$WORK/table"
echo
echo "Build: $BUILD; ${SECONDS_EACH} s a target; reproducers and logs under $OUT/TARGET/."
exit $status
