"""Integration: the agent's life over a whole-system run, as an operator sees it.

    test_lifecycle.py SMOLDER CPU_SHARES

The agent profiles every process in 4 s intervals. A copy of cpu_shares,
named so its service is ours alone, burns CPU for 2.5 s and exits well
before the interval that holds its samples is drained; then the agent gets
SIGTERM in the middle of an interval. Checked:
  - the exited process is in the profile under its own service, with its
    hot functions named and its stacks reaching main (it was named from
    what the agent learnt while it lived, not lost, not mislabelled);
  - the agent exits 0 and writes the partial interval it was in;
  - the intervals tile the run: each starts where the previous one ended,
    the ends fall on whole seconds, and the files are named by them;
  - every interval's books balance (profiled + lost == taken, and the files
    hold exactly the profiled samples).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import smolder_harness as h

RATE = 97
INTERVAL_S = 4
BURN_S = 2.5
SERVICE = "smolder_it_exited"
HOT = ("hot_alpha", "hot_beta", "hot_gamma")
# Half a CPU, in 20 ms bursts, until killed: the agent leaves itself out of
# its samples, so on a quiet host the partial interval at SIGTERM could hold
# no sample at all and rightly have no file. This keeps it populated.
TICKER = ("import time\n"
          "while True:\n"
          "    end = time.monotonic() + 0.02\n"
          "    while time.monotonic() < end: pass\n"
          "    time.sleep(0.02)\n")


def start_agent(smolder, outdir, r):
    r.agent_cmd = [smolder, "--upload-interval", "%ds" % INTERVAL_S, "--sample-rate", str(RATE),
                   "--output-dir", outdir, "--log-level", "info"]
    agent = subprocess.Popen(r.agent_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    started = threading.Event()

    def on_line(line):
        if "sampling started" in line:
            started.set()

    t = threading.Thread(target=h._pump, args=(agent.stdout, r.agent_log, None, on_line),
                         daemon=True)
    t.start()
    if not started.wait(30):
        agent.kill()
        t.join(5)
        h.fail("no `sampling started` within 30 s (exit status %s); the agent's log:\n%s"
               % (agent.poll(), "\n".join(r.agent_log)))
    return agent, t


def test(smolder, workload):
    r = h.Run()
    r.outdir = tempfile.mkdtemp(prefix="smolder-it-")
    tmp = tempfile.mkdtemp(prefix="smolder-it-bin-")
    exe = os.path.join(tmp, SERVICE)
    shutil.copy(workload, exe)
    agent = None
    ticker = None
    try:
        agent, pump = start_agent(smolder, r.outdir, r)
        ticker = subprocess.Popen([sys.executable, "-c", TICKER], stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        # stdin at EOF: the workload burns for BURN_S and exits by itself
        p = subprocess.run([exe, str(BURN_S)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           text=True, timeout=60)
        if p.returncode != 0:
            h.fail("the workload exited with status %d" % p.returncode)
        # SIGTERM in the middle of an interval, at least one interval after
        # the workload exited, so its samples were drained after its death
        # (or in the drain that closed the interval it died in).
        time.sleep(INTERVAL_S + 1.5)
        agent.send_signal(signal.SIGTERM)
        r.agent_rc = agent.wait(30)
        pump.join(5)
        ticker.kill()
        ticker.wait()
        run_s = time.monotonic() - t0
        r.collect()
        h.check_output(r, RATE)

        # The exited process, under its own name, with named frames.
        samples = r.samples(SERVICE)
        total = h.count(samples)
        want = int(BURN_S * RATE)
        h.log("%s: %d samples (about %d expected for %.1f s of CPU)" % (SERVICE, total, want, BURN_S))
        if total < want // 2:
            h.fail("the exited process has %d samples under service %r, want at least %d: "
                   "services seen: %s" % (total, SERVICE, want // 2,
                                          h.services(r)))
        # The workload reads its thread's CPU clock around every call, a real
        # system call that on a VM can take a tenth of its time: those
        # samples are named too, by the workload's clock_ns.
        hot = sum(s.count for s in samples if any(n in HOT for n in s.names))
        timing = sum(s.count for s in samples
                     if "clock_ns" in s.names and not any(n in HOT for n in s.names))
        to_main = sum(s.count for s in samples if "main" in s.names)
        h.log("%s: %d samples in hot functions, %d in its clock, %d reach main"
              % (SERVICE, hot, timing, to_main))
        if hot < total * 0.7 or hot + timing < total * 0.95:
            h.fail("only %d of %d samples of the exited process name a hot function (%d its clock)"
                   % (hot, total, timing))
        if to_main < total * 0.95:
            h.fail("only %d of %d samples of the exited process reach main" % (to_main, total))

        # Intervals tile the run, on whole seconds, and name the files.
        intervals = h.intervals(r)
        h.log("intervals: %s" % intervals)
        if len(intervals) < 2:
            h.fail("want at least two intervals in a %.1f s run of %d s intervals, got %s"
                   % (run_s, INTERVAL_S, intervals))
        gaps = h.tiling_problems(r)
        if gaps:
            h.fail(gaps[0])
        for s, e in intervals[1:-1]:
            if e - s != INTERVAL_S:
                h.fail("a full interval %d-%d is not %d s long" % (s, e, INTERVAL_S))
        covered = intervals[-1][1] - intervals[0][0]
        if not run_s - 1 <= covered <= run_s + 3:
            h.fail("the intervals cover %d s of a %.1f s run" % (covered, run_s))
        last = intervals[-1]
        if last[1] - last[0] >= INTERVAL_S + 1:
            h.fail("the last interval %s should be the partial one flushed at SIGTERM" % (last,))
        names = {p.interval for p in r.profiles}
        logged = {c["interval"] for c in r.counters}
        if not names <= logged:
            h.fail("files named for intervals the agent never closed: %s" % sorted(names - logged))
        if "%d-%d" % last not in names:
            h.fail("no file for the last, partial interval %d-%d" % last)
    finally:
        if ticker is not None and ticker.poll() is None:
            ticker.kill()
            ticker.wait()
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        if os.environ.get("SMOLDER_IT_KEEP"):
            h.log("output kept in %s" % r.outdir)
        else:
            shutil.rmtree(r.outdir, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
