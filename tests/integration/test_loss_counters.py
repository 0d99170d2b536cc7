"""Integration: every sample taken is either in a profile or counted as lost,
interval by interval, with maps small enough to overflow and with the
normal ones.

    test_loss_counters.py SMOLDER MANY_STACKS

many_stacks runs 4 processes x 2 threads that spend half their time under
one steady stack (a count-map key per process) and half recursing to random
depths 1..60 through four functions, with now and then a system call at the
bottom: far more distinct stacks than 16 map entries hold. Two runs of ~15 s,
--pid for each of the 4 processes, 97 Hz, 4 s intervals (so the last one is
a partial interval, flushed on SIGINT):

  1. --test-count-map-entries 16 --test-stack-map-entries 16: summed over
     the run, lost_count_map_full > 0 and lost_stack_collision > 0; no
     interval's profiles hold more than 16 distinct stacks.
  2. default map sizes: losses at most 5% of the samples taken (the stack
     map drops a stack whose hash bucket is taken, so nearly-all-distinct
     stacks lose a few percent), none for a full count map or an unknown
     process; recursion 50+ deep is seen whole.

Both runs: for EVERY interval, samples_profiled + all lost_* ==
samples_taken, and samples_profiled == the sample counts decoded from that
interval's files; samples_taken agrees with the workload's CPU time at 97 Hz
(+-25%), so every process and thread was sampled.
"""

import os

import smolder_harness as h

RATE = 97
SECONDS = 15
PROCESSES, THREADS = 4, 2
INTERVAL = "4s"  # 15 s is not a multiple: the last interval is a partial one
SMALL = 16
REC = ("rec_a", "rec_b", "rec_c", "rec_d")


def common_checks(r, label):
    h.check_output(r, RATE, label)
    taken = r.total("samples_taken")
    profiled = r.total("samples_profiled")
    cpu_ns = r.done["process_cpu_ns"]
    expected = h.expected_samples(cpu_ns, RATE)
    lost = {k: r.total(k) for c in r.counters for k in c if k.startswith("lost_")}
    h.log("%s: %d intervals; taken %d, profiled %d, lost %s; the workload used %.2f CPU s "
          "= %.0f samples at %d Hz (taken/expected %.3f)"
          % (label, len(r.counters), taken, profiled, lost, cpu_ns / 1e9, expected, RATE,
             taken / expected if expected else 0))
    for c in r.counters:
        t = c["samples_taken"]
        h.log("  interval %s: taken %d, profiled %d, lost %d (%s)"
              % (c["interval"], t, c["samples_profiled"], h.losses(c),
                 ", ".join("%s=%d" % (k, v) for k, v in c.items()
                           if k.startswith("lost_") and v)))
    if not 0.75 * expected <= taken <= 1.25 * expected:
        h.fail("%s: %d samples taken for %.2f CPU s of %d processes x %d threads at %d Hz: "
               "expected %.0f +-25%% (are all processes and threads sampled?)"
               % (label, taken, cpu_ns / 1e9, PROCESSES, THREADS, RATE, expected))
    return taken, lost


def test(smolder, workload):
    cmd = [workload, str(SECONDS), "", str(PROCESSES), str(THREADS)]
    cmd[2] = str(int.from_bytes(os.urandom(6), "little") | 1)  # seed, printed by the workload

    # 1. Maps of 16 entries: both kinds of loss must show, and be accounted.
    h.log("== run 1: --test-count-map-entries %d --test-stack-map-entries %d" % (SMALL, SMALL))
    r = h.run(smolder, cmd, sample_rate=RATE, upload_interval=INTERVAL,
              agent_args=["--test-count-map-entries", str(SMALL),
                          "--test-stack-map-entries", str(SMALL)])
    taken, lost = common_checks(r, "small maps")
    failures = []
    if r.total("lost_count_map_full") <= 0:
        failures.append("small maps: lost_count_map_full is 0 over the run")
    if r.total("lost_stack_collision") <= 0:
        failures.append("small maps: lost_stack_collision is 0 over the run")
    if r.total("samples_profiled") <= 0:
        failures.append("small maps: nothing profiled at all")
    for c in r.counters:
        stacks = {tuple(s.names) for p in r.profiles_of_interval(c["interval"]) for s in p.samples}
        if len(stacks) > SMALL:
            failures.append("small maps: interval %s has %d distinct stacks in its profiles, "
                            "more than the %d count map entries can hold"
                            % (c["interval"], len(stacks), SMALL))
    if failures:
        h.fail("\n  ".join(failures))

    # 2. Default maps: losses small, the invariant still exact.
    h.log("\n== run 2: default map sizes")
    r = h.run(smolder, cmd, sample_rate=RATE, upload_interval=INTERVAL)
    taken, lost = common_checks(r, "default maps")
    total_lost = sum(lost.values())
    h.log("default maps: lost %d of %d samples taken (%.2f%%)"
          % (total_lost, taken, 100.0 * total_lost / taken if taken else 0))
    failures = []
    if total_lost > 0.05 * taken:
        failures.append("default maps: %d of %d samples lost (%.2f%%), want <= 5%%: %s"
                        % (total_lost, taken, 100.0 * total_lost / taken, lost))
    for k in ("lost_count_map_full", "lost_unknown_process"):
        if lost.get(k, 0):
            failures.append("default maps: %s = %d, want 0" % (k, lost[k]))

    samples = r.samples(os.path.basename(workload))
    n = h.count(samples)
    depth = max((sum(1 for x in s.names if x in REC) for s in samples), default=0)
    in_worker = sum(s.count for s in samples if "worker" in s.names)
    h.log("default maps: deepest recursion seen %d levels; %d of %d samples reach worker (%.1f%%)"
          % (depth, in_worker, n, 100.0 * in_worker / n if n else 0))
    if depth < 50:
        failures.append("default maps: the deepest stack has %d rec_* frames; the workload "
                        "recurses up to 60 deep" % depth)
    if n and in_worker < 0.9 * n:
        failures.append("default maps: only %d of %d samples reach worker" % (in_worker, n))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
