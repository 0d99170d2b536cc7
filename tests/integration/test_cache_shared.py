"""Integration: the symbol cache is shared by all processes of one binary.

    test_cache_shared.py SMOLDER SMOLDER_IT_CACHE_BURN

smolder_it_cache_burn forks CHILDREN children (no exec) that spin in
cache_hot at once. It runs twice, profiled by --pid (the parent and every
child), ~6 s each, by a fresh agent: once with 1 child, once with 50. The
stacks of both runs hold the same files (the binary, libc, the kernel), so
the symbol cache must load them once, however many processes map them.
Checked, with the counters of every interval summed:
  - both outputs keep the contract;
  - symbol_cache_misses is > 0 and the same in both runs: 49 more processes
    of the binary cause no miss;
  - symbol_cache_hits grows by >= 25 (half the extra processes) from the
    run with 1 child to the run with 50;
  - no eviction (symbol_cache_evictions = 0) in either run;
  - cache_hot is named in >= 90% of the samples of both runs (the cache is
    not shared by naming nothing).
"""

import os

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = 6
MANY = 50
COUNTERS = ("symbol_cache_hits", "symbol_cache_misses", "symbol_cache_evictions",
            "symbol_cache_bytes")


def one_run(smolder, workload, children):
    h.log("\n-- %d child(ren)" % children)
    r = h.run(smolder, [workload, str(children), str(SECONDS)], sample_rate=RATE)
    h.check_output(r, RATE, "run with %d child(ren)" % children)
    if r.done.get("children") != children:
        h.fail("%d of %d children exited 0" % (r.done.get("children", 0), children))
    missing = [k for k in COUNTERS if not any(k in c for c in r.counters)]
    if missing:
        h.fail("no %s in the agent's counters lines: %s" % (", ".join(missing), r.counters[:1]))
    samples = r.samples(os.path.basename(workload))
    total = h.count(samples)
    hot = h.naming(samples, "cache_hot")
    files = sorted({os.path.basename(f.mapping.file) for s in samples for f in s.frames
                    if f.mapping is not None and not f.is_kernel})
    # Hits, misses and evictions are counted per interval; bytes is a level.
    sums = {k: r.total(k) for k in COUNTERS if k != "symbol_cache_bytes"}
    sums["symbol_cache_bytes_max"] = max(c.get("symbol_cache_bytes", 0) for c in r.counters)
    h.log("%d child(ren): %d samples, %d name cache_hot; user files %s; %s"
          % (children, total, hot, files, " ".join("%s=%s" % kv for kv in sums.items())))
    if total < 100:
        h.fail("run with %d child(ren): only %d samples" % (children, total))
    if hot < 0.9 * total:
        h.fail("run with %d child(ren): only %d of %d samples name cache_hot; heaviest:\n    %s"
               % (children, hot, total, "\n    ".join(h.top_stacks(samples))))
    return sums


def test(smolder, workload):
    et.no_debuginfod_env()
    one = one_run(smolder, workload, 1)
    many = one_run(smolder, workload, MANY)
    failures = []
    if one["symbol_cache_misses"] <= 0:
        failures.append("symbol_cache_misses is %d with 1 child: the files were named without "
                        "being loaded?" % one["symbol_cache_misses"])
    if many["symbol_cache_misses"] != one["symbol_cache_misses"]:
        failures.append("symbol_cache_misses: %d with %d children, %d with 1: the same files "
                        "must be loaded once, whatever the number of processes"
                        % (many["symbol_cache_misses"], MANY, one["symbol_cache_misses"]))
    if many["symbol_cache_hits"] < one["symbol_cache_hits"] + MANY // 2:
        failures.append("symbol_cache_hits: %d with %d children, %d with 1: want >= %d more"
                        % (many["symbol_cache_hits"], MANY, one["symbol_cache_hits"],
                           MANY // 2))
    for label, sums in (("1 child", one), ("%d children" % MANY, many)):
        if sums["symbol_cache_evictions"]:
            failures.append("%s: %d evictions with the default --symbol-cache-size"
                            % (label, sums["symbol_cache_evictions"]))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
