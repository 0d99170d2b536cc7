"""Integration: a library dlopen()ed by a process the agent already knows is
named from the next interval on.

    test_dlopen.py SMOLDER SMOLDER_IT_DLOPEN LIBSMOLDER_IT_DLMOD_SO

smolder_it_dlopen starts first and burns CPU in its own host_spin. The agent
profiles the whole system (no --pid) in 2 s intervals; once it is sampling
and has written a profile of smolder_it_dlopen (so it has read the
process's maps, without the library), the test writes a line to the
program's stdin: it dlopen()s libsmolder_it_dlmod.so (never linked) and burns
BURN_S of wall time in the module's dlmod_spin, then idles, alive, until
the end. Checked:
  - the output keeps the contract (format, per-interval accounting);
  - before the dlopen, the program's profile names host_spin;
  - every interval that starts after the dlopen and ends before the burn
    does (there are at least two) has a profile of smolder_it_dlopen, and
    in it, and in every later interval with samples of the program,
    dlmod_spin, found in the module's mapping, is on >= 90% of the stacks.
"""

import os

import smolder_harness as h
import system_run as sr

INTERVAL = "2s"
BURN_S = 7
HOT = "dlmod_spin"


def test(smolder, host, module, agent_args=(), on_start=None):
    """agent_args and on_start(agent) serve test_kernel_fallbacks.py."""
    service = os.path.basename(host)
    w = sr.Workload([host, module, str(BURN_S)])
    try:
        w.event("ready", timeout=30)
        with sr.SystemAgent(smolder, upload_interval=INTERVAL, extra_args=agent_args) as agent:
            agent.start()
            if on_start is not None:
                on_start(agent)
            # Until the agent has written a profile of the program: it knows it.
            agent.wait_profile_of(service)
            w.send("dlopen\n")
            dlopened = w.event("dlopened", timeout=30, agent=agent)["realtime_ns"] / 1e9
            done = w.event("done", timeout=BURN_S + 60, agent=agent)["realtime_ns"] / 1e9
            agent.wait_written(done)
            r = agent.stop()
        w.finish()
    finally:
        w.kill()

    sr.check_output(r)

    mine = sorted((p for p in r.profiles if p.service == service), key=lambda p: p.start)
    by_interval = {p.interval: p for p in mine}
    h.log("dlopen at %.3f, burn ended at %.3f" % (dlopened, done))
    failures = []
    before = [s for p in mine if p.end <= dlopened for s in p.samples]
    if not before or sr.naming(before, "host_spin") < 0.9 * sr.count(before):
        failures.append("before the dlopen, host_spin is on %d of the %d stacks of %s"
                        % (sr.naming(before, "host_spin"), sr.count(before), service))
    full_after = 0
    for start, end in sr.intervals(r):
        iv = "%d-%d" % (start, end)
        p = by_interval.get(iv)
        total = p.total_count if p else 0
        named = sr.naming(p.samples, HOT) if p else 0
        where = ("before" if end <= dlopened else "holds the dlopen" if start < dlopened
                 else "after the dlopen")
        h.log("interval %s (%s): %d samples of %s, %d name %s" % (iv, where, total, service, named, HOT))
        if start < dlopened:
            continue
        if end <= done:
            full_after += 1
            if p is None:
                failures.append("interval %s, after the dlopen while the program burnt CPU, has "
                                "no profile of %s" % (iv, service))
                continue
        if p is not None and named < 0.9 * total:
            failures.append("interval %s, after the dlopen: %s is on only %d of the %d stacks of "
                            "%s; heaviest stacks:\n    %s"
                            % (iv, HOT, named, total, service, "\n    ".join(sr.top_stacks(p.samples))))
        if p is not None and named:
            files = {os.path.basename(f.mapping.file) for s in p.samples for f in s.frames
                     if f.name == HOT and f.mapping is not None}
            if files != {os.path.basename(module)}:
                failures.append("interval %s: %s found in mapping(s) %s, want %s"
                                % (iv, HOT, sorted(files), os.path.basename(module)))
    if full_after < 2:
        failures.append("only %d interval(s) lie between the dlopen at %.3f and the end of the "
                        "burn at %.3f; intervals: %s" % (full_after, dlopened, done, sr.intervals(r)))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    sr.main(test)
