"""Integration (issue 12, item 3): what processes say about themselves in
/tmp/perf-PID.map and /proc/PID/maps cannot make the agent grow past its
memory limit or miss its schedule.

    test_attack_proc.py ATTACK SMOLDER SMOLDER_IT_CACHE_BURN ATTACK_PROC

smolder_it_attack_proc (attack_proc.c) runs beside cache_burn; the agent
profiles both (--pid) inside a fresh 512 MiB memory cgroup. ATTACK:
  perfmap    6 JIT-like spinners, each with a 64 MiB perf map that grows;
  maps       8 processes with ~56 MB /proc/PID/maps each (65000 mappings
             with 800-byte paths), one spinning, the others asleep;
  fakestack  a spinner in anonymous executable code under a chain of fake
             frames with random return addresses, new on every call, and
             20000 mappings.
Checked, as test_attack_files.py does: the output contract and exit 0
after SIGINT; cache_hot named in >= 90% of cache_burn's samples after the
first interval; no OOM kill and a peak under 90% of the limit; the
refusal counted (perf_map_refused, process_maps_cut,
process_maps_deferred). For fakestack also, as test_worker_kill.py does:
each interval's counters logged within 1.5 s of its end, and the agent
stopped within 6 s of the signal.
"""

import os
import re
import shutil
import signal
import sys
import tempfile

import smolder_harness as h
from memcg import MemCgroup
from test_attack_files import later_naming, start_hostile
from test_worker_kill import timing_problems

RATE = 97
SECONDS = 16
LIMIT = 512 << 20

ATTACKS = {
    "perfmap": (lambda tmp: ["perfmap", "6", "64"], "perf_map_refused"),
    "maps": (lambda tmp: ["maps", "8", tmp], "process_maps_cut"),
    "fakestack": (lambda tmp: ["fakestack", tmp], "process_maps_deferred"),
}


def children_of(pid):
    """Pids whose parent is pid: the hostile program's processes."""
    out = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/status" % d) as f:
                m = re.search(r"^PPid:\s+(\d+)", f.read(), re.M)
        except (OSError, ValueError):
            continue
        if m and int(m.group(1)) == pid:
            out.append(int(d))
    return sorted(out)


def test(attack, smolder, cache_burn, attack_proc):
    tmp = tempfile.mkdtemp(prefix="smolder-attack-")
    args, counter = ATTACKS[attack]
    hostile, pids = None, []
    try:
        hostile, _ = start_hostile([attack_proc] + args(tmp))
        pids = children_of(hostile.pid)
        h.log("hostile %s: pids %s" % (" ".join(args(tmp)), pids))
        with MemCgroup(LIMIT) as cg:
            r = h.run(smolder, [cache_burn, "1", str(SECONDS)], sample_rate=RATE,
                      upload_interval="4s",
                      agent_args=[a for p in pids for a in ("--pid", str(p))],
                      agent_preexec=cg.enter)
            peak, ooms = cg.peak_bytes(), cg.oom_kills()
        h.check_output(r, RATE, attack)
        named, total = later_naming(r, os.path.basename(cache_burn), "cache_hot")
        h.log("%s: agent cgroup peak %d MiB (limit %d), %d OOM kills; %s=%d "
              "process_maps_reads=%d perf_map_bytes=%d process_maps_bytes=%d; "
              "cache_hot named in %d of %d later samples"
              % (attack, peak >> 20, LIMIT >> 20, ooms, counter, r.total(counter),
                 r.total("process_maps_reads"), r.counters[-1].get("perf_map_bytes", -1),
                 r.counters[-1].get("process_maps_bytes", -1), named, total))
        failures = []
        if ooms:
            failures.append("%d OOM kills in the agent's cgroup" % ooms)
        if peak >= 0.9 * LIMIT:
            failures.append("the agent's cgroup peaked at %d MiB of %d" % (peak >> 20, LIMIT >> 20))
        if r.total(counter) < 1:
            failures.append("%s is %d: the attack was not refused, or not counted"
                            % (counter, r.total(counter)))
        if total < 100 or named < 0.9 * total:
            failures.append("cache_hot named in %d of %d samples after the first interval"
                            % (named, total))
        if attack == "fakestack":
            failures += h.tiling_problems(r) + timing_problems(r)
        if failures:
            h.fail("\n  ".join(failures))
    finally:
        if hostile is not None:
            os.killpg(hostile.pid, signal.SIGKILL)
            hostile.wait()
        for p in pids:
            try:
                os.unlink("/tmp/perf-%d.map" % p)
            except FileNotFoundError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ATTACKS:
        sys.exit("usage: %s {%s} SMOLDER CACHE_BURN ATTACK_PROC"
                 % (sys.argv[0], ",".join(ATTACKS)))
    h.run_test(lambda *paths: test(sys.argv[1], *paths), sys.argv[2:])
