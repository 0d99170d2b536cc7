#!/bin/bash
# Start-up cost (issue 14, item 6): CPU the agent and its parser worker
# spend from launch to the first sample ("sampling started") and to the end
# of the first interval, whole-system at 97 Hz, with a no-frame-pointer
# workload (unwind_work qsort) and cc1 compiling beside it. Run twice, one
# start after the other with the same --cache-dir when the agent has one
# (pass CACHE=1): the second is a restart with a warm cache.
#
#   bench/startup.sh [AGENT]          (root; AGENT defaults to build/agent/smolder)
#   CACHE=1 bench/startup.sh AGENT    (both starts share a --cache-dir)
#
# CPU is read from /proc/PID/stat (utime + stime) of the agent and of its
# worker (children's CPU is not counted until they exit, so both are read
# live). perf's own start-up for comparison: `perf record -a -g` launched
# the same way, its CPU when its first sample is written is not observable,
# so its CPU over the same first-interval window is given. Numbers only.
set -euo pipefail

AGENT=$(realpath "${1:-build/agent/smolder}")
WORK=$(dirname "$(dirname "$AGENT")")/tests/integration/unwind_work_gcc_pie
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
[[ -x $WORK ]] || { echo "bench: no workload $WORK" >&2; exit 2; }
TMP=$(mktemp -d /tmp/smolder-startup.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
HZ=$(getconf CLK_TCK)

cpu_ticks() { # pid -> utime+stime in ticks, 0 if gone
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

tree_ticks() { # the agent and its children (the worker)
	local t c
	t=$(cpu_ticks "$1")
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		t=$((t + $(cpu_ticks "$c")))
	done
	echo "$t"
}

"$WORK" qsort 600 </dev/null >/dev/null 2>&1 &
sleep 1

one_start() { # label
	local args=(--output-dir "$TMP/out-$1" --upload-interval 5s --http-listen off)
	[[ ${CACHE:-0} == 1 ]] && args+=(--cache-dir "$TMP/cache")
	"$AGENT" "${args[@]}" >"$TMP/agent-$1.log" 2>&1 &
	local pid=$! t0 t1 started=""
	t0=$(date +%s.%N)
	until grep -q "sampling started" "$TMP/agent-$1.log"; do
		kill -0 "$pid" 2>/dev/null || { echo "bench: agent exited" >&2; cat "$TMP/agent-$1.log" >&2; exit 1; }
		sleep 0.02
	done
	started=$(tree_ticks "$pid")
	t1=$(date +%s.%N)
	# cc1, cold for this agent, while the first interval runs
	"$(gcc -print-prog-name=cc1)" -quiet -O2 "$TMP/gen.c" -o /dev/null
	until grep -q " counters " "$TMP/agent-$1.log"; do sleep 0.05; done
	local first
	first=$(tree_ticks "$pid")
	kill -INT "$pid"
	wait "$pid" || true
	printf '| %s | %.2f s | %.2f CPU-s | %.2f CPU-s | %s |\n' "$1" \
		"$(echo "$t1 - $t0" | bc)" "$(echo "$started / $HZ" | bc -l)" \
		"$(echo "$first / $HZ" | bc -l)" \
		"$(grep -o 'unwind_cache_hits=[0-9]*\|unwind_cache_misses=[0-9]*' "$TMP/agent-$1.log" |
			head -2 | paste -sd' ' || true)"
}

/usr/bin/python3 - "$TMP/gen.c" <<'EOF'
import sys
out = []
for i in range(30):
    out.append("int f%d(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) {"
               " switch (a[i] %% 7) { case 0: s += a[i] * %d; break;"
               " case 1: s ^= a[i] << 3; break; case 2: s -= a[i] / 3; break;"
               " case 3: s += f%d(a + 1, n - 1); break; default: s += i; } }"
               " return s; }" % (i, 7 + i, max(i - 1, 0)))
out.append("int main(void) { int a[10] = {0}; return f29(a, 10); }")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF

echo "| start | launch to sampling | CPU to sampling (agent + worker) | CPU to first interval's end | cache |"
echo "|---|---:|---:|---:|---|"
one_start first
one_start restart
echo
echo "command: ${CACHE:+CACHE=$CACHE }bench/startup.sh $AGENT   ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
