#!/bin/bash
# What Python frames cost (issue 15): the BPF walk of a deep Python stack
# next to a native one, and the agent on a machine full of interpreters next
# to `perf record`.
#
#   bench/python.sh [BUILDDIR]     (root; BUILDDIR defaults to build)
#
# (a) BPF time per sample, one workload at a time, each burning one CPU at
#     the bottom of a 30-deep recursion, under the agent with --pid PID for
#     BENCH_SECONDS (default 20) at 97 Hz:
#       - a sleeping process (`sleep`): no sample of its own, so every run
#         of the perf_event program is an early return; its run time a run
#         is what the other rows' runs for other tasks cost;
#       - native: unwind_work_gcc_pie stack30 (BUILDDIR/tests/integration,
#         as bench/unwind.sh uses);
#       - Python: bench/py_deep.py under pyenv's CPython 3.12, 30 recurse
#         frames in pure Python spinning in the innermost;
#       - the same Python process with --python-frames=false: the walk of
#         the Python frames costs the difference.
#     run_time_ns / run_cnt of the perf_event program (bench/proc_watch,
#     kernel.bpf_stats_enabled=1). The program runs on every tick of every
#     CPU and returns early for other tasks, so the run time is also given
#     a workload sample (samples_taken, scaled to the runs the reading saw:
#     it is taken up to 1 s before the agent exits), and net of the other
#     runs at the sleeping row's cost a run. From the profiles (go tool
#     pprof -raw): frames a sample, the share with Python frames and with
#     exactly 30 recurse frames.
# (b) 20 CPython processes, 5 each of 3.9, 3.11, 3.12 and 3.13 running
#     tests/integration/python_workload.py, whole system (no --pid) for
#     BENCH_SECONDS: the agent (and its parser worker, which it reaps) under
#     /usr/bin/time, its peak RSS and PSS with the worker's (proc_watch);
#     right after, on the same load, `perf record -a -g -F 97` for as long
#     (its CPU, RSS and PSS). Per version: the processes' share of the
#     machine's CPU while each ran (from /proc/PID/stat, read by shell
#     builtins: no process started while measuring), and so their share of
#     the samples to expect; the samples of the service python3.X in the
#     profiles, with Python frames (also in the intervals after the first,
#     when the tables and Python layouts are loaded), without (native
#     only), with a frame left unnamed; perf's samples of the command
#     python3.X. The agent's loss and python_* counters are for the whole
#     machine (they are not kept per process).
# Prints Markdown and the exact commands. Not a test: numbers only.
# BENCH_KEEP=DIR keeps the logs, profiles and perf.data there.
set -euo pipefail

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-20}
RATE=97
PYENV_VERSIONS=${PYENV_VERSIONS:-/root/.pyenv/versions}
HERE=$(cd "$(dirname "$0")" && pwd)
TESTS=$(cd "$HERE/../tests/integration" && pwd)
PY_DEEP=$HERE/py_deep.py
PY_WORK=$TESTS/python_workload.py

[[ $(id -u) == 0 ]] || { echo "python bench: run as root" >&2; exit 2; }
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "python bench: BENCH_SECONDS=$SECS is not a number of seconds" >&2; exit 2; }
AGENT=$(realpath -m "$BUILD/agent/smolder")
NATIVE=$(realpath -m "$BUILD/tests/integration/unwind_work_gcc_pie")
for f in "$AGENT" "$NATIVE"; do
	[[ -x $f ]] || { echo "python bench: $f missing (meson compile -C $BUILD)" >&2; exit 2; }
done
for f in "$PY_DEEP" "$PY_WORK" "$TESTS/smolder_harness.py"; do
	[[ -r $f ]] || { echo "python bench: $f missing" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "python bench: perf missing (linux-perf)" >&2; exit 2; }
command -v go >/dev/null || [[ -x /usr/bin/go ]] ||
	{ echo "python bench: go missing (golang-go): profiles are decoded with go tool pprof" >&2; exit 2; }
[[ -x /usr/bin/python3 ]] || { echo "python bench: /usr/bin/python3 missing (it reads the profiles)" >&2; exit 2; }

# pyenv's CPython 3.MINOR: "PATH VERSION", or the script stops.
pyenv_python() {
	local p v
	p=$(compgen -G "$PYENV_VERSIONS/3.$1.*/bin/python3.$1" | sort -V | tail -1 || true)
	[[ -n $p && -x $p ]] || { echo "python bench: no CPython 3.$1 under $PYENV_VERSIONS" >&2; return 2; }
	v=$("$p" -c 'import platform; print(platform.python_version())') ||
		{ echo "python bench: $p does not run" >&2; return 2; }
	echo "$p $v"
}
declare -A PY PYV
for m in 9 11 12 13; do
	r=$(pyenv_python "$m")
	PY[$m]=${r% *}
	PYV[$m]=${r#* }
done

. "$HERE/agent_run.sh"
bench_setup smolder-python-bench
export PYTHONDONTWRITEBYTECODE=1

# run_agent NAME ARGS...: the agent with ARGS until it exits; its times,
# log, BPF stats and memory kept as $TMP/NAME.{time,log,bpf,rss}, its
# profiles under $TMP/NAME/, its command line in $TMP/NAME.cmd.
run_agent() {
	local name=$1 rss
	shift
	local cmd=("$AGENT" --duration "${SECS}s" --upload-interval 10s --sample-rate "$RATE"
		--output-dir "$TMP/$name" --log-level info "$@")
	echo "${cmd[*]}" >"$TMP/$name.cmd"
	local t0=$EPOCHREALTIME
	bench_agent_start "${cmd[@]}"
	PIDS+=("$AGENT_PID")
	bench_sample_rss "$AGENT_PID" "$TMP/$name.rss" &
	rss=$!
	[[ -n ${ON_START:-} ]] && "$ON_START"
	bench_read_bpf_stats
	wait "$TIME_PID" || { echo "python bench: the agent ($name) failed:" >&2; tail -20 "$TMP/agent.log" >&2; exit 1; }
	[[ -n ${ON_STOP:-} ]] && "$ON_STOP"
	echo "$t0 $EPOCHREALTIME" | awk '{printf "%.1f\n", $2 - $1}' >"$TMP/$name.wall"
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
	wait "$rss"
	mv "$TMP/agent.time" "$TMP/$name.time"
	mv "$TMP/agent.log" "$TMP/$name.log"
	mv "$TMP/bpf.last" "$TMP/$name.bpf"
}

# stop PID: ends a workload this script started, and reaps it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# (a) One workload at a time, --pid.

sleep $((SECS + 60)) & IDLE_PID=$!
PIDS+=("$IDLE_PID")
run_agent idle --pid "$IDLE_PID"
stop "$IDLE_PID"

"$NATIVE" stack30 $((SECS + 60)) </dev/null >/dev/null 2>&1 & NATIVE_PID=$!
PIDS+=("$NATIVE_PID")
sleep 1
run_agent native --pid "$NATIVE_PID"
stop "$NATIVE_PID"

"${PY[12]}" -B "$PY_DEEP" $((2 * SECS + 60)) </dev/null >/dev/null 2>&1 & DEEP_PID=$!
PIDS+=("$DEEP_PID")
sleep 1
run_agent deep --pid "$DEEP_PID"
run_agent deep_off --pid "$DEEP_PID" --python-frames=false
stop "$DEEP_PID"

# ---------------------------------------------------------------------------
# (b) 20 interpreters, whole system: the agent, then perf record.

LOAD_PIDS=()
LOAD_VER=()
for m in 9 11 12 13; do
	for i in 1 2 3 4 5; do
		"${PY[$m]}" -B "$PY_WORK" $((2 * SECS + 60)) "$TMP/load.3.$m.$i.json" </dev/null >/dev/null 2>&1 &
		LOAD_PIDS+=($!)
		LOAD_VER+=("3.$m")
		PIDS+=($!)
	done
done
sleep 3
for p in "${LOAD_PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "python bench: load process $p exited early" >&2; exit 1; }
done
# Other Python processes (someone else's tests) share the services python3.X.
OTHERS=$(pgrep '^python' | grep -cvxF -f <(printf '%s\n' "${LOAD_PIDS[@]}") || true)

# cpu_ticks FILE: "T SECONDS" (the wall clock), then "PID VERSION TICKS"
# (utime + stime) of each load process, read by shell builtins only.
cpu_ticks() {
	local i s f
	echo "T $EPOCHREALTIME" >"$1"
	for i in "${!LOAD_PIDS[@]}"; do
		s=
		read -r s 2>/dev/null <"/proc/${LOAD_PIDS[$i]}/stat" || true
		read -r -a f <<<"${s##*) }"
		echo "${LOAD_PIDS[$i]} ${LOAD_VER[$i]} $((${f[11]:-0} + ${f[12]:-0}))" >>"$1"
	done
}
ticks_start() { cpu_ticks "$TMP/system.ticks0"; }
ticks_stop() { cpu_ticks "$TMP/system.ticks1"; }

ON_START=ticks_start ON_STOP=ticks_stop run_agent system

PERF_CMD=(perf record -a -g -F "$RATE" -o "$TMP/perf.data" -- sleep "$SECS")
/usr/bin/time -f '%U %S %M' -o "$TMP/perf.time" "${PERF_CMD[@]}" >"$TMP/perf.log" 2>&1 &
PERF_TIME_PID=$!
P_T0=$EPOCHREALTIME
cpu_ticks "$TMP/perf.ticks0"
PERF_PID=
for _ in $(seq 50); do
	PERF_PID=$(pgrep -P "$PERF_TIME_PID" | head -1 || true)
	[[ -n $PERF_PID ]] && break
	sleep 0.1
done
echo "0 0" >"$TMP/perf.rss"
PERF_RSS_PID=
if [[ -n $PERF_PID ]]; then
	PIDS+=("$PERF_PID")
	bench_sample_rss "$PERF_PID" "$TMP/perf.rss" &
	PERF_RSS_PID=$!
fi
wait "$PERF_TIME_PID" || { echo "python bench: perf record failed:" >&2; cat "$TMP/perf.log" >&2; exit 1; }
P_WALL=$(echo "$P_T0 $EPOCHREALTIME" | awk '{printf "%.1f", $2 - $1}')
cpu_ticks "$TMP/perf.ticks1"
[[ -n $PERF_RSS_PID ]] && wait "$PERF_RSS_PID"
for p in "${LOAD_PIDS[@]}"; do stop "$p"; done

# ---------------------------------------------------------------------------
# Reading it all back, the load gone.

read -r P_USER P_SYS P_RSS <"$TMP/perf.time"
read -r _ P_PSS <"$TMP/perf.rss" || P_PSS=0
P_BYTES=$(stat -c %s "$TMP/perf.data")
P_SAMPLES=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$TMP/perf.log" | tail -1)
perf script -F comm -i "$TMP/perf.data" 2>/dev/null | sort | uniq -c >"$TMP/perf.comm" || true

# analyze MODE ARGS: what the profiles and counters of a run say.
#   deep NAME: one line, "FIELD=VALUE ..." (see the end of the deep branch);
#   system: the per-version table's rows, then the counters' line.
analyze() {
	/usr/bin/python3 -B - "$TESTS" "$TMP" "$RATE" "$@" <<'PY'
import collections, datetime, glob, os, sys
sys.path.insert(0, sys.argv[1])
import smolder_harness as h

tmp, rate, mode = sys.argv[2], int(sys.argv[3]), sys.argv[4]


def counters(name):
    tot, peak = collections.Counter(), collections.Counter()
    with open(os.path.join(tmp, name + ".log"), errors="replace") as f:
        for line in f:
            if " counters " in line:
                for k, v in h.parse_counters(line).items():
                    if isinstance(v, int):
                        tot[k] += v
                        peak[k] = max(peak[k], v)
    return tot, peak


def samples(name, after_first=False):
    """{service: [Sample]} of every profile the run wrote (after_first:
    of every interval but the first, the one the agent started in)."""
    files = sorted(glob.glob(os.path.join(tmp, name, "*", "*.pb.gz")))
    start = lambda f: int(os.path.basename(f).split("-")[0])
    first = min(map(start, files), default=0)
    out = {}
    for f in files:
        if after_first and start(f) == first:
            continue
        service = os.path.basename(os.path.dirname(f))
        out.setdefault(service, []).extend(h.decode(f, service, 0, 0).samples)
    return out


def is_py(f):
    return f.mapping is not None and f.mapping.file == "[python]"


def pct(n, d):
    return "%.1f%%" % (100.0 * n / d) if d else "n/a"


if mode == "deep":
    tot, _ = counters(sys.argv[5])
    total = py = deep30 = root = native_frames = py_frames = 0
    for ss in samples(sys.argv[5]).values():
        for s in ss:
            user = s.user_frames
            pyf = [f for f in user if is_py(f)]
            total += s.count
            py += s.count if pyf else 0
            deep30 += s.count if sum(1 for f in pyf if f.name == "recurse") == 30 else 0
            root += s.count if {"__libc_start_call_main", "__libc_start_main"} & set(s.names) else 0
            native_frames += s.count * (len(user) - len(pyf))
            py_frames += s.count * len(pyf)
    pyc = " ".join("%s=%d" % (k, tot[k]) for k in
                   ("python_samples", "python_no_frames", "python_dropped", "python_truncated",
                    "python_error_read", "python_unnamed_gone", "python_unnamed_stale",
                    "python_unnamed_late"))
    lost = ",".join("%s=%d" % (k, v) for k, v in sorted(tot.items()) if k.startswith("lost_") and v)
    print("taken=%d filtered=%d profiled=%d decoded=%d py=%s deep30=%s root=%s "
          "native_frames=%.1f py_frames=%.1f lost=%s %s"
          % (tot["samples_taken"], tot["samples_filtered"], tot["samples_profiled"], total,
             pct(py, total), pct(deep30, total), pct(root, total),
             native_frames / total if total else 0, py_frames / total if total else 0,
             lost or "none", pyc))
elif mode == "system":
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(prefix):
        """{version: (processes, CPU seconds)} between the two readings,
        and the wall-clock seconds between them."""
        t0, wall = {}, 0.0
        with open(os.path.join(tmp, prefix + ".ticks0")) as f:
            for line in f:
                if line.startswith("T "):
                    wall = -float(line.split()[1])
                    continue
                pid, _, t = line.split()
                t0[pid] = int(t)
        out = {}
        with open(os.path.join(tmp, prefix + ".ticks1")) as f:
            for line in f:
                if line.startswith("T "):
                    wall += float(line.split()[1])
                    continue
                pid, ver, t = line.split()
                n, s = out.get(ver, (0, 0.0))
                out[ver] = (n + 1, s + max(0, int(t) - t0.get(pid, int(t))) / tick)
        return out, wall

    ncpu = os.cpu_count()
    tot, peak = counters("system")
    (a_cpu, a_wall), (p_cpu, p_wall) = cpu("system"), cpu("perf")
    # Samples are taken on every CPU at the same rate, so a version's
    # samples should be its share of the machine's CPU time (its CPU over
    # CPUs x wall time) of all ticks: BPF's (taken + filtered) or perf's.
    a_ticks = tot["samples_taken"] + tot["samples_filtered"]
    p_ticks = int(sys.argv[5] or 0)
    perf_comm = collections.Counter()
    with open(os.path.join(tmp, "perf.comm")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                perf_comm[parts[1]] += int(parts[0])
    by_service = samples("system")
    later = samples("system", after_first=True)
    rows = []
    for ver in sorted(a_cpu, key=lambda v: tuple(int(x) for x in v.split("."))):
        n, secs = a_cpu[ver]
        ss = by_service.get("python" + ver, [])
        total = h.count(ss)
        py = sum(s.count for s in ss if any(is_py(f) for f in s.frames))
        ls = later.get("python" + ver, [])
        py_later = sum(s.count for s in ls if any(is_py(f) for f in s.frames))
        after = "%s of %d" % (pct(py_later, h.count(ls)), h.count(ls)) if ls else "n/a"
        unnamed = sum(s.count for s in ss
                      if any(is_py(f) and (not f.name or f.name.startswith("[python")) for f in s.frames))
        share = secs / (ncpu * a_wall) if a_wall else 0.0
        expect = share * a_ticks
        _, psecs = p_cpu.get(ver, (0, 0.0))
        pshare = psecs / (ncpu * p_wall) if p_wall else 0.0
        pexpect = pshare * p_ticks
        got_perf = perf_comm.get("python" + ver, 0)
        rows.append("| %s | %d | %.1f s of %.1f s (%.1f%%) | %.0f | %d (%+.1f%%) | %d (%s) | %s | %d (%s) | %d (%s) | %.1f%%: %.0f | %d (%+.1f%%) |"
                    % (ver, n, secs, a_wall, 100.0 * share, expect, total,
                       100.0 * (total - expect) / expect if expect else 0,
                       py, pct(py, total), after, total - py, pct(total - py, total),
                       unnamed, pct(unnamed, total),
                       100.0 * pshare, pexpect, got_perf,
                       100.0 * (got_perf - pexpect) / pexpect if pexpect else 0))
    print("\n".join(rows))
    keys = ("samples_taken", "samples_profiled", "samples_filtered", "python_samples",
            "python_undescribed", "python_no_frames", "python_dropped", "python_truncated", "python_error_read",
            "python_unnamed_gone", "python_unnamed_stale", "python_unnamed_late",
            "python_unsupported", "stack_copies_sent", "stack_copies_used",
            "stack_copies_dropped", "symbol_late")
    lost = ["%s=%d" % (k, v) for k, v in sorted(tot.items()) if k.startswith("lost_")]
    print("COUNTERS " + " ".join(["%s=%d" % (k, tot[k]) for k in keys] + lost +
                                 ["python_processes(peak)=%d" % peak["python_processes"],
                                  "python_codes(peak)=%d" % peak["python_codes"]]))
    # The peak anonymous memory of agent + worker over the intervals' gauges.
    best = (0, 0)
    with open(os.path.join(tmp, "system.log"), errors="replace") as f:
        for line in f:
            if " counters " in line:
                c = h.parse_counters(line)
                a, w = c.get("memory_resident_bytes", 0), c.get("worker_resident_bytes", 0)
                best = max(best, (a, w), key=sum)
    print("ANON %d %d" % best)
    print("SERVICES " + ", ".join("%s %d" % (k, v) for k, v in sorted(
        ((k, h.count(v)) for k, v in by_service.items()), key=lambda kv: -kv[1])))
    # From `sampling started` to the last counters line.
    stamps = []
    with open(os.path.join(tmp, "system.log"), errors="replace") as f:
        for line in f:
            if "sampling started" in line or " counters " in line:
                stamps.append(datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ"))
    print("WINDOW %.1f" % ((stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0))
PY
}

# field NAME LINE: the value of NAME=VALUE in LINE.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

declare -A D NS CNT TAKEN FILT CPU
for r in idle native deep deep_off; do
	D[$r]=$(analyze deep "$r")
	read -r NS[$r] CNT[$r] <"$TMP/$r.bpf"
	TAKEN[$r]=$(field taken "${D[$r]}")
	FILT[$r]=$(field filtered "${D[$r]}")
	CPU[$r]=$(awk '{printf "%.2f s", $1 + $2}' "$TMP/$r.time")
done
SYSTEM=$(analyze system "${P_SAMPLES:-0}")
read -r _ A_ANON W_ANON < <(grep '^ANON ' <<<"$SYSTEM")
COUNTERS=$(sed -n 's/^COUNTERS //p' <<<"$SYSTEM")
ROWS=$(grep '^|' <<<"$SYSTEM")
WINDOW=$(sed -n 's/^WINDOW //p' <<<"$SYSTEM")
SERVICES=$(sed -n 's/^SERVICES //p' <<<"$SYSTEM")

BASE_NS=$(awk -v n="${NS[idle]}" -v c="${CNT[idle]}" 'BEGIN {printf "%.1f", c ? n / c : 0}')
# per_sample RUN: "NS_A_SAMPLE NET_NS_A_SAMPLE": the run time over the
# workload's samples in the reading's window (samples_taken scaled by
# run_cnt / (taken + filtered)), and the same less the other runs at the
# sleeping target's cost a run.
per_sample() {
	awk -v n="${NS[$1]}" -v c="${CNT[$1]}" -v t="${TAKEN[$1]}" -v f="${FILT[$1]}" -v b="$BASE_NS" 'BEGIN {
		w = (t + f) ? t * c / (t + f) : 0
		if (w) printf "%.0f %.0f\n", n / w, (n - (c - w) * b) / w; else print "n/a n/a"
	}'
}
read -r PS_NATIVE NET_NATIVE < <(per_sample native)
read -r PS_DEEP NET_DEEP < <(per_sample deep)
read -r PS_OFF NET_OFF < <(per_sample deep_off)
diff_ns() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "n/a" || b == "n/a") print "n/a"; else printf "%.0f", a - b}'; }

run_row() {
	local r=$1 label=$2 ps=$3 net=$4
	local d=${D[$r]}
	[[ $ps == n/a ]] || ps="$ps ns"
	[[ $net == n/a ]] || net="$net ns"
	printf '| %s | %s taken (%s in profiles) | %s | %s ns | %s | %s | %s native + %s Python | %s | %s | %s | %s |\n' \
		"$label" "${TAKEN[$r]}" "$(field decoded "$d")" "${CNT[$r]}" \
		"$(awk -v n="${NS[$r]}" -v c="${CNT[$r]}" 'BEGIN {printf "%.0f", c ? n / c : 0}')" \
		"$ps" "$net" "$(field native_frames "$d")" "$(field py_frames "$d")" \
		"$(field py "$d")" "$(field deep30 "$d")" "$(field root "$d")" "${CPU[$r]}"
}
cpu() { awk -v u="$1" -v s="$2" 'BEGIN {printf "%.2f s (%.2f user + %.2f sys)", u + s, u, s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
pct() { awk -v u="$1" -v s="$2" -v t="$3" 'BEGIN {printf "%.2f%% of one CPU over %.1f s", 100 * (u + s) / t, t}'; }
read -r A_USER A_SYS A_RSS <"$TMP/system.time"
read -r A_TREE_RSS A_TREE_PSS <"$TMP/system.rss"
read -r S_NS S_CNT <"$TMP/system.bpf"
COMMIT=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$HERE" diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
PYC() { field "$1" "${D[deep]}"; }

cat <<EOF
## Python frames: BPF time per sample of 30-deep stacks, ${SECS} s each at ${RATE} Hz, --pid

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); commit \`$COMMIT\`
- Native: \`$NATIVE stack30\` (25 recursion frames under main and libc's start, -O2 -fomit-frame-pointer)
- Python: \`${PY[12]} -B $PY_DEEP SECONDS\` (CPython ${PYV[12]}; 30 recurse frames under <module>, pure Python)
- Idle: \`sleep\`: no samples of its own, every run of the program an early return
- Agent: \`$(cat "$TMP/native.cmd")\` (the others differ in --pid, and \`--python-frames=false\` for the last Python row; under \`/usr/bin/time\`, with \`kernel.bpf_stats_enabled=1\`)
- Script: \`BENCH_SECONDS=$SECS bench/python.sh ${1:-}\`

| workload | samples of the workload | BPF runs (all CPUs) | BPF time a run | a workload sample | a workload sample, net of the other runs | user frames a sample | with Python frames | exactly 30 recurse frames | reach libc's start | agent CPU |
|---|---|---|---|---|---|---|---|---|---|---|
$(run_row idle "sleeping target (early returns only)" "n/a" "n/a")
$(run_row native "native stack30" "$PS_NATIVE" "$NET_NATIVE")
$(run_row deep "Python ${PYV[12]}, 30 deep" "$PS_DEEP" "$NET_DEEP")
$(run_row deep_off "same process, --python-frames=false" "$PS_OFF" "$NET_OFF")
| Python frames' walk (difference of the two rows above) | | | | $(diff_ns "$PS_DEEP" "$PS_OFF") ns | $(diff_ns "$NET_DEEP" "$NET_OFF") ns | | | | | |

- "A workload sample": run_time_ns over the workload's samples_taken, scaled to the runs the last reading saw (run_cnt / (samples_taken + samples_filtered)); "net": less the runs for other tasks at the sleeping row's ${BASE_NS} ns a run.
- Python run's counters: $(for k in python_samples python_no_frames python_dropped python_truncated python_error_read python_unnamed_gone python_unnamed_stale python_unnamed_late; do printf '%s=%s ' "$k" "$(PYC "$k")"; done)lost: $(PYC lost)
- --python-frames=false run: lost: $(field lost "${D[deep_off]}"); native run: lost: $(field lost "${D[native]}")

## 20 CPython processes (5 each of 3.9, 3.11, 3.12, 3.13), whole system, ${SECS} s at ${RATE} Hz: smolder next to perf record -a -g

- Load: \`python3.X -B $PY_WORK SECONDS OUT\`, 5 each of $(for m in 9 11 12 13; do printf '%s (%s) ' "${PYV[$m]}" "${PY[$m]}"; done)— each a main thread and a second thread, both in pure Python, on $(nproc) CPUs; other Python processes running at the start: ${OTHERS} (they share the services python3.X)
- Agent: \`$(cat "$TMP/system.cmd")\` (under \`/usr/bin/time\`, with \`kernel.bpf_stats_enabled=1\`)
- perf, right after on the same load: \`${PERF_CMD[*]}\`

| | smolder | perf record -a -g |
|---|---|---|
| CPU time (user+sys; smolder's with its parser worker) | $(cpu "$A_USER" "$A_SYS") | $(cpu "$P_USER" "$P_SYS") |
| CPU share, start to exit | $(pct "$A_USER" "$A_SYS" "$(cat "$TMP/system.wall")") | $(pct "$P_USER" "$P_SYS" "$P_WALL") |
| Peak RSS (/usr/bin/time: the largest process) | $(mib "$A_RSS") | $(mib "$P_RSS") |
| Peak RSS, agent + parser worker together (every 0.2 s) | $(mib "$A_TREE_RSS") | |
| Peak PSS, together (shared pages once) | $(mib "$A_TREE_PSS") | $(mib "$P_PSS") (perf and its children) |
| Anonymous resident, agent + worker (peak interval) | $(mib $((A_ANON / 1024 + W_ANON / 1024))) ($(mib $((A_ANON / 1024))) + $(mib $((W_ANON / 1024)))) | |
| Bytes written | $(find "$TMP/system" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.1f KiB", s / 1024}') | $(awk -v b="$P_BYTES" 'BEGIN {printf "%.1f KiB", b / 1024}') (perf.data) |
| Samples (all processes) | $(field samples_taken "$COUNTERS") taken, $(field samples_profiled "$COUNTERS") profiled | ${P_SAMPLES:-?} |
| BPF time a run | $(awk -v n="$S_NS" -v c="$S_CNT" 'BEGIN {if (c) printf "%.0f ns (%d runs, %.3f s in all)", n / c, c, n / 1e9; else print "n/a"}') | (no BPF) |

Per version (the services python3.X). Expected: the version's share of the machine's CPU time while the agent (then perf) ran, of all the ticks BPF saw (samples_taken + samples_filtered), or of perf's samples; from /proc/PID/stat, read as the agent started sampling and when it exited (perf: as it started and exited).

| version | processes | CPU while the agent ran (of the machine's) | samples expected | samples in profiles (vs expected) | with Python frames | with Python frames, intervals after the first | without (native only) | with a Python frame unnamed | perf: CPU share, samples expected | perf samples (command python3.X) |
|---|---|---|---|---|---|---|---|---|---|---|
${ROWS}

- Agent counters (whole machine, all intervals): ${COUNTERS}
- Samples by service (python_processes above 20, or services the load has not, are someone else's): ${SERVICES}
- A sample of a Python process taken before the agent has put the process in BPF's py_procs (with its unwind tables, once the parser worker has read the interpreter) gets native frames only (from its stack copy, stack_copies_used, if its tables were not loaded either), counted as python_undescribed: the "without" column, mostly in the first interval.
- The agent ran ${WINDOW} s from \`sampling started\` to its last counters line, where --duration ${SECS}s counts from that first line too: the rest is its loop seeing the end late (busy with the new processes, waiting on the parser worker) and the last interval's naming.
EOF
if [[ -n ${BENCH_KEEP:-} ]]; then
	mkdir -p "$BENCH_KEEP"
	cp -a "$TMP/." "$BENCH_KEEP/"
fi
