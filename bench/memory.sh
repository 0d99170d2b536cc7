#!/bin/bash
# What memory profiles cost a program that does little but call its
# allocator (issue 17), next to the peers' uprobes on the same calls:
# bpftrace with bcc memleak's shape, and `perf record` of `perf probe`
# events.
#
#   bench/memory.sh [BUILDDIR]     (root; BUILDDIR defaults to build)
#
# The workload is bench/malloc_bench (BENCH_THREADS threads, default 1):
# a live set of 64 blocks per thread, one replaced at random as fast as it
# goes (free + malloc of 16 to 4096 bytes, free + calloc, or realloc), about
# 1.9 allocator calls per allocation. Its throughput (allocations a second,
# its own count over BENCH_SECONDS, default 5) is measured
#   - off:      alone;
#   - idle:     under the agent, `--profile-types cpu,memory --pid SLEEPER`
#               (the memory target a sleeping process: the bench is never
#               probed, the agent runs);
#   - mem:      under the agent targeting it, `--profile-types cpu,memory
#               --pid BENCH --memory-max-hits 0` (default
#               --memory-sample-bytes, 512K; no ceiling: every call pays);
#   - mem10:    the same with --memory-sample-bytes 51200 (10x the rate);
#   - ceiling:  targeting it at the default --memory-max-hits (20000), over
#               BENCH_CEILING_SECONDS (default 30): what the ceiling leaves
#               of the throughput (the probes on for a second, then off for
#               10 s, 20 s, ...);
#   - bpftrace: under bpftrace in bcc memleak's shape: uprobes on malloc,
#               calloc and realloc storing the size by thread, uretprobes
#               on them storing the block by address, a uprobe on free
#               deleting it (memleak also takes a stack id per allocation;
#               this is the shape without it: its floor);
#   - perf:     under `perf record -e 'malloc_bench:*' -p BENCH` of `perf
#               probe` events on the same calls (entries with their
#               arguments, returns with the block), each hit written to
#               perf.data (no stacks);
# BENCH_REPS times (default 3), the configurations in turn within each
# repetition (each repetition starts at another one); the median is
# reported with the range and the loss next to "off".
#
# The bench runs with a private copy of libc.so.6 (LD_LIBRARY_PATH), in
# every configuration: bpftrace 0.17 ignores -p for uprobes in shared
# libraries (bpftrace issue 2817, fixed in 0.20), so its probes on the
# system's libc would trap every process of the machine; on the copy they
# trap the bench alone. The agent and perf attach to the pid either way.
#
# Then, once each for mem, mem10 and bpftrace, a run of
# BENCH_STATS_SECONDS (default 3) with kernel.bpf_stats_enabled=1 (it
# stays 0 in the throughput runs: its clock reads would be part of the
# cost): run_time_ns and run_cnt of the agent's smolder_mem_in and
# smolder_mem_ret programs (bpftrace's: all of its programs), read before
# and after the bench's run, give the BPF time per probe hit. The sysctl
# is put back as it was at exit. And once each, BENCH_STATS_SECONDS, what
# one hit costs by where the probe is: bpftrace with an empty program at
# malloc's entry (on Debian 12's glibc 2.36 a `push`, which the kernel
# emulates), at its return, and at free's entry (`test %rdi,%rdi`, which
# it single-steps; the agent probes free past it, memleak and the peers
# here at its entry).
#
# Before each run the script waits (up to BENCH_WAIT seconds, default 900)
# while a process not its own has "smolder" in its command line (somebody
# else's test: what `pgrep -f smolder` finds) or a compiler or build runs;
# a run during which one appeared is made again (BENCH_TRIES runs at most,
# default 10). The whole takes about 250 s on 2 CPUs, waiting aside.
# Prints Markdown and the exact commands. Not a test: numbers only.
# BENCH_KEEP=DIR keeps the logs there.
set -euo pipefail

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-5}
CEIL_SECS=${BENCH_CEILING_SECONDS:-30}
STATS_SECS=${BENCH_STATS_SECONDS:-3}
REPS=${BENCH_REPS:-3}
THREADS=${BENCH_THREADS:-1}
WAIT_MAX=${BENCH_WAIT:-900}
TRIES=${BENCH_TRIES:-10}
RATE=97
HERE=$(cd "$(dirname "$0")" && pwd)
SYS_LIBC=/lib/x86_64-linux-gnu/libc.so.6

[[ $(id -u) == 0 ]] || { echo "memory bench: run as root" >&2; exit 2; }
for v in SECS CEIL_SECS STATS_SECS REPS THREADS TRIES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "memory bench: $v=${!v} is not a positive whole number" >&2; exit 2; }
done
AGENT=$(realpath -m "$BUILD/agent/smolder")
MB=$(realpath -m "$BUILD/bench/malloc_bench")
for f in "$AGENT" "$MB"; do
	[[ -x $f ]] || { echo "memory bench: $f missing (meson compile -C $BUILD)" >&2; exit 2; }
done
[[ $("$AGENT" --help 2>&1) == *--memory-max-hits* ]] ||
	{ echo "memory bench: $AGENT has no memory profiles (--memory-max-hits)" >&2; exit 2; }
for t in perf bpftool bpftrace; do
	command -v "$t" >/dev/null || { echo "memory bench: $t missing" >&2; exit 2; }
done
[[ -x /usr/bin/python3 ]] || { echo "memory bench: /usr/bin/python3 missing (it reads the results)" >&2; exit 2; }
[[ -r $SYS_LIBC ]] || { echo "memory bench: no $SYS_LIBC" >&2; exit 2; }

. "$HERE/agent_run.sh"
bench_setup bench-memory
PERF_GROUP=malloc_bench
cleanup_all() {
	perf probe -q -d "$PERF_GROUP:*" >/dev/null 2>&1 || true
	if [[ -n ${BENCH_KEEP:-} ]]; then
		mkdir -p "$BENCH_KEEP"
		cp -a "$TMP/." "$BENCH_KEEP/"
	fi
	bench_cleanup
}
trap cleanup_all EXIT
sysctl -q -w kernel.bpf_stats_enabled=0
HZ=$(getconf CLK_TCK)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WAITED=0

mkdir -p "$TMP/lib"
cp "$SYS_LIBC" "$TMP/lib/libc.so.6"
LIBC=$TMP/lib/libc.so.6

# The idle configuration's memory target: a process that never allocates.
sleep 100000 &
SLEEPER=$!
PIDS+=("$SLEEPER")

declare -A CFG_ARGS=(
	[idle]="--profile-types cpu,memory --pid SLEEPER"
	[mem]="--profile-types cpu,memory --pid BENCH --memory-max-hits 0"
	[mem10]="--profile-types cpu,memory --pid BENCH --memory-max-hits 0 --memory-sample-bytes 51200"
	[ceiling]="--profile-types cpu,memory --pid BENCH"
)
CONFIGS=(off idle mem mem10 ceiling bpftrace perf)
# bcc memleak's shape: the size by thread at an allocation's entry, the
# block by address at its return, deleted at free (realloc: the old block
# deleted at entry). The same on the three allocation functions the bench
# calls.
declare -A BT_PROGS
BT_PROGS[bpftrace]="uprobe:$LIBC:malloc { @size[tid] = arg0; }
uprobe:$LIBC:calloc { @size[tid] = arg0 * arg1; }
uprobe:$LIBC:realloc { delete(@live[arg0]); @size[tid] = arg1; }
uretprobe:$LIBC:malloc, uretprobe:$LIBC:calloc, uretprobe:$LIBC:realloc /@size[tid]/ { @live[retval] = @size[tid]; delete(@size[tid]); }
uprobe:$LIBC:free { delete(@live[arg0]); }
END { clear(@live); clear(@size); }"
# What one hit costs by where the probe is: an empty program at malloc's
# entry (its first instruction, a push, the kernel emulates), at its
# return (a uretprobe: the entry's trap, then the return's through the
# trampoline), and at free's entry (`test %rdi,%rdi`, which it
# single-steps).
BT_PROGS[bt_malloc]="uprobe:$LIBC:malloc {}"
BT_PROGS[bt_mret]="uretprobe:$LIBC:malloc {}"
BT_PROGS[bt_free]="uprobe:$LIBC:free {}"
declare -A BT_NPROGS=([bpftrace]=7 [bt_malloc]=1 [bt_mret]=1 [bt_free]=1)
PERF_PROBES=("$PERF_GROUP:mb_malloc=malloc bytes=%di" "$PERF_GROUP:mb_malloc_ret=malloc%return \$retval"
	"$PERF_GROUP:mb_calloc=calloc n=%di size=%si" "$PERF_GROUP:mb_calloc_ret=calloc%return \$retval"
	"$PERF_GROUP:mb_realloc=realloc ptr=%di bytes=%si" "$PERF_GROUP:mb_realloc_ret=realloc%return \$retval"
	"$PERF_GROUP:mb_free=free ptr=%di")

# forget PID: PID has been waited for: not to be killed at exit (its
# number may be another process's by then).
forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# others: processes of somebody else's that would share the CPUs: a test
# of the agent (anything whose command line says "smolder") or a build;
# not this script's own (its descendants: its agent, bpftrace, perf). One
# ps, so that watching costs next to nothing.
others() {
	ps -eo pid=,ppid=,comm=,args= | awk -v me="$$" '
		{ ppid[$1] = $2 }
		$3 ~ /^(ninja|make|cc|cc1|gcc|clang|clang-14|ld|ld\.bfd|ld\.lld)$/ || /smolder/ { cand[$1] = 1 }
		END {
			for (p in cand) {
				q = p
				while (q > 1 && q != me && (q in ppid))
					q = ppid[q]
				if (q != me)
					print p
			}
		}'
}

# wait_quiet: until others finds nothing, at most WAIT_MAX seconds in all.
wait_quiet() {
	local o n=0
	while o=$(others); [[ -n $o ]]; do
		if ((WAITED >= WAIT_MAX)); then
			echo "memory bench: still running after ${WAIT_MAX}s of waiting, measuring anyway: $(echo "$o" | tr '\n' ' ')" >&2
			echo "(past BENCH_WAIT)" >>"$TMP/busy"
			return 0
		fi
		((n++ % 30 == 0)) && echo "memory bench: waiting for $(ps -o comm= -p "$(echo "$o" | paste -sd,)" 2>/dev/null | sort -u | tr '\n' ' ')" >&2
		sleep 1
		WAITED=$((WAITED + 1))
	done
}

# ticks PID: utime + stime of PID and its children (the parser worker).
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

# prog_stats PID: {"name": [run_time_ns, run_cnt], ...} of the BPF programs
# PID holds (its fds), summed by name, from bpftool.
prog_stats() {
	local ids
	ids=$({ grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '{print $2}' | sort -u | tr '\n' ' ')
	/usr/bin/python3 - "$ids" <<'PY'
import json, subprocess, sys
out = {}
for i in sys.argv[1].split():
    p = subprocess.run(["bpftool", "prog", "show", "id", i, "-j"], capture_output=True, text=True)
    if p.returncode:
        continue
    j = json.loads(p.stdout)
    s = out.setdefault(j.get("name", "?"), [0, 0])
    s[0] += j.get("run_time_ns", 0)
    s[1] += j.get("run_cnt", 0)
print(json.dumps(out))
PY
}

# one_run CONFIG SECONDS TAG: the bench under CONFIG; its JSON into
# $TMP/TAG.json, the agent's log into $TMP/TAG.log and its CPU ticks over
# the bench's run into $TMP/TAG.ticks; with STATS=1, the BPF programs' run
# times before and after into $TMP/TAG.bpf0 and .bpf1.
one_run() {
	local cfg=$1 secs=$2 tag=$3 bpid obs="" t0 t1 args watch
	wait_quiet
	LD_LIBRARY_PATH=$TMP/lib "$MB" -t "$secs" -T "$THREADS" -j -w >"$TMP/$tag.out" &
	bpid=$!
	PIDS+=("$bpid")
	for _ in $(seq 400); do
		grep -q '^ready' "$TMP/$tag.out" && break
		sleep 0.05
	done
	grep -q "^ready $bpid\$" "$TMP/$tag.out" ||
		{ echo "memory bench: malloc_bench ($bpid) did not say it was ready in 20 s: $(cat "$TMP/$tag.out")" >&2; exit 1; }
	grep -q "$TMP/lib/libc.so.6" /proc/"$bpid"/maps || { echo "memory bench: malloc_bench does not map the copy of libc" >&2; exit 1; }
	[[ ${STATS:-0} == 1 ]] && sysctl -q -w kernel.bpf_stats_enabled=1
	case $cfg in
	off) ;;
	bpftrace | bt_*)
		bpftrace -e "${BT_PROGS[$cfg]}" >"$TMP/$tag.log" 2>&1 &
		obs=$!
		PIDS+=("$obs")
		for _ in $(seq 200); do
			grep -qs '^Attaching' "$TMP/$tag.log" &&
				[[ $({ grep -h '^prog_id:' /proc/"$obs"/fdinfo/* 2>/dev/null || true; } | wc -l) -ge ${BT_NPROGS[$cfg]} ]] && break
			sleep 0.1
		done
		sleep 1
		;;
	perf)
		perf record -e "$PERF_GROUP:*" -p "$bpid" -o "$TMP/perf.data" >"$TMP/$tag.log" 2>&1 &
		obs=$!
		PIDS+=("$obs")
		# until it has its 7 events open
		for _ in $(seq 100); do
			[[ $(find /proc/"$obs"/fd -lname 'anon_inode:*perf_event*' 2>/dev/null | wc -l) -ge 7 ]] && break
			sleep 0.1
		done
		sleep 0.5
		;;
	*)
		args=${CFG_ARGS[$cfg]//BENCH/$bpid}
		args=${args//SLEEPER/$SLEEPER}
		# shellcheck disable=SC2206
		local cmd=("$AGENT" --duration "$((secs + 120))s" --upload-interval 5s --sample-rate "$RATE"
			--output-dir "$TMP/out-$tag" --http-listen off --log-level info $args)
		echo "${cmd[*]}" | sed "s|$TMP/out-$tag|DIR|; s|--pid $bpid|--pid BENCH|; s|--pid $SLEEPER|--pid SLEEPER|" >"$TMP/$cfg.cmd"
		"${cmd[@]}" 2>"$TMP/$tag.log" &
		obs=$!
		PIDS+=("$obs")
		local target=$bpid
		[[ $cfg == idle ]] && target=$SLEEPER
		for _ in $(seq 300); do
			grep -qs 'sampling started' "$TMP/$tag.log" && grep -qs "memory target $target .*probes on" "$TMP/$tag.log" && break
			kill -0 "$obs" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "memory target $target .*probes on" "$TMP/$tag.log" ||
			{ echo "memory bench: the agent ($tag) did not attach to $target:" >&2; tail -20 "$TMP/$tag.log" >&2; exit 1; }
		sleep 1
		;;
	esac
	[[ ${STATS:-0} == 1 && -n $obs ]] && prog_stats "$obs" >"$TMP/$tag.bpf0"
	[[ -n $obs ]] && t0=$(ticks "$obs")
	# somebody else's process during the run: measured again (measure)
	rm -f "$TMP/$tag.disturbed"
	(while :; do [[ -z $(others) ]] || echo 1 >"$TMP/$tag.disturbed"; sleep 1; done) &
	watch=$!
	PIDS+=("$watch")
	kill -USR1 "$bpid"
	wait "$bpid" || { echo "memory bench: malloc_bench ($tag) failed" >&2; exit 1; }
	forget "$bpid"
	kill "$watch"
	wait "$watch" 2>/dev/null || true
	forget "$watch"
	[[ -n $obs ]] && t1=$(ticks "$obs") && echo "$((t1 - t0))" >"$TMP/$tag.ticks"
	[[ ${STATS:-0} == 1 && -n $obs ]] && prog_stats "$obs" >"$TMP/$tag.bpf1"
	tail -1 "$TMP/$tag.out" >"$TMP/$tag.json"
	if [[ -n $obs ]]; then
		kill -INT "$obs"
		wait "$obs" || [[ $cfg == bpftrace || $cfg == bt_* || $cfg == perf ]] ||
			{ echo "memory bench: the agent ($tag) failed:" >&2; tail -20 "$TMP/$tag.log" >&2; exit 1; }
		forget "$obs"
	fi
	sysctl -q -w kernel.bpf_stats_enabled=0
	if [[ $cfg == perf ]]; then
		echo "$(stat -c %s "$TMP/perf.data") $(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$TMP/$tag.log" | tail -1)" \
			>"$TMP/$tag.perfsize"
		rm -f "$TMP/perf.data"
	fi
	rm -rf "$TMP/out-$tag"
}

# measure CONFIG SECONDS TAG: one_run, again while somebody else's
# process ran beside it (BENCH_TRIES in all, default 10, and while
# BENCH_WAIT lasts); the last is kept, and said to be, if none was alone.
measure() {
	local try
	for ((try = 1; ; try++)); do
		one_run "$@"
		[[ -f $TMP/$3.disturbed ]] || return 0
		echo "memory bench: $3 (try $try) shared the machine with somebody else's process" >&2
		((try < TRIES && WAITED < WAIT_MAX)) || break
		echo "$3" >>"$TMP/again"
	done
	echo "$3" >>"$TMP/busy"
}

# perf's events, on the copy of libc: defined once, removed at exit.
perf probe -q -d "$PERF_GROUP:*" >/dev/null 2>&1 || true
for p in "${PERF_PROBES[@]}"; do
	perf probe -q -x "$LIBC" -a "$p" >>"$TMP/perf-probe.log" 2>&1 ||
		{ echo "memory bench: perf probe -x $LIBC -a '$p' failed:" >&2; cat "$TMP/perf-probe.log" >&2; exit 1; }
done

T_START=$(date +%s)
for rep in $(seq "$REPS"); do
	n=${#CONFIGS[@]}
	for i in $(seq 0 $((n - 1))); do
		cfg=${CONFIGS[$(((i + rep - 1) % n))]}
		secs=$SECS
		[[ $cfg == ceiling ]] && secs=$CEIL_SECS
		echo "memory bench: repetition $rep, $cfg" >&2
		measure "$cfg" "$secs" "$cfg.$rep"
	done
done
for cfg in mem mem10 bpftrace; do
	echo "memory bench: BPF run time, $cfg" >&2
	STATS=1 measure "$cfg" "$STATS_SECS" "$cfg.stats"
done
for cfg in bt_malloc bt_mret bt_free; do
	echo "memory bench: one hit's cost by site, $cfg" >&2
	measure "$cfg" "$STATS_SECS" "$cfg.site"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T_START))

TABLE=$(/usr/bin/python3 - "$TMP" "$HZ" "$REPS" "$THREADS" "$SECS" "$CEIL_SECS" <<'PY'
import json, os, re, statistics, sys

tmp, hz, reps, threads, secs, ceil_secs = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                           int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
configs = ["off", "idle", "mem", "mem10", "ceiling", "bpftrace", "perf"]
label = {"off": "alone",
         "idle": "smolder, not a target (`cpu,memory --pid SLEEPER`)",
         "mem": "smolder targeting it, `--memory-max-hits 0`",
         "mem10": "the same, `--memory-sample-bytes 51200`",
         "ceiling": "smolder targeting it, default `--memory-max-hits` (%d s runs)" % ceil_secs,
         "bpftrace": "bpftrace, memleak's shape (no stacks)",
         "perf": "`perf record` of `perf probe` events"}
agent_cfgs = ("idle", "mem", "mem10", "ceiling")

def load(path):
    with open(path) as f:
        return f.read()

def run(c, r):
    return json.loads(load(os.path.join(tmp, "%s.%s.json" % (c, r))))

def counters(tag):
    tot = {}
    p = os.path.join(tmp, tag + ".log")
    if not os.path.exists(p):
        return tot
    for line in load(p).splitlines():
        if " counters " not in line:
            continue
        for k, v in re.findall(r"(\w+)=(\d+)(?:\s|$)", line.split(" counters ", 1)[1]):
            if k == "malloc_live" or k == "malloc_targets":
                continue
            tot[k] = tot.get(k, 0) + int(v)
    return tot

def fmt(x):
    return "{:,.0f}".format(x)

def ns_per_alloc(allocs_per_s):
    return threads * 1e9 / allocs_per_s

res = {c: [run(c, r) for r in range(1, reps + 1)] for c in configs}
base = statistics.median(r["allocs_per_s"] for r in res["off"])
base_ns = ns_per_alloc(base)

# BPF time per hit, from the stats runs
bpf = {}
for c in ("mem", "mem10", "bpftrace"):
    b0 = json.loads(load(os.path.join(tmp, "%s.stats.bpf0" % c)))
    b1 = json.loads(load(os.path.join(tmp, "%s.stats.bpf1" % c)))
    d = {k: (v[0] - b0.get(k, [0, 0])[0], v[1] - b0.get(k, [0, 0])[1]) for k, v in b1.items()}
    st = run(c, "stats")
    calls = st["allocs"] + st["frees"]
    if c == "bpftrace":
        ns = sum(v[0] for v in d.values())
        cnt = sum(v[1] for v in d.values())
        detail = "%s program runs for %s allocator calls" % (fmt(cnt), fmt(calls))
    else:
        names = [k for k in d if k in ("smolder_mem_in", "smolder_mem_ret", "smolder_mem_rfp")]
        ns = sum(d[k][0] for k in names)
        detail = ", ".join("%s %s runs, %.0f ns each" % (k, fmt(d[k][1]), d[k][0] / max(1, d[k][1]))
                           for k in sorted(names))
        cnt = d.get("smolder_mem_in", (0, 0))[1]
        detail += " (%s allocator calls)" % fmt(calls)
    bpf[c] = (ns / max(1, calls), detail, st)

out = []
out.append("| | allocations/s (median of %d) | range | ns per allocation | vs alone | lost | CPU ns per allocation (user+sys) | extra ns per allocator call | BPF ns per hit (stats run) | agent CPU over the run |" % reps)
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in configs:
    a = [r["allocs_per_s"] for r in res[c]]
    med = statistics.median(a)
    ns = ns_per_alloc(med)
    cpu_ns = statistics.median((r["user_s"] + r["sys_s"]) * 1e9 / r["allocs"] for r in res[c])
    calls_per_alloc = statistics.median((r["allocs"] + r["frees"]) / r["allocs"] for r in res[c])
    vs = "" if c == "off" else "%+.0f ns (x%.1f)" % (ns - base_ns, ns / base_ns)
    lost = "" if c == "off" else "%.1f%%" % (100.0 * (base - med) / base)
    extra = ""
    if c in ("mem", "mem10", "bpftrace", "perf"):
        extra = "%.0f" % ((ns - base_ns) / calls_per_alloc)
    b = "%.0f" % bpf[c][0] if c in bpf else ""
    agent = ""
    if c in agent_cfgs or c in ("bpftrace", "perf"):
        t = [int(load(os.path.join(tmp, "%s.%d.ticks" % (c, r)))) for r in range(1, reps + 1)]
        run_s = statistics.median(r["seconds"] for r in res[c])
        agent = "%.2f s (%.1f%%)" % (statistics.median(t) / hz, 100.0 * statistics.median(t) / hz / run_s)
    out.append("| %s | %s | %s-%s | %.0f | %s | %s | %.0f | %s | %s | %s |"
               % (label[c], fmt(med), fmt(min(a)), fmt(max(a)), ns, vs, lost, cpu_ns, extra, b, agent))
out.append("")
out.append("- calls per allocation (alone): %.2f; alone, %.0f ns per allocation, %.0f ns per call"
           % (statistics.median((r["allocs"] + r["frees"]) / r["allocs"] for r in res["off"]),
              base_ns, base_ns / statistics.median((r["allocs"] + r["frees"]) / r["allocs"] for r in res["off"])))
for c in ("mem", "mem10", "bpftrace"):
    st = bpf[c][2]
    out.append("- BPF time, %s (%s s with `kernel.bpf_stats_enabled=1`, %s allocations/s in that run): %s"
               % (c, st["seconds"], fmt(st["allocs_per_s"]), bpf[c][1]))
for c in agent_cfgs:
    tot = {}
    for r in range(1, reps + 1):
        for k, v in counters("%s.%d" % (c, r)).items():
            tot[k] = tot.get(k, 0) + v
    keys = ["malloc_calls", "malloc_hits", "malloc_nested", "malloc_sampled", "malloc_stored",
            "malloc_lost", "malloc_live_full", "malloc_detached", "malloc_scaled", "samples_taken"]
    out.append("- agent's books, %s (all %d runs): %s" % (c, reps, ", ".join(
        "%s %s" % (k, fmt(tot.get(k, 0))) for k in keys)))
def log_time(line):
    # 2026-12-07T01:06:13.657Z info ...
    import calendar, time
    ts = line.split(" ", 1)[0]
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + ts[19:-1])

for r in range(1, reps + 1):
    j = run("ceiling", r)
    slow = sum(1 for x in j["per_s"] if x < base / 2)
    out.append("- ceiling run %d, allocations in each second (k): %s; %d of %d seconds under half the rate alone"
               % (r, " ".join("%.0f" % (x / 1000) for x in j["per_s"]), slow, len(j["per_s"])))
    ev = []
    for line in load(os.path.join(tmp, "ceiling.%d.log" % r)).splitlines():
        m = re.search(r"memory target \d+: (\d+) allocator calls a second, over --memory-max-hits \d+: probes off for (\d+)s", line)
        if m:
            ev.append("off at %.1f s (%s calls/s) for %s s" % (log_time(line) - j["start_unix"], fmt(int(m.group(1))), m.group(2)))
        elif re.search(r"memory target \d+ \(.*\): \d+ probes on", line):
            ev.append("on at %.1f s" % (log_time(line) - j["start_unix"]))
    out.append("  - the agent's log, from the bench's start: %s" % ("; ".join(ev) or "nothing"))
site = []
for c, what, key in (("bt_malloc", "malloc's entry (`push %r12`: emulated)", "mallocs"),
                     ("bt_mret", "malloc's return (uretprobe: entry and return)", "mallocs"),
                     ("bt_free", "free's entry (`test %rdi,%rdi`: single-stepped)", "frees")):
    j = run(c, "site")
    hits_per_alloc = j[key] / j["allocs"]
    site.append("%s: %s allocations/s, %.0f ns per hit more than alone"
                % (what, fmt(j["allocs_per_s"]), (ns_per_alloc(j["allocs_per_s"]) - base_ns) / hits_per_alloc))
out.append("- one hit's cost by site, bpftrace with an empty program (one run of %.0f s each, against the median alone): %s"
           % (run("bt_malloc", "site")["seconds"], "; ".join(site)))
sizes = [load(os.path.join(tmp, "perf.%d.perfsize" % r)).split() for r in range(1, reps + 1)]
lost = [l.strip() for r in range(1, reps + 1)
        for l in load(os.path.join(tmp, "perf.%d.log" % r)).splitlines() if "lost" in l.lower()]
out.append("- perf.data: %.0f MiB, %s samples (median of %d); perf's lines about losses: %s" % (
    statistics.median(int(s[0]) for s in sizes) / 2**20,
    fmt(statistics.median(int(s[1]) if len(s) > 1 else 0 for s in sizes)), reps,
    "; ".join(lost) or "none"))
print("\n".join(out))
PY
)

cat <<EOF
## Memory profiles: what the allocator's uprobes cost (bench/memory.sh)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at start ${LOAD_START}, at end ${LOAD_END}; ${ELAPSED} s, of which ${WAITED} s waiting for others' tests; runs made again as somebody else's process ran beside them: $([[ -f $TMP/again ]] && wc -l <"$TMP/again" || echo 0)$([[ -f $TMP/busy ]] && echo ", kept after BENCH_TRIES all the same: $(sort -u "$TMP/busy" | paste -sd' ')")
- Workload: \`LD_LIBRARY_PATH=DIR $MB -t $SECS -T $THREADS -j -w\` (DIR: a copy of $SYS_LIBC)
- Agent: \`$(cat "$TMP/mem.cmd")\` (mem10: \`$(sed 's/.*--memory-max-hits/--memory-max-hits/' "$TMP/mem10.cmd")\`; ceiling: \`$(sed 's/.*--profile-types/--profile-types/' "$TMP/ceiling.cmd")\`; not a target: \`$(sed 's/.*--profile-types/--profile-types/' "$TMP/idle.cmd")\`)
- bpftrace: \`bpftrace -e '$(echo "${BT_PROGS[bpftrace]}" | sed "s|$LIBC|LIBC|g" | tr '\n' ' ')'\`
- perf: \`perf probe -x LIBC -a ...\` ($(printf "'%s' " "${PERF_PROBES[@]}" | sed "s|$PERF_GROUP:||g")), \`perf record -e '$PERF_GROUP:*' -p BENCH\`
- ${REPS} repetitions of each, the configurations in turn; BPF time from one more run of ${STATS_SECS} s each with \`kernel.bpf_stats_enabled=1\`
- Script: \`BENCH_SECONDS=$SECS BENCH_CEILING_SECONDS=$CEIL_SECS BENCH_STATS_SECONDS=$STATS_SECS BENCH_REPS=$REPS BENCH_THREADS=$THREADS bench/memory.sh ${1:-}\`

${TABLE}
EOF
