"""Integration: one pid, two programs, one interval: each sample goes to the
program that really ran.

    test_pid_reuse.py SMOLDER PID_REUSE_LAUNCH SMOLDER_IT_REUSE_A SMOLDER_IT_REUSE_B

The agent profiles the whole system (no --pid) in 8 s intervals. Right after
an interval closes, pid_reuse_launch runs smolder_it_reuse_a (burns BURN_S
of CPU in reuse_hot_a, exits, is reaped) and then smolder_it_reuse_b (the
same in reuse_hot_b) under THE SAME PID P, both within that one interval.

How the pid is forced (see pid_reuse_launch.c): the launcher picks a free
pid P, takes an exclusive flock on /proc/sys/kernel/ns_last_pid (the lock
the kernel's documentation of ns_last_pid and CRIU use), writes P-1 to it and
forks, so the kernel hands the child P; if another process of the system
forked in between and took P, the child sees getpid() != P, exits at once,
and the launcher tries again. The launcher reports both pids; the test fails
if they differ.

Checked:
  - the output keeps the contract (format, per-interval accounting);
  - both services, smolder_it_reuse_a and smolder_it_reuse_b, are present,
    each with >= 50% of the samples its measured CPU time predicts;
  - A's profile never names reuse_hot_b, and B's never reuse_hot_a;
  - each names its own hot function in >= 90% of its samples.
"""

import os

import smolder_harness as h
import system_run as sr

BURN_S = 1.0
INTERVAL = "8s"


def test(smolder, launcher, prog_a, prog_b):
    progs = {"a": prog_a, "b": prog_b}
    with sr.SystemAgent(smolder, upload_interval=INTERVAL) as agent:
        agent.start()
        agent.next_interval()  # both programs within the interval that begins now
        w = sr.Workload([launcher, str(BURN_S), prog_a, prog_b])
        try:
            burned = {}
            for _ in range(2):
                b = w.event("burned", timeout=60, agent=agent)
                burned[b["prog"]] = b
            done = w.event("done", timeout=60, agent=agent)
            w.finish()
        finally:
            w.kill()
        runs = done["runs"]
        h.log("pid forced to %d: A got %d (%d fork(s)), B got %d (%d fork(s))"
              % (done["target"], runs[0]["pid"], runs[0]["tries"], runs[1]["pid"], runs[1]["tries"]))
        if not runs[0]["pid"] == runs[1]["pid"] == done["target"]:
            h.fail("the launcher did not run both programs under pid %d: %s" % (done["target"], runs))
        for run in runs:
            if run["status"] != 0:
                h.fail("%s exited with wait status %d" % (run["prog"], run["status"]))
        agent.wait_written()  # the interval holding B's samples is drained
        r = agent.stop()

    sr.check_output(r)

    failures = []
    for v, other in (("a", "b"), ("b", "a")):
        service = os.path.basename(progs[v])
        own, foreign = "reuse_hot_" + v, "reuse_hot_" + other
        mine = [p for p in r.profiles if p.service == service]
        samples = [s for p in mine for s in p.samples]
        total = sr.count(samples)
        predicted = h.expected_samples(burned[v]["process_cpu_ns"], sr.RATE)
        n_own, n_foreign = sr.naming(samples, own), sr.naming(samples, foreign)
        h.log("%s (pid %d): %d samples in interval(s) %s (%.0f predicted); %d name %s, %d name %s"
              % (service, burned[v]["pid"], total, [p.interval for p in mine], predicted,
                 n_own, own, n_foreign, foreign))
        if not mine:
            failures.append("no profile under service %r; services: %s" % (service, sr.services(r)))
            continue
        if n_foreign:
            failures.append("%s's profile names %s, the other program's hot function, in %d of "
                            "its %d samples: samples of one program were filed under the other"
                            % (service, foreign, n_foreign, total))
        if n_own < 0.9 * total:
            failures.append("only %d of %d samples of %s name %s; heaviest stacks:\n    %s"
                            % (n_own, total, service, own, "\n    ".join(sr.top_stacks(samples))))
        if total < 0.5 * predicted:
            failures.append("%s: %d samples, want at least half of the %.0f its CPU time predicts"
                            % (service, total, predicted))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    sr.main(test)
