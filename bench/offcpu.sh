#!/bin/bash
# What off-CPU and lock-contention profiles cost a program that switches
# often (issue 16), next to `perf record -e sched:sched_switch -a -g` and
# the least a sched_switch BPF program costs (bpftrace counting switches).
#
#   bench/offcpu.sh [BUILDDIR]     (root; BUILDDIR defaults to build)
#
# The workload is bench/pingpong: two threads pinned to one CPU (BENCH_CPU,
# default 0) handing a byte back and forth over a pair of pipes, with
# -w ROUNDS of arithmetic per hand-over to set the rate: every hand-over is
# a context switch. The work is set for each rate of BENCH_RATES (default
# "100000 200000" switches a second): pingpong runs 2 s with no work and 2 s
# with 4000 rounds, and the rounds for each rate are read off the line
# through the two (time per switch = a + b * rounds); BENCH_WORKS="W1 W2"
# gives the rounds instead. For each, its throughput (round trips a second,
# pingpong's own count over BENCH_SECONDS, default 8) is measured
#   - off:    alone;
#   - cpu:    under the agent, --profile-types cpu (no sched_switch program);
#   - all:    under the agent, --profile-types cpu,offcpu,mutex, default
#             --off-cpu-sample;
#   - all@1:  the same with --off-cpu-sample=1 (every switch-out drawn);
#   - perf:   under `perf record -e sched:sched_switch -a -g` (every
#             switch, its stacks copied to perf.data);
#   - bpftrace: under `bpftrace -e 'tracepoint:sched:sched_switch
#             { @switches = count(); }'` (a per-CPU count, no stacks: the
#             floor of any program on every switch);
# BENCH_REPS times (default 5), the configurations in turn within each
# repetition (load that comes and goes spreads over all of them); the
# median is reported, with the loss next to "off" and the range. The agent
# profiles the whole system (no --pid) at 97 Hz in 5 s intervals, is
# started for each run and waited for (`sampling started`) before pingpong
# starts, and is stopped (SIGINT) after. kernel.bpf_stats_enabled stays 0
# in those runs (its clock reads would be part of the cost). Then, once for
# all, all@1, bpftrace and all@0.0001 (--off-cpu-sample=0.0001: next to
# nothing drawn, the cost every switch pays) a run with
# kernel.bpf_stats_enabled=1:
# run_time_ns and run_cnt of the sched_switch program (bpftool prog show,
# its id from the agent's or bpftrace's fdinfo), read just before and just
# after pingpong, give the BPF time per sched_switch during the storm,
# drawn (all@1: every switch-out walks two stacks) or mostly not (all). The
# agent's CPU time over pingpong's run (utime + stime from /proc/PID/stat,
# the agent and its parser worker) and its off-CPU counters are from the
# throughput runs.
# Prints Markdown and the exact commands. Not a test: numbers only.
# BENCH_KEEP=DIR keeps the logs there.
set -euo pipefail

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-8}
REPS=${BENCH_REPS:-5}
RATES=${BENCH_RATES:-100000 200000}
CPU=${BENCH_CPU:-0}
RATE=97
HERE=$(cd "$(dirname "$0")" && pwd)

[[ $(id -u) == 0 ]] || { echo "offcpu bench: run as root" >&2; exit 2; }
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "offcpu bench: BENCH_SECONDS=$SECS is not a number of seconds" >&2; exit 2; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "offcpu bench: BENCH_REPS=$REPS is not a count" >&2; exit 2; }
AGENT=$(realpath -m "$BUILD/agent/smolder")
PINGPONG=$(realpath -m "$BUILD/bench/pingpong")
for f in "$AGENT" "$PINGPONG"; do
	[[ -x $f ]] || { echo "offcpu bench: $f missing (meson compile -C $BUILD)" >&2; exit 2; }
done
"$AGENT" --help 2>&1 | grep -q -- '--profile-types' ||
	{ echo "offcpu bench: $AGENT has no --profile-types" >&2; exit 2; }
for t in perf bpftool bpftrace; do
	command -v "$t" >/dev/null || { echo "offcpu bench: $t missing" >&2; exit 2; }
done
[[ -x /usr/bin/python3 ]] || { echo "offcpu bench: /usr/bin/python3 missing (it reads the results)" >&2; exit 2; }

. "$HERE/agent_run.sh"
bench_setup smolder-offcpu-bench
sysctl -q -w kernel.bpf_stats_enabled=0
HZ=$(getconf CLK_TCK)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A CFG_ARGS=(
	[cpu]="--profile-types cpu"
	[all]="--profile-types cpu,offcpu,mutex"
	[all1]="--profile-types cpu,offcpu,mutex --off-cpu-sample=1"
	[all0]="--profile-types cpu,offcpu,mutex --off-cpu-sample=0.0001"
)
CONFIGS=(off cpu all all1 perf bpftrace)
# The least a sched_switch BPF program costs: bpftrace counting switches.
BPFTRACE_PROG='tracepoint:sched:sched_switch { @switches = count(); }'

# ticks PID: utime + stime of PID and its children (the parser worker), by
# shell builtins.
ticks() {
	local s f t=0 p
	for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		s=
		read -r s 2>/dev/null <"/proc/$p/stat" || continue
		read -r -a f <<<"${s##*) }"
		t=$((t + ${f[11]:-0} + ${f[12]:-0}))
	done
	echo "$t"
}

# switch_stats PID PREFIX: "NS CNT NAMES" summed over the BPF programs PID
# holds whose names start with PREFIX (the agent's sched_switch programs,
# smolder_off_*; bpftrace's, sched_switch), from bpftool, their ids from
# PID's fdinfo.
switch_stats() {
	local ids
	# (grep says 2 when an fd closes under it: not an error here)
	ids=$({ grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '{print $2}' | sort -u | tr '\n' ' ')
	/usr/bin/python3 - "$ids" "$2" <<'PY'
import json, subprocess, sys
ns = cnt = 0
names = []
for i in sys.argv[1].split():
    p = subprocess.run(["bpftool", "prog", "show", "id", i, "-j"], capture_output=True, text=True)
    if p.returncode:
        continue
    j = json.loads(p.stdout)
    if j.get("name", "").startswith(sys.argv[2]):
        ns += j.get("run_time_ns", 0)
        cnt += j.get("run_cnt", 0)
        names.append(j["name"])
print(ns, cnt, ",".join(names) or "-")
PY
}

# one_run CONFIG WORK TAG: pingpong under CONFIG; its JSON line into
# $TMP/TAG.json, the agent's log into $TMP/TAG.log, the agent's CPU ticks
# over pingpong's run into $TMP/TAG.ticks; with STATS=1, the sched_switch
# program's run time before and after into $TMP/TAG.bpf.
one_run() {
	local cfg=$1 work=$2 tag=$3 t0 t1 perf_pid bt_pid
	local pp=("$PINGPONG" -t "$SECS" -c "$CPU" -w "$work" -j)
	case $cfg in
	off)
		"${pp[@]}" >"$TMP/$tag.json"
		;;
	perf)
		perf record -e sched:sched_switch -a -g -o "$TMP/perf.data" >"$TMP/$tag.perf.log" 2>&1 &
		perf_pid=$!
		PIDS+=("$perf_pid")
		sleep 2 # perf has opened its events by then
		"${pp[@]}" >"$TMP/$tag.json"
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		echo "$(stat -c %s "$TMP/perf.data") $(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$TMP/$tag.perf.log" | tail -1)" \
			>"$TMP/$tag.perfsize"
		rm -f "$TMP/perf.data"
		;;
	bpftrace)
		[[ ${STATS:-0} == 1 ]] && sysctl -q -w kernel.bpf_stats_enabled=1
		bpftrace -e "$BPFTRACE_PROG" >"$TMP/$tag.bpftrace.log" 2>&1 &
		bt_pid=$!
		PIDS+=("$bt_pid")
		for _ in $(seq 100); do
			grep -q '^prog_id:' /proc/"$bt_pid"/fdinfo/* 2>/dev/null && break
			sleep 0.1
		done
		sleep 1
		[[ ${STATS:-0} == 1 ]] && switch_stats "$bt_pid" sched_switch >"$TMP/$tag.bpf0"
		"${pp[@]}" >"$TMP/$tag.json"
		[[ ${STATS:-0} == 1 ]] && switch_stats "$bt_pid" sched_switch >"$TMP/$tag.bpf1"
		kill -INT "$bt_pid"
		wait "$bt_pid" || true
		sysctl -q -w kernel.bpf_stats_enabled=0
		;;
	*)
		# shellcheck disable=SC2086
		local cmd=("$AGENT" --duration 10m --upload-interval 5s --sample-rate "$RATE"
			--output-dir "$TMP/out-$tag" --http-listen off --log-level info ${CFG_ARGS[$cfg]})
		echo "${cmd[*]}" >"$TMP/$cfg.cmd"
		bench_agent_start "${cmd[@]}"
		PIDS+=("$AGENT_PID")
		[[ ${STATS:-0} == 1 ]] || sysctl -q -w kernel.bpf_stats_enabled=0
		sleep 1
		[[ ${STATS:-0} == 1 ]] && switch_stats "$AGENT_PID" smolder_off >"$TMP/$tag.bpf0"
		t0=$(ticks "$AGENT_PID")
		"${pp[@]}" >"$TMP/$tag.json"
		t1=$(ticks "$AGENT_PID")
		[[ ${STATS:-0} == 1 ]] && switch_stats "$AGENT_PID" smolder_off >"$TMP/$tag.bpf1"
		echo "$((t1 - t0))" >"$TMP/$tag.ticks"
		kill -INT "$AGENT_PID"
		wait "$TIME_PID" || { echo "offcpu bench: the agent ($tag) failed:" >&2; tail -20 "$TMP/agent.log" >&2; exit 1; }
		sysctl -q -w kernel.bpf_stats_enabled=0
		mv "$TMP/agent.log" "$TMP/$tag.log"
		rm -rf "$TMP/out-$tag"
		;;
	esac
}

# switch_rate W: pingpong's switches a second over 2 s with W rounds.
switch_rate() {
	"$PINGPONG" -t 2 -c "$CPU" -w "$1" -j | sed -n 's/.*"switches_per_s":\([0-9]*\).*/\1/p'
}

if [[ -n ${BENCH_WORKS:-} ]]; then
	WORKS=$BENCH_WORKS
	CALIBRATION="rounds given (BENCH_WORKS)"
else
	R0=$(switch_rate 0)
	R1=$(switch_rate 4000)
	WORKS=
	for rate in $RATES; do
		WORKS+="$(awk -v r0="$R0" -v r1="$R1" -v t="$rate" 'BEGIN {
			a = 1 / r0; b = (1 / r1 - a) / 4000; w = b > 0 ? (1 / t - a) / b : 0
			printf "%d ", w < 0 ? 0 : w }')"
	done
	CALIBRATION="rounds for ${RATES// /, } switches/s from $R0 switches/s with none and $R1 with 4000"
fi
echo "offcpu bench: $CALIBRATION: -w $WORKS" >&2

for w in $WORKS; do
	for rep in $(seq "$REPS"); do
		# each repetition starts at another configuration
		n=${#CONFIGS[@]}
		for i in $(seq 0 $((n - 1))); do
			cfg=${CONFIGS[$(((i + rep - 1) % n))]}
			echo "offcpu bench: -w $w, repetition $rep, $cfg" >&2
			one_run "$cfg" "$w" "w$w.$cfg.$rep"
		done
	done
	for cfg in all all1 all0 bpftrace; do
		echo "offcpu bench: -w $w, BPF run time, $cfg" >&2
		STATS=1 one_run "$cfg" "$w" "w$w.$cfg.stats"
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

TABLE=$(/usr/bin/python3 - "$TMP" "$HZ" "$SECS" "$REPS" "$WORKS" <<'PY'
import json, os, re, statistics, sys

tmp, hz, secs, reps, works = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split()
configs = ["off", "cpu", "all", "all1", "perf", "bpftrace"]
label = {"off": "off", "cpu": "`--profile-types cpu`", "all": "`--profile-types cpu,offcpu,mutex`",
         "all1": "`--profile-types cpu,offcpu,mutex --off-cpu-sample=1`",
         "all0": "`--profile-types cpu,offcpu,mutex --off-cpu-sample=0.0001` (BPF time only)",
         "perf": "`perf record -e sched:sched_switch -a -g`",
         "bpftrace": "`bpftrace -e 'tracepoint:sched:sched_switch { @switches = count(); }'`"}

def load(path):
    with open(path) as f:
        return f.read()

def counters(tag):
    tot = {}
    p = os.path.join(tmp, tag + ".log")
    if not os.path.exists(p):
        return tot
    for line in load(p).splitlines():
        if " counters " not in line:
            continue
        for k, v in re.findall(r"(\w+)=(\d+)(?:\s|$)", line.split(" counters ", 1)[1]):
            tot[k] = tot.get(k, 0) + int(v)
    return tot

def fmt(x):
    return "{:,.0f}".format(x)

def stats_cell(w, c):
    """The stats run's BPF time a run of the sched_switch program."""
    b0 = load(os.path.join(tmp, "w%s.%s.stats.bpf0" % (w, c))).split()
    b1 = load(os.path.join(tmp, "w%s.%s.stats.bpf1" % (w, c))).split()
    ns, cnt = int(b1[0]) - int(b0[0]), int(b1[1]) - int(b0[1])
    st = json.loads(load(os.path.join(tmp, "w%s.%s.stats.json" % (w, c))))
    if not cnt:
        return "n/a"
    return ("%.0f ns (%s runs in %.1f s, %s; pingpong %s round trips/s in that run)"
            % (ns / cnt, fmt(cnt), st["seconds"], b1[2], fmt(st["round_trips_per_s"])))

out = []
for w in works:
    res = {}
    for c in configs:
        runs = [json.loads(load(os.path.join(tmp, "w%s.%s.%d.json" % (w, c, r))))
                for r in range(1, reps + 1)]
        res[c] = runs
    base = statistics.median(r["round_trips_per_s"] for r in res["off"])
    base_sw = statistics.median(r["switches_per_s"] for r in res["off"])
    out.append("### pingpong -w %s: %s switches/s alone (median)" % (w, fmt(base_sw)))
    out.append("")
    out.append("| | round trips/s (median of %d) | lost vs off | range | switches/s (median) | agent CPU over pingpong's run (median) | BPF time a sched_switch (stats run) | the agent's books (all %d runs, whole system) |" % (reps, reps))
    out.append("|---|---|---|---|---|---|---|---|")
    for c in configs:
        rt = [r["round_trips_per_s"] for r in res[c]]
        sw = statistics.median(r["switches_per_s"] for r in res[c])
        med = statistics.median(rt)
        lost = "" if c == "off" else "%.1f%%" % (100.0 * (base - med) / base)
        cpu = bpf = books = ""
        if c in ("cpu", "all", "all1"):
            t = [int(load(os.path.join(tmp, "w%s.%s.%d.ticks" % (w, c, r)))) for r in range(1, reps + 1)]
            cpu = "%.2f s (%.1f%% of one CPU)" % (statistics.median(t) / hz,
                                                  100.0 * statistics.median(t) / hz / secs)
            tot = {}
            for r in range(1, reps + 1):
                for k, v in counters("w%s.%s.%d" % (w, c, r)).items():
                    tot[k] = tot.get(k, 0) + v
            n_lost = sum(v for k, v in tot.items()
                         if (k.startswith("offcpu_lost") and not k.endswith("_ns")) or k == "mutex_lost")
            books = ("switch-outs seen %s, drawn %s (%.2f%%), lost %s (%s ns); lock waits %s; "
                     "CPU samples %s, lost %s"
                     % (fmt(tot.get("offcpu_switches", 0)), fmt(tot.get("offcpu_sampled", 0)),
                        100.0 * tot.get("offcpu_sampled", 0) / max(1, tot.get("offcpu_switches", 0)),
                        fmt(n_lost), fmt(tot.get("offcpu_lost_ns", 0)), fmt(tot.get("mutex_waits", 0)),
                        fmt(tot.get("samples_taken", 0)),
                        fmt(sum(v for k, v in tot.items() if k.startswith("lost_")))))
        if c in ("all", "all1", "bpftrace"):
            bpf = stats_cell(w, c)
        if c == "perf":
            sizes = [load(os.path.join(tmp, "w%s.perf.%d.perfsize" % (w, r))).split()
                     for r in range(1, reps + 1)]
            books = "perf.data %.0f MiB, %s samples (median)" % (
                statistics.median(int(s[0]) for s in sizes) / 2**20,
                fmt(statistics.median(int(s[1]) if len(s) > 1 else 0 for s in sizes)))
        out.append("| %s | %s | %s | %s-%s | %s | %s | %s | %s |"
                   % (label[c], fmt(med), lost, fmt(min(rt)), fmt(max(rt)), fmt(sw), cpu, bpf, books))
    out.append("| %s | | | | | | %s | |" % (label["all0"], stats_cell(w, "all0")))
    out.append("")
print("\n".join(out))
PY
)

cat <<EOF
## Off-CPU profiles under a context-switch storm: smolder vs perf record -e sched:sched_switch

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at start ${LOAD_START}, at end ${LOAD_END}
- Workload: \`$PINGPONG -t $SECS -c $CPU -w W -j\` (pipe mode: two threads on CPU $CPU, a byte back and forth; W = ${WORKS% }: ${CALIBRATION})
- Agent: \`$(cat "$TMP/all.cmd")\` (per run; cpu: \`--profile-types cpu\`; all@1: \`--off-cpu-sample=1\` added)
- perf: \`perf record -e sched:sched_switch -a -g -o perf.data\`, started 2 s before pingpong, stopped (SIGINT) after
- ${REPS} repetitions of each, the configurations in turn; BPF time from one more run each with \`kernel.bpf_stats_enabled=1\`
- Script: \`BENCH_SECONDS=$SECS BENCH_REPS=$REPS BENCH_CPU=$CPU $([[ -n ${BENCH_WORKS:-} ]] && echo "BENCH_WORKS=\"$WORKS\"" || echo "BENCH_RATES=\"$RATES\"") bench/offcpu.sh ${1:-}\`

${TABLE}
EOF
if [[ -n ${BENCH_KEEP:-} ]]; then
	mkdir -p "$BENCH_KEEP"
	cp -a "$TMP/." "$BENCH_KEEP/"
fi
