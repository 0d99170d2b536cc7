#!/bin/bash
# Overhead of the agent next to `perf record`, on the same busy machine.
#
#   bench/run.sh [AGENT]         (root; AGENT defaults to build/agent/smolder)
#
# Keeps both CPUs busy with the integration workloads (built next to the
# agent, in BUILDDIR/tests/integration; WORKLOAD_DIR overrides), then, one
# after the other on that same load:
#   (a) the agent, 60 s at 97 Hz on the whole system, under /usr/bin/time:
#       CPU seconds (user+sys), peak RSS, bytes written, and the run time per
#       sample of its perf_event BPF program (kernel.bpf_stats_enabled=1,
#       then run_time_ns / run_cnt from its fdinfo, read while it runs);
#   (b) `perf record -a -g -F 97` for 60 s: CPU seconds, peak RSS, bytes.
# Prints a Markdown table and the exact commands. Not a test: numbers only.
set -euo pipefail

AGENT=${1:-build/agent/smolder}
SECONDS_EACH=${BENCH_SECONDS:-60}
RATE=97
[[ -x $AGENT ]] || { echo "bench: no agent at $AGENT (build it, or pass its path)" >&2; exit 2; }
AGENT=$(realpath "$AGENT")
WORKLOAD_DIR=${WORKLOAD_DIR:-$(dirname "$(dirname "$AGENT")")/tests/integration}
for w in cpu_shares syscall_loop many_stacks; do
	[[ -x $WORKLOAD_DIR/$w ]] || { echo "bench: no workload $WORKLOAD_DIR/$w" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }

. "$(dirname "$0")/agent_run.sh"
bench_setup smolder-bench

# The load: three busy processes on two CPUs, for both measurements and a
# margin. Stdin at EOF: the workloads start at once (see workload.h).
LOAD_SECONDS=$((2 * SECONDS_EACH + 40))
"$WORKLOAD_DIR/cpu_shares" "$LOAD_SECONDS" </dev/null >/dev/null 2>&1 & PIDS+=($!)
"$WORKLOAD_DIR/syscall_loop" "$LOAD_SECONDS" </dev/null >/dev/null 2>&1 & PIDS+=($!)
"$WORKLOAD_DIR/many_stacks" "$LOAD_SECONDS" 1 1 1 </dev/null >/dev/null 2>&1 & PIDS+=($!)
LOAD_DESC="cpu_shares + syscall_loop + many_stacks (1 process, 1 thread): 3 busy processes on $(nproc) CPUs"
sleep 3

# (a) The agent.
AGENT_CMD=("$AGENT" --duration "${SECONDS_EACH}s" --upload-interval 10s --sample-rate "$RATE"
	--output-dir "$TMP/profiles" --log-level info)
bench_agent_start "${AGENT_CMD[@]}"
bench_sample_rss "$AGENT_PID" "$TMP/agent.rss" &
RSS_PID=$!
# Its perf_event programs' run_time_ns/run_cnt until it exits: the last
# reading before the programs go away is the one reported.
bench_read_bpf_stats
wait "$TIME_PID" || { echo "bench: the agent failed:" >&2; tail -20 "$TMP/agent.log" >&2; exit 1; }
sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
wait "$RSS_PID"
read -r A_USER A_SYS A_RSS <"$TMP/agent.time"
read -r A_TREE_RSS A_TREE_PSS <"$TMP/agent.rss"
A_BYTES=$(find "$TMP/profiles" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
A_FILES=$(find "$TMP/profiles" -type f | wc -l)
read -r BPF_NS BPF_CNT <"$TMP/bpf.last"
# Totals of the agent's per-interval counters: taken, profiled, each loss.
read -r A_TAKEN A_PROFILED A_LOST < <(grep ' counters ' "$TMP/agent.log" | /usr/bin/python3 -c '
import re, sys
tot = {}
for line in sys.stdin:
    for k, v in re.findall(r"(\w+)=(\d+)(?:\s|$)", line.split(" counters ", 1)[1]):
        tot[k] = tot.get(k, 0) + int(v)
lost = ",".join("%s=%d" % (k, v) for k, v in sorted(tot.items()) if k.startswith("lost_") and v)
print(tot.get("samples_taken", 0), tot.get("samples_profiled", 0), lost or "none")
')

# The agent's and its parser worker's anonymous resident memory (what
# --memory-limit bounds), the peak of their sum over the intervals' gauges.
read -r A_ANON W_ANON < <(grep ' counters ' "$TMP/agent.log" | /usr/bin/python3 -c '
import re, sys
best = (0, 0)
for line in sys.stdin:
    c = dict(re.findall(r"(\w+)=(\d+)", line))
    a, w = int(c.get("memory_resident_bytes", 0)), int(c.get("worker_resident_bytes", 0))
    best = max(best, (a, w), key=sum)
print(*best)
')

# (b) perf record, same load, same rate.
PERF_CMD=(perf record -a -g -F "$RATE" -o "$TMP/perf.data" -- sleep "$SECONDS_EACH")
/usr/bin/time -f '%U %S %M' -o "$TMP/perf.time" "${PERF_CMD[@]}" >"$TMP/perf.log" 2>&1 &
PERF_TIME_PID=$!
PERF_PID=
for _ in $(seq 50); do
	PERF_PID=$(pgrep -P "$PERF_TIME_PID" | head -1 || true)
	[[ -n $PERF_PID ]] && break
	sleep 0.1
done
echo "0 0" >"$TMP/perf.rss"
PERF_RSS_PID=
if [[ -n $PERF_PID ]]; then
	bench_sample_rss "$PERF_PID" "$TMP/perf.rss" &
	PERF_RSS_PID=$!
fi
wait "$PERF_TIME_PID" || { echo "bench: perf record failed:" >&2; cat "$TMP/perf.log" >&2; exit 1; }
[[ -n $PERF_RSS_PID ]] && wait "$PERF_RSS_PID"
read -r P_USER P_SYS P_RSS <"$TMP/perf.time"
read -r _ P_PSS <"$TMP/perf.rss" || P_PSS=0
P_BYTES=$(stat -c %s "$TMP/perf.data")
P_SAMPLES=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$TMP/perf.log" | tail -1)

# The table.
cpu() { awk -v u="$1" -v s="$2" 'BEGIN {printf "%.2f s (%.2f user + %.2f sys)", u + s, u, s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
bytes() { awk -v b="$1" 'BEGIN {printf "%.1f KiB", b / 1024}'; }
pct() { awk -v u="$1" -v s="$2" -v t="$SECONDS_EACH" 'BEGIN {printf "%.2f%% of one CPU", 100 * (u + s) / t}'; }
PER_SAMPLE=$(awk -v n="$BPF_NS" -v c="$BPF_CNT" 'BEGIN {if (c) printf "%.0f ns (%d runs, %.3f s in all)", n / c, c, n / 1e9; else print "n/a"}')

cat <<EOF
## smolder vs perf record: ${SECONDS_EACH} s at ${RATE} Hz, whole system

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
- Load: ${LOAD_DESC}
- Agent: \`${AGENT_CMD[*]}\` (under \`/usr/bin/time\`, with \`kernel.bpf_stats_enabled=1\`)
- perf: \`${PERF_CMD[*]}\`
- Script: \`bench/run.sh ${1:-}\`

| | smolder | perf record -a -g |
|---|---|---|
| CPU time (user+sys) | $(cpu "$A_USER" "$A_SYS") | $(cpu "$P_USER" "$P_SYS") |
| CPU share over ${SECONDS_EACH} s | $(pct "$A_USER" "$A_SYS") | $(pct "$P_USER" "$P_SYS") |
| Peak RSS | $(mib "$A_RSS") | $(mib "$P_RSS") |
| Peak RSS, agent + parser worker together (sampled every 0.2 s) | $(mib "$A_TREE_RSS") | |
| Peak PSS, agent + parser worker together (shared pages once) | $(mib "$A_TREE_PSS") | $(mib "$P_PSS") (perf and its children) |
| Agent + parser worker, anonymous resident (peak interval) | $(mib $((A_ANON / 1024 + W_ANON / 1024))) ($(mib $((A_ANON / 1024))) + $(mib $((W_ANON / 1024)))) | |
| Bytes written | $(bytes "$A_BYTES") in ${A_FILES} profiles | $(bytes "$P_BYTES") (perf.data) |
| Samples | ${A_TAKEN} taken, ${A_PROFILED} profiled (lost: ${A_LOST}) | ${P_SAMPLES:-?} |
| BPF program time per sample | ${PER_SAMPLE} | (no BPF) |

Notes: the BPF program's time is charged to whatever task each tick
interrupted, not to the agent: smolder's whole cost is the agent's CPU time
plus that (perf's in-kernel stack capture is likewise not in its CPU time).
The program runs on every tick of every CPU, idle ones included (it returns
early for the idle task), and run_cnt counts those runs too; it is read up
to 1 s before the agent exits. perf's CPU time includes its build-id pass
at exit.
EOF
