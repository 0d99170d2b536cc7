"""Integration: short-lived processes, discovered system-wide, named down to a
function of a shared library they link.

    test_short_lived_lib.py SMOLDER SMOLDER_IT_SHORTLIB

The agent profiles the whole system (no --pid) in 6 s intervals. Right
after an interval closes, smolder_it_shortlib (a name no other process has;
linked against libsmolder_it_shorthot.so, DT_NEEDED, found through its
build rpath) runs RUNS times in a row, each a new process that burns BURN_MS
of its own CPU time in the library's shorthot_spin and exits, so all of them
live and die within one interval, before it is drained. Checked:
  - the output keeps the contract (format, per-interval accounting);
  - there is a profile under the service smolder_it_shortlib;
  - shorthot_spin (in the library) is on the stack of >= 90% of its
    samples, and >= 90% of its stacks reach main;
  - it has >= 50% of the samples its measured CPU time predicts at 97 Hz:
    the processes were not lost as unknown (lost_unknown_process) nor
    filed under another service.
"""

import json
import os
import subprocess

import smolder_harness as h
import system_run as sr

RUNS = 10
BURN_MS = 200
INTERVAL = "6s"
HOT = "shorthot_spin"
LIB = "libsmolder_it_shorthot.so"


def test(smolder, prog, agent_args=(), on_start=None):
    """agent_args and on_start(agent) serve test_kernel_fallbacks.py."""
    service = os.path.basename(prog)
    with sr.SystemAgent(smolder, upload_interval=INTERVAL, extra_args=agent_args) as agent:
        agent.start()
        if on_start is not None:
            on_start(agent)
        agent.next_interval()  # start the runs at the beginning of an interval
        cpu_ns, pids = 0, []
        for i in range(RUNS):
            p = subprocess.run([prog, str(BURN_MS)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, text=True, timeout=60)
            if p.returncode != 0:
                h.fail("run %d of %s exited with status %d" % (i, service, p.returncode))
            done = json.loads(p.stdout.strip().splitlines()[-1])
            cpu_ns += done["process_cpu_ns"]
            pids.append(done["pid"])
        h.log("%d runs of %s, pids %s, %.3f CPU s in all" % (RUNS, service, pids, cpu_ns / 1e9))
        agent.wait_written()  # the interval holding the last run is drained
        r = agent.stop()

    sr.check_output(r)

    mine = [p for p in r.profiles if p.service == service]
    samples = [s for p in mine for s in p.samples]
    total = sr.count(samples)
    predicted = h.expected_samples(cpu_ns, sr.RATE)
    h.log("%s: %d samples in interval(s) %s; its CPU time predicts %.0f (ratio %.2f)"
          % (service, total, [p.interval for p in mine], predicted,
             total / predicted if predicted else 0))
    h.log("lost_unknown_process over the run: %d" % r.total("lost_unknown_process"))
    if not mine:
        h.fail("no profile under service %r; services: %s" % (service, sr.services(r)))

    hot = sr.naming(samples, HOT)
    to_main = sr.naming(samples, "main")
    h.log("%s: %d of %d samples name %s, %d reach main" % (service, hot, total, HOT, to_main))
    libs = {f.mapping.file for s in samples for f in s.frames
            if f.name == HOT and f.mapping is not None}
    h.log("%s is found in mapping(s) %s" % (HOT, sorted(libs)))

    failures = []
    if hot < 0.9 * total:
        failures.append("only %d of %d samples of %s name %s; heaviest stacks:\n    %s"
                        % (hot, total, service, HOT, "\n    ".join(sr.top_stacks(samples))))
    if hot and not any(os.path.basename(f) == LIB for f in libs):
        failures.append("%s is named, but not in a mapping of %s: %s" % (HOT, LIB, sorted(libs)))
    if to_main < 0.9 * total:
        failures.append("only %d of %d samples of %s reach main; heaviest stacks:\n    %s"
                        % (to_main, total, service, "\n    ".join(sr.top_stacks(samples))))
    if total < 0.5 * predicted:
        failures.append("%d samples for %.3f CPU s at %d Hz: want at least half of %.0f "
                        "(lost_unknown_process=%d over the run; services: %s)"
                        % (total, cpu_ns / 1e9, sr.RATE, predicted,
                           r.total("lost_unknown_process"), sr.services(r)))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    sr.main(test)
