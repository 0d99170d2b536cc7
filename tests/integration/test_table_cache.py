"""Integration: a restarted agent does not build the unwind tables it kept
(issue 14, items 2 and 6: --cache-dir).

    test_table_cache.py SMOLDER UNWIND_WORK

UNWIND_WORK (gcc, PIE, no frame pointers) runs in qsort mode, its
comparator called by libc's qsort (no frame pointers either: a stack
reaches main only through the unwind tables), ~6 s, three times, each
under a fresh agent with the same --cache-dir (a temporary directory):
  1. empty cache: unwind_cache_misses > 0 (tables built, and written as
     DIR/unwind/<64 hex>.zst), unwind_cache_hits == 0, unwind_cache_bad == 0;
  2. the same files: unwind_cache_hits >= run 1's misses and
     unwind_cache_misses == 0: nothing built;
  3. the largest cache file overwritten with garbage first:
     unwind_cache_bad == 1, that one table built again (misses == 1) and
     written again whole (its magic back), the others hits.
In every run >= 95% of the workload's samples reach main. Logged for the
report: the agent's CPU seconds from its launch to "sampling started"
(/proc/PID/stat), and the parser worker's CPU seconds over the run.
"""

import os
import shutil
import tempfile
import threading

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = "6"
WHOLE = 0.95
MAGIC = b"SMOLDUT\0"
COUNTERS = ("unwind_cache_hits", "unwind_cache_misses", "unwind_cache_bad")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """utime + stime of pid, in seconds; None when it is gone."""
    text = h.read_text("/proc/%d/stat" % pid)
    if not text:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid):
    """The pids of pid's children (its parser worker), [] when it is gone."""
    kids = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for tid in tids:
        kids += [int(k) for k in h.read_text("/proc/%d/task/%s/children" % (pid, tid)).split()]
    return kids


class CpuWatch:
    """The agent's CPU at "sampling started", and its children's (the
    parser worker's) last seen before they exit."""

    def __init__(self):
        self.at_start = None
        self.workers = {}
        self.stop = threading.Event()

    def on_sampling(self, pid):
        self.at_start = cpu_s(pid)
        threading.Thread(target=self.poll, args=(pid,), daemon=True).start()

    def poll(self, pid):
        while not self.stop.is_set():
            for k in children(pid):
                s = cpu_s(k)
                if s is not None:
                    self.workers[k] = s
            self.stop.wait(0.1)

    def worker_s(self):
        self.stop.set()
        return sum(self.workers.values())


def cache_files(cache):
    d = os.path.join(cache, "unwind")
    return {n: os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)} if os.path.isdir(d) else {}


def one_run(smolder, workload, cache, label):
    h.log("\n-- %s" % label)
    watch = CpuWatch()
    r = h.run(smolder, [workload, "qsort", SECONDS], sample_rate=RATE,
              agent_args=["--cache-dir", cache], on_sampling=watch.on_sampling)
    worker = watch.worker_s()
    h.check_output(r, RATE, label)
    missing = [k for k in COUNTERS if not any(k in c for c in r.counters)]
    if missing:
        h.fail("%s: no %s in the agent's counters lines" % (label, ", ".join(missing)))
    sums = {k: r.total(k) for k in COUNTERS}
    samples = r.samples(os.path.basename(workload))
    total = h.count(samples)
    whole = sum(s.count for s in samples if "main" in s.names)
    h.log("%s: %s; %d samples, %d reach main; agent CPU to sampling started %.2f s, "
          "parser worker CPU %.2f s; cache files %s"
          % (label, " ".join("%s=%d" % kv for kv in sums.items()), total, whole,
             watch.at_start or 0, worker, cache_files(cache)))
    if total < 100:
        h.fail("%s: only %d samples" % (label, total))
    if whole < WHOLE * total:
        h.fail("%s: only %d of %d samples reach main; heaviest:\n    %s"
               % (label, whole, total, "\n    ".join(h.top_stacks(samples))))
    return sums


def test(smolder, workload):
    et.no_debuginfod_env()
    # Made by the agent (0700): a name nothing holds yet.
    cache = os.path.join(tempfile.mkdtemp(prefix="smolder-table-cache-"), "cache")
    failures = []
    try:
        first = one_run(smolder, workload, cache, "first start, empty cache")
        held = cache_files(cache)
        if first["unwind_cache_misses"] <= 0 or first["unwind_cache_hits"] or \
                first["unwind_cache_bad"]:
            failures.append("first run: %r: want misses > 0, no hits, nothing bad" % first)
        if len(held) != first["unwind_cache_misses"] or \
                not all(len(n) == 68 and n.endswith(".zst") for n in held):
            failures.append("first run: %d misses, the cache holds %s"
                            % (first["unwind_cache_misses"], sorted(held)))

        second = one_run(smolder, workload, cache, "second start, same cache")
        if second["unwind_cache_misses"] or second["unwind_cache_hits"] < first["unwind_cache_misses"] \
                or second["unwind_cache_bad"]:
            failures.append("second run: %r: want hits >= %d (the first run's misses), "
                            "no miss, nothing bad" % (second, first["unwind_cache_misses"]))

        biggest = max(held, key=held.get) if held else None
        if biggest:
            path = os.path.join(cache, "unwind", biggest)
            with open(path, "wb") as f:
                f.write(b"not a table " * 100)
            h.log("overwrote %s with garbage" % biggest)
            third = one_run(smolder, workload, cache, "third start, one file garbage")
            if third["unwind_cache_bad"] != 1 or third["unwind_cache_misses"] != 1 or \
                    third["unwind_cache_hits"] < first["unwind_cache_misses"] - 1:
                failures.append("third run: %r: want bad == 1, misses == 1 (rebuilt), "
                                "hits >= %d" % (third, first["unwind_cache_misses"] - 1))
            with open(path, "rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    failures.append("%s was not written again as a table" % biggest)
    finally:
        if os.environ.get("SMOLDER_IT_KEEP"):
            h.log("cache kept in %s" % cache)
        else:
            shutil.rmtree(os.path.dirname(cache), ignore_errors=True)
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
