"""Integration: who is a memory target, and the ceiling on probe hits
(issue 17, items 1 and 5).

    test_memory_targets.py SMOLDER MEMORY_FAMILY

memory_family (see its header) is the agent's one --pid, a memory target,
calling malloc and free RATE_LOW times a second. Once its allocator's
entries show 0xcc in /proc/PID/mem:
  - it forks two children that call malloc and free every millisecond:
    each is a memory target of its own (the agent says so) and its entries
    show 0xcc all through CHILD_WATCH_S (a child forked after attach
    inherits the int3 bytes, but loses them at its first call unless its
    own probes are attached: the watch tells the two apart);
  - it forks a child that execs /bin/sleep: no target (another image),
    its libc's entries keep their original bytes through CHILD_WATCH_S;
  - it calls malloc and free RATE_HIGH times a second, past the default
    --memory-max-hits: the agent takes its probes off (it says so, and
    malloc_detached counts it), its entries get their original bytes back,
    and BACKOFF_S later the agent puts them on again (its entries show
    0xcc again) and, still too many, takes them off again;
  - its memory profiles hold allocations under churn and main.
"""

import os
import re
import sys
import tempfile
import time

import smolder_harness as h
import test_memory as tm

INTERVAL = "3s"
RATE = 97
RATE_LOW = 2000
RATE_HIGH = 100000   # calls a second: 200,000 probe hits (malloc and free)
CHILD_WATCH_S = 2.0
BACKOFF_S = 10
WAIT_S = 8


def watch(entries, seconds, want):
    """Reads entries every 20 ms for seconds; the reads whose bytes are not
    as want (a function of (entries, bytes)) says."""
    bad, reads, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        got = entries.read()
        reads += 1
        if not want(entries, got):
            bad.append(entries.describe(got))
        time.sleep(0.02)
    return reads, bad


def wait_for(what, cond, seconds, agent, log):
    deadline = time.monotonic() + seconds
    while not cond():
        if agent.poll() is not None:
            h.fail("the agent exited (status %s) waiting for %s; its log:\n%s"
                   % (agent.returncode, what, "\n".join(log)))
        if time.monotonic() > deadline:
            h.fail("no %s within %d s; the agent's log:\n%s" % (what, seconds,
                                                                "\n".join(log[-40:])))
        time.sleep(0.05)


def logged(log, pattern):
    return [l for l in list(log) if re.search(pattern, l)]


def test(smolder, family_exe):
    tmp = tempfile.mkdtemp(prefix="smolder-memtargets-")
    r = h.Run()
    r.outdir = os.path.join(tmp, "out")
    service = os.path.basename(family_exe)
    family = tm.start("family", [family_exe])
    agent = None
    failures = []
    try:
        pid = family.event("ready", h.START_TIMEOUT_S)["pid"]
        family.send("rate %d\n" % RATE_LOW)
        family.event("rate", 10)
        parent = tm.Entries(pid, "libc.so", "parent")
        r.agent_cmd = h.agent_command(smolder, r.outdir, INTERVAL, RATE) + [
            "--pid", str(pid), "--profile-types", "cpu,memory", "--http-listen", "off"]
        agent, pump = tm.start_agent(r)
        tm.wait_probed([parent], agent, r)

        # Its family.
        children = []
        for _ in range(2):
            family.send("fork\n")
            children.append(family.event("forked", 10)["pid"])
        family.send("exec\n")
        execed = family.event("execed", 10)["pid"]
        for c in children:
            wait_for("`memory target %d` in the log" % c,
                     lambda c=c: logged(r.agent_log, r"memory target %d \(" % c), WAIT_S,
                     agent, r.agent_log)
        time.sleep(0.5)  # past the sleep's exec
        for c in children:
            e = tm.Entries(c, "libc.so", "child %d" % c)
            reads, bad = watch(e, CHILD_WATCH_S, lambda e, g: e.probed(g))
            h.log("child %d: %d reads, %d without 0xcc at every entry" % (c, reads, len(bad)))
            if bad:
                failures.append("child %d (forked by the target) lost its probes in %d of %d "
                                "reads: %s" % (c, len(bad), reads, bad[0]))
        e = tm.Entries(execed, "libc.so", "exec'd child %d" % execed)
        reads, bad = watch(e, CHILD_WATCH_S, lambda e, g: e.original(g))
        h.log("exec'd child %d: %d reads, %d not original" % (execed, reads, len(bad)))
        if bad:
            failures.append("the child that exec'd /bin/sleep is probed in %d of %d reads: %s"
                            % (len(bad), reads, bad[0]))
        if logged(r.agent_log, r"memory target %d \(" % execed):
            failures.append("the child that exec'd /bin/sleep was made a memory target")

        # Past the ceiling: off, then on again after its time off, then off.
        family.send("rate %d\n" % RATE_HIGH)
        family.event("rate", 10)
        over = r"memory target %d: \d+ allocator calls a second, over --memory-max-hits" % pid
        wait_for("the ceiling's message", lambda: logged(r.agent_log, over), WAIT_S, agent,
                 r.agent_log)
        t_off = time.monotonic()
        wait_for("the parent's original bytes back",
                 lambda: parent.original(parent.read()), WAIT_S, agent, r.agent_log)
        h.log("probes off %.1f s after the ceiling's message" % (time.monotonic() - t_off))
        ons = r"memory target %d \(memory_family\): \d+ probes on glibc" % pid
        wait_for("the probes put on again after %d s" % BACKOFF_S,
                 lambda: len(logged(r.agent_log, ons)) >= 2, BACKOFF_S + WAIT_S, agent,
                 r.agent_log)
        back = time.monotonic() - t_off
        wait_for("the ceiling's second message", lambda: len(logged(r.agent_log, over)) >= 2,
                 WAIT_S, agent, r.agent_log)
        h.log("probes on again %.1f s after they came off, then off again" % back)
        if back < BACKOFF_S - 1.5:
            failures.append("the probes came back %.1f s after they were taken off, before "
                            "the %d s back-off" % (back, BACKOFF_S))
        family.send("rate %d\n" % RATE_LOW)
        family.event("rate", 10)
        time.sleep(3.5)  # an interval's end, with the calls back under the ceiling
        r.agent_rc = h.stop_agent(agent, pump, lambda: "\n".join(r.agent_log))
        agent = None
        r.collect()
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        family.kill()

    detached = r.total("malloc_detached")
    h.log("malloc_detached=%d malloc_scaled=%d malloc_forgotten=%d malloc_targets max %d"
          % (detached, r.total("malloc_scaled"), r.total("malloc_forgotten"),
             max(c.get("malloc_targets", 0) for c in r.counters)))
    if detached < 2:
        failures.append("malloc_detached is %d; the ceiling was passed twice" % detached)
    if r.total("malloc_scaled") < 1:
        failures.append("no profile was scaled for the time its probes were off "
                        "(malloc_scaled 0)")
    samples = [s for p in r.profiles_of_type("memory") if p.service == service
               for s in p.samples if s.value("alloc_objects") > 0]
    under = [s for s in samples if "churn" in s.names and "main" in s.names]
    h.log("%d allocation samples of %s, %d under churn and main" % (len(samples), service,
                                                                    len(under)))
    if not samples or len(under) < 0.95 * len(samples):
        failures.append("%d of %d allocation samples under churn and main"
                        % (len(under), len(samples)))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: %s SMOLDER MEMORY_FAMILY" % sys.argv[0])
    h.run_test(test, sys.argv[1:3])
