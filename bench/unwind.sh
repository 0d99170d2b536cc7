#!/bin/bash
# The BPF unwinder (issue 6) next to `perf record --call-graph dwarf`, on
# the same workload at the same rate.
#
#   bench/unwind.sh [BUILDDIR]     (root; BUILDDIR defaults to build)
#
# Workload: unwind_work_gcc_pie stack30 (BUILDDIR/tests/integration), one
# process burning one CPU at the bottom of a recursion: 30-frame stacks of
# -O2 -fomit-frame-pointer code, through libc's start. Then, one after the
# other, for BENCH_SECONDS (default 30) each:
#   (a) the agent with --pid, under /usr/bin/time: its CPU seconds and peak
#       RSS; its perf_event program's run time per sample (run_time_ns /
#       run_cnt with kernel.bpf_stats_enabled=1; with --pid the program
#       still runs on every tick of every CPU, and returns early for other
#       tasks: the per-sample figure divides by all runs, so the walk's own
#       cost is also given per workload sample); the kernel memory of the
#       unwind maps (bpftool map show: bytes_memlock); the share of the
#       workload's samples whose stacks reach main (go tool pprof -raw);
#   (b) perf record --call-graph dwarf -F 97 -p PID: its CPU seconds, peak
#       RSS, bytes written per sample.
# And the table build time (bench/unwind_build) of libc and of the
# largest ELF file under /usr. Prints a Markdown table and the commands.
set -euo pipefail

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-30}
RATE=97
AGENT=$(realpath "$BUILD/agent/smolder")
WORK=$(realpath "$BUILD/tests/integration/unwind_work_gcc_pie")
BUILDER=$(realpath "$BUILD/bench/unwind_build")
for f in "$AGENT" "$WORK" "$BUILDER"; do
	[[ -x $f ]] || { echo "unwind bench: $f missing (meson compile -C $BUILD)" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "unwind bench: run as root" >&2; exit 2; }
command -v perf >/dev/null || { echo "unwind bench: perf missing (linux-perf)" >&2; exit 2; }

. "$(dirname "$0")/agent_run.sh"
bench_setup smolder-unwind-bench

"$WORK" stack30 $((2 * SECS + 60)) </dev/null >/dev/null 2>&1 & WPID=$!
PIDS+=("$WPID")
sleep 1

# (a) The agent.
AGENT_CMD=("$AGENT" --pid "$WPID" --duration "${SECS}s" --upload-interval 10s
	--sample-rate "$RATE" --output-dir "$TMP/profiles" --log-level info)
bench_agent_start "${AGENT_CMD[@]}"
MAPS=$(bench_agent_ids map_id)
sleep 2
for m in $MAPS; do bpftool map show id "$m" --json 2>/dev/null; echo; done >"$TMP/maps.json"
bench_read_bpf_stats
wait "$TIME_PID"
sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
read -r A_USER A_SYS A_RSS <"$TMP/agent.time"

read -r BPF_NS BPF_CNT <"$TMP/bpf.last"
read -r ROWS_MEM PROCS_MEM < <(/usr/bin/python3 - "$TMP/maps.json" <<'PY'
import json, sys
mem = {}
for line in open(sys.argv[1]):
    if line.strip():
        m = json.loads(line)
        mem[m.get("name", "")] = m.get("bytes_memlock", 0)
print(mem.get("unwind_rows", 0), mem.get("unwind_procs", 0))
PY
)
read -r TAKEN WALKED REACH ROWS < <(/usr/bin/python3 - "$TMP/profiles" "$TMP/agent.log" "$(dirname "$0")/../tests/integration" <<'PY'
import glob, re, sys
sys.path.insert(0, sys.argv[3])
import smolder_harness as h
taken = rows = 0
for line in open(sys.argv[2]):
    if " counters " in line:
        c = h.parse_counters(line)
        taken += c.get("samples_taken", 0)
        rows = c.get("unwind_rows", rows)
total = good = 0
for f in glob.glob(sys.argv[1] + "/*/*.pb.gz"):
    p = h.decode(f, "x", 0, 0)
    for s in p.samples:
        names = [fr.name for fr in s.frames]
        total += s.count
        good += s.count if "main" in names else 0
print(taken, total, "%.2f%%" % (100.0 * good / total if total else 0), rows)
PY
)

# (b) perf record, DWARF unwinding, same process, same rate.
PERF_CMD=(perf record --call-graph dwarf -F "$RATE" -p "$WPID" -o "$TMP/perf.data" -- sleep "$SECS")
/usr/bin/time -f '%U %S %M' -o "$TMP/perf.time" "${PERF_CMD[@]}" >"$TMP/perf.log" 2>&1
read -r P_USER P_SYS P_RSS <"$TMP/perf.time"
P_BYTES=$(stat -c %s "$TMP/perf.data")
P_SAMPLES=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$TMP/perf.log" | tail -1)

# Table build times.
LIBC=$(realpath /lib/x86_64-linux-gnu/libc.so.6)
# The largest ELF file with CFI (a stripped Go binary has none: skipped).
B_LARGE=$(find /usr/bin /usr/sbin /usr/lib -type f -size +1M -printf '%s %p\n' 2>/dev/null | sort -rn |
	while read -r _ f; do
		head -c4 "$f" 2>/dev/null | grep -q $'\x7fELF' || continue
		"$BUILDER" "$f" 3 2>/dev/null && break
	done)
B_LIBC=$("$BUILDER" "$LIBC")

cpu() { awk -v u="$1" -v s="$2" 'BEGIN {printf "%.2f s (%.2f user + %.2f sys)", u + s, u, s}'; }
cat <<EOF
## BPF unwinder next to perf record --call-graph dwarf: ${SECS} s at ${RATE} Hz

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); commit \`$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo ?)\`
- Workload: \`$WORK stack30\` (30-frame stacks, -O2 -fomit-frame-pointer, one CPU busy)
- Agent: \`${AGENT_CMD[*]}\`
- perf: \`${PERF_CMD[*]}\`
- Script: \`bench/unwind.sh ${1:-}\`

| | smolder (BPF .eh_frame walk) | perf record --call-graph dwarf |
|---|---|---|
| CPU time (user+sys) | $(cpu "$A_USER" "$A_SYS") | $(cpu "$P_USER" "$P_SYS") |
| Peak RSS | $(awk -v k="$A_RSS" 'BEGIN {printf "%.1f MiB", k / 1024}') | $(awk -v k="$P_RSS" 'BEGIN {printf "%.1f MiB", k / 1024}') |
| Samples of the workload | ${TAKEN} taken, ${WALKED} in profiles, ${REACH} reach main | ${P_SAMPLES:-?} |
| Bytes written per sample | $(find "$TMP/profiles" -type f -printf '%s\n' | awk -v n="$WALKED" '{s+=$1} END {printf "%.0f", n ? s / n : 0}') (gzipped pprof) | $(awk -v b="$P_BYTES" -v n="${P_SAMPLES:-0}" 'BEGIN {printf "%.0f", n ? b / n : 0}') (perf.data: 8 KiB of stack a sample) |
| BPF run time | $(awk -v n="$BPF_NS" -v c="$BPF_CNT" -v t="$TAKEN" 'BEGIN {printf "%.0f ns a run over %d runs; %.1f us a workload sample", c ? n / c : 0, c, t ? n / t / 1000 : 0}') | (no BPF) |
| Kernel memory of the unwind maps | rows $(awk -v b="$ROWS_MEM" 'BEGIN {printf "%.1f MiB", b / 1048576}') (${ROWS} rows in use), processes $(awk -v b="$PROCS_MEM" 'BEGIN {printf "%.1f MiB", b / 1048576}') | |

Table build (\`bench/unwind_build FILE\`, best of 5; of 3 for the largest):

- libc: \`$B_LIBC\`
- largest ELF under /usr: \`$B_LARGE\`
EOF
