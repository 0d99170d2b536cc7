#!/bin/bash
# The agent's CPU per minute once started (issue 14's benchmarks): the
# agent, whole-system at 97 Hz, and `perf record -a -g -F 97` beside it,
# both for the same minutes on the load bench/run.sh uses. The agent's
# CPU (it and its parser worker, utime + stime from /proc) is read at the
# end of every minute; perf's is read the same way.
#
#   bench/long_run.sh [AGENT]     (root; MINUTES=10 by default)
set -euo pipefail

AGENT=$(realpath "${1:-build/agent/smolder}")
MINUTES=${MINUTES:-10}
WORKLOAD_DIR=$(dirname "$(dirname "$AGENT")")/tests/integration
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
TMP=$(mktemp -d /tmp/smolder-long.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
HZ=$(getconf CLK_TCK)
SECONDS_RUN=$((MINUTES * 60))

ticks() { # pid and its children, utime + stime, in ticks
	local t c
	t=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0)
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

"$WORKLOAD_DIR/cpu_shares" $((SECONDS_RUN + 60)) </dev/null >/dev/null 2>&1 &
"$WORKLOAD_DIR/syscall_loop" $((SECONDS_RUN + 60)) </dev/null >/dev/null 2>&1 &
"$WORKLOAD_DIR/many_stacks" $((SECONDS_RUN + 60)) 1 1 1 </dev/null >/dev/null 2>&1 &
sleep 2

"$AGENT" --output-dir "$TMP/out" --upload-interval 15s --http-listen off >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
until grep -q "sampling started" "$TMP/agent.log"; do sleep 0.1; done
perf record -a -g -F 97 -o "$TMP/perf.data" -- sleep "$SECONDS_RUN" >/dev/null 2>&1 &
PERF_PID=$!

echo "| minute | agent + worker CPU in that minute | perf CPU in that minute |"
echo "|---:|---:|---:|"
prev_a=$(ticks "$AGENT_PID"); prev_p=$(ticks "$PERF_PID")
echo "| 0 (start-up, to sampling) | $(echo "scale=2; $prev_a / $HZ" | bc) s | |"
for m in $(seq 1 "$MINUTES"); do
	sleep 60
	a=$(ticks "$AGENT_PID"); p=$(ticks "$PERF_PID")
	echo "| $m | $(echo "scale=2; ($a - $prev_a) / $HZ" | bc) s | $(echo "scale=2; ($p - $prev_p) / $HZ" | bc) s |"
	prev_a=$a; prev_p=$p
done
kill -INT "$AGENT_PID"
wait "$AGENT_PID" || true
wait "$PERF_PID" || true
echo
echo "command: MINUTES=$MINUTES bench/long_run.sh $AGENT   ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
echo "perf's own time at exit (its build-id pass) is not in the per-minute figures."
