#!/usr/bin/env bash
# What starting processes costs the agent: its main thread's CPU (from
# schedstat) between 5 and 25 s of a whole-system run, on bench/run.sh's
# load plus a loop that starts ps, cat and sleep 0.04 (about 8 loops, 24
# processes, a second here), per loop; the agent's wake-ups (voluntary
# context switches) and its /proc/PID/maps reads alongside.
#
#   bench/process_churn.sh [AGENT]     (root; default build/agent/smolder)
set -euo pipefail
AGENT=$(realpath "${1:-build/agent/smolder}")
WORKLOAD_DIR=${WORKLOAD_DIR:-$(dirname "$(dirname "$AGENT")")/tests/integration}
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
. "$(dirname "$0")/agent_run.sh"
bench_setup smolder-churn

"$WORKLOAD_DIR/cpu_shares" 45 </dev/null >/dev/null 2>&1 & PIDS+=($!)
"$WORKLOAD_DIR/syscall_loop" 45 </dev/null >/dev/null 2>&1 & PIDS+=($!)
"$WORKLOAD_DIR/many_stacks" 45 1 1 1 </dev/null >/dev/null 2>&1 & PIDS+=($!)
"$AGENT" --duration 40s --upload-interval 10s --output-dir "$TMP/out" --log-level info \
	2>"$TMP/agent.log" & AGENT_PID=$!
PIDS+=("$AGENT_PID")
(
	while :; do
		ps -o rss= -p 1 >/dev/null; cat /proc/self/stat >/dev/null; sleep 0.04
		echo x >>"$TMP/loops"
	done
) & PIDS+=($!)

main_ms() { awk '{printf "%d", $1 / 1e6}' "/proc/$AGENT_PID/task/$AGENT_PID/schedstat"; }
switches() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$AGENT_PID/status"; }
loops() { wc -l <"$TMP/loops"; }
sleep 5
m0=$(main_ms); s0=$(switches); l0=$(loops)
sleep 20
m1=$(main_ms); s1=$(switches); l1=$(loops)
reads=$(grep ' counters ' "$TMP/agent.log" | tail -1 | sed -n 's/.* process_maps_reads=\([0-9]*\).*/\1/p')
echo "agent: $AGENT"
echo "loops in 20 s: $((l1 - l0)); main thread: $((m1 - m0)) ms," \
	"$(awk -v m=$((m1 - m0)) -v l=$((l1 - l0)) 'BEGIN {printf "%.2f", m / l}') ms a loop"
echo "wake-ups: $(((s1 - s0) / 20)) a second; /proc/PID/maps reads in the last interval: $reads"
