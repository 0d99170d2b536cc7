#!/bin/bash
# Stack truth on a build host (issue 14): the agent, whole-system, next to
# `perf record -a -g` in the same run, while this project compiles itself
# (`ninja -j2` in a fresh build directory: many short gcc, cc1, as, ld).
#
#   bench/build_profile.sh [AGENT]   (root; AGENT defaults to build/agent/smolder)
#   BENCH_SECONDS=40 BENCH_AGENT_ARGS="--memory-limit 768M" bench/build_profile.sh
#
# Prints, for the run: the agent's samples taken, profiled and lost (by
# reason, from its counters); each executable's share of samples by the
# agent (services) and by perf (`perf report --sort comm`), and the
# difference; and the share of cc1's samples whose stacks reach main or
# _start (decoded with `go tool pprof -raw`). Not a test: numbers only.
set -euo pipefail

AGENT=$(realpath "${1:-build/agent/smolder}")
SECONDS_RUN=${BENCH_SECONDS:-40}
SRC=$(realpath "$(dirname "$0")/..")
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
TMP=$(mktemp -d /tmp/smolder-build-bench.XXXXXX)
# BENCH_KEEP=FILE keeps the agent's log (its counters, per interval).
trap '[ -n "${BENCH_KEEP:-}" ] && cp "$TMP/agent.log" "$BENCH_KEEP"; rm -rf "$TMP"' EXIT

meson setup "$TMP/b" "$SRC" >/dev/null
"$AGENT" --duration "$((SECONDS_RUN + 2))s" --upload-interval 10s --output-dir "$TMP/out" \
	--http-listen off ${BENCH_AGENT_ARGS:-} 2>"$TMP/agent.log" &
AGENT_PID=$!
until grep -q "sampling started" "$TMP/agent.log"; do sleep 0.2; done
perf record -a -g -F 97 -o "$TMP/perf.data" -- sleep "$SECONDS_RUN" 2>"$TMP/perf.log" &
PERF_PID=$!
timeout "$SECONDS_RUN" ninja -C "$TMP/b" -j2 >/dev/null 2>&1 || true
wait "$PERF_PID"
wait "$AGENT_PID"
perf report -i "$TMP/perf.data" --sort comm --stdio --no-children 2>/dev/null >"$TMP/perf.txt"

/usr/bin/python3 - "$TMP" "$SRC" <<'EOF'
import os, re, sys
tmp, src = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "tests", "integration"))
import elf_tools as et
import smolder_harness as h
import shutil
import subprocess

counters = [h.parse_counters(l) for l in open(os.path.join(tmp, "agent.log")) if " counters " in l]
tot = lambda k: sum(c.get(k, 0) for c in counters)
taken, profiled = tot("samples_taken"), tot("samples_profiled")
print("agent: %d samples taken, %d profiled (%.1f%%), lost_unknown_process %d, "
      "processes_from_kernel %d, mmap_records_dropped %d"
      % (taken, profiled, 100.0 * profiled / max(taken, 1), tot("lost_unknown_process"),
         tot("processes_from_kernel"), tot("mmap_records_dropped")))

cc1_path = subprocess.run(["gcc", "-print-prog-name=cc1"], stdout=subprocess.PIPE,
                          text=True).stdout.strip()
cc1_entry = et.entry_point(cc1_path)


def at_cc1_entry(s):
    """A whole stack whose frames were not named by the interval's deadline:
    its outermost frame is cc1's _start, named or not."""
    return et.at_entry(cc1_path, s.frames[-1] if s.frames else None, entry=cc1_entry)


by_service, cc1_total, cc1_rooted, cc1_whole = {}, 0, 0, 0
out = os.path.join(tmp, "out")
for service in os.listdir(out):
    for f in os.listdir(os.path.join(out, service)):
        m = re.match(r"(\d+)-(\d+)(-[0-9a-f]{8})?\.pb\.gz$", f)
        p = h.decode(os.path.join(out, service, f), service, int(m.group(1)), int(m.group(2)))
        n = h.count(p.samples)
        by_service[service] = by_service.get(service, 0) + n
        if service == "cc1":
            cc1_total += n
            named = [s for s in p.samples if any(fr.name in ("main", "_start") for fr in s.frames)]
            cc1_rooted += h.count(named)
            cc1_whole += h.count(named) + h.count([s for s in p.samples
                                                   if s not in named and at_cc1_entry(s)])
agent_total = sum(by_service.values())

# perf sorts by comm, the agent by executable: the same program where the
# two differ on a Debian host (binutils' as and ld are x86_64-linux-gnu-*;
# meson is python3.11). The idle task is perf's alone, and so are the
# agent's own samples (its parser worker runs as smolder-parser, or as
# /proc/self/exe, "exe"): the agent leaves itself out. Their share of
# perf's samples is printed on its own.
ALIAS = {"exe": "smolder", "smolder-parser": "smolder", "as": "x86_64-linux-gnu-as",
         "ld": "x86_64-linux-gnu-ld.bfd", "meson": "python3.11", "collect2": "collect2"}
def exe_name(comm):
    """A command run by the name of a link (cc, sh, nm) has that name as its
    comm and its file's as its service: the file the name leads to."""
    path = shutil.which(comm)
    return os.path.basename(os.path.realpath(path)) if path else comm


perf, left_out = {}, {"swapper": 0.0, "smolder": 0.0}
for line in open(os.path.join(tmp, "perf.txt")):
    m = re.match(r"\s*([\d.]+)%\s+(\S.*?)\s*$", line)
    if m:
        name = ALIAS.get(m.group(2)) or exe_name(m.group(2))
        if name in left_out:
            left_out[name] += float(m.group(1))
            continue
        perf[name] = perf.get(name, 0.0) + float(m.group(1))
busy = 100.0 - left_out["swapper"]
print("the agent itself (smolder and its parser worker): %.1f%% of perf's busy samples; "
      "perf itself: %.1f%%" % (100.0 * left_out["smolder"] / busy,
                               100.0 * perf.get("perf", 0.0) / busy))
perf = {k: 100.0 * v / (busy - left_out["smolder"]) for k, v in perf.items()}
print("\n| executable | agent | perf | difference |\n| --- | ---: | ---: | ---: |")
worst = 0.0
for name in sorted(set(by_service) | set(perf), key=lambda n: -perf.get(n, 0))[:12]:
    a = 100.0 * by_service.get(name, 0) / max(agent_total, 1)
    b = perf.get(name, 0.0)
    worst = max(worst, abs(a - b))
    print("| %s | %.1f%% | %.1f%% | %+.1f pp |" % (name, a, b, a - b))
print("\nlargest difference in the rows above: %.1f pp" % worst)
print("cc1: %d samples, %d (%.1f%%) reach main or _start named; %d (%.1f%%) whole, named or not"
      % (cc1_total, cc1_rooted, 100.0 * cc1_rooted / max(cc1_total, 1),
         cc1_whole, 100.0 * cc1_whole / max(cc1_total, 1)))
print("agent counters: stack_copies sent %d, used %d, unused %d, dropped %d; symbol_late %d; "
      "unwind_evictions %d, symbol_cache_evictions %d"
      % (tot("stack_copies_sent"), tot("stack_copies_used"), tot("stack_copies_unused"),
         tot("stack_copies_dropped"), tot("symbol_late"), tot("unwind_evictions"),
         tot("symbol_cache_evictions")))
EOF
