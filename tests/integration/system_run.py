"""Shared by the whole-system integration tests (test_short_lived_lib,
test_pid_reuse, test_dlopen, test_churn): the agent runs WITHOUT --pid, so
it must discover the test's processes itself, from the kernel's exec/exit
events and the first sample of an unknown process.

    with SystemAgent(smolder, upload_interval="6s") as agent:
        agent.start()                  # waits for `sampling started`
        agent.next_interval()          # blocks until a ` counters ` line
        ... run workloads ...
        r = agent.stop()               # SIGINT, exit 0, decode every file

stop() returns a smolder_harness.Run: counters parsed from the log, every
profile decoded with `go tool pprof -raw -symbolize=none` (smolder_harness
does the decoding; nothing of it is repeated here). Workloads print JSON
lines on stdout; Workload reads them.

Only the standard library of Debian's /usr/bin/python3 is used.
"""

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import smolder_harness as h

RATE = 97


def main(test):
    """Runs test(smolder, *workloads) from a script's __main__: the
    arguments are the agent and the workload paths meson passes, in order."""
    if len(sys.argv) < 2:
        sys.exit("usage: %s SMOLDER [WORKLOAD]..." % sys.argv[0])
    h.run_test(test, sys.argv[1:])


class SystemAgent:
    """The agent profiling every process, with a temporary output dir."""

    def __init__(self, smolder, upload_interval="5s", sample_rate=RATE, extra_args=()):
        self.run = h.Run()
        self.run.outdir = tempfile.mkdtemp(prefix="smolder-it-sys-")
        self.sample_rate = sample_rate
        self.run.agent_cmd = h.agent_command(smolder, self.run.outdir, upload_interval,
                                             sample_rate) + list(extra_args)
        self.proc = None
        self._pump = None
        self._started = threading.Event()
        self._intervals = queue.Queue()  # parsed counters, as they are logged
        self._ok = False
        self.started_at = None  # time.time() when `sampling started` was seen
        self.stopped_at = None  # time.time() when SIGINT was sent

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._ok and not os.environ.get("SMOLDER_IT_KEEP"):
            shutil.rmtree(self.run.outdir, ignore_errors=True)
        else:
            h.log("output kept in %s" % self.run.outdir)
        return False

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            line = line.rstrip("\n")
            self.run.agent_log.append(line)
            if os.environ.get("SMOLDER_IT_VERBOSE") or " counters " in line or \
                    " warn " in line or " error " in line:
                print("[smolder] " + line, file=sys.stderr, flush=True)
            if "sampling started" in line:
                self.started_at = time.time()
                self._started.set()
            if " counters " in line:
                self._intervals.put(h.parse_counters(line))
        self._intervals.put(None)

    def _log_tail(self, n=60):
        return "\n".join(self.run.agent_log[-n:])

    def start(self):
        h.log("agent: " + " ".join(self.run.agent_cmd))
        self.proc = subprocess.Popen(self.run.agent_cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()
        h.wait_sampling_started(self.proc, self._started, self._pump, self._log_tail)

    def next_interval(self, timeout=60):
        """The counters of the next interval the agent closes."""
        try:
            c = self._intervals.get(timeout=timeout)
        except queue.Empty:
            h.fail("the agent closed no interval within %d s; its log:\n%s"
                   % (timeout, self._log_tail()))
        if c is None:
            h.fail("the agent exited (status %s) while the test ran; its log:\n%s"
                   % (self.proc.poll(), self._log_tail()))
        return c

    def wait_profile_of(self, service, intervals=5):
        """Waits until the agent has written a profile of service (so it
        knows the process and has read its files), at most intervals
        intervals."""
        known = os.path.join(self.run.outdir, service)
        for _ in range(intervals):
            self.next_interval()
            if os.path.isdir(known) and os.listdir(known):
                return
        h.fail("no profile of %s in %d intervals while it burnt CPU; services: %s"
               % (service, intervals, os.listdir(self.run.outdir)))

    def wait_written(self, t=None):
        """Waits until the agent has closed the interval holding the wall
        clock time t (default: now), so what ran before t is written."""
        t = time.time() if t is None else t
        while True:
            c = self.next_interval()
            if int(c["interval"].split("-")[1]) >= t:
                return c

    def check_alive(self):
        if self.proc.poll() is not None:
            h.fail("the agent exited (status %s) while the test ran; its log:\n%s"
                   % (self.proc.returncode, self._log_tail()))

    def stop(self):
        """SIGINT (the partial interval is written), exit 0 required; returns
        the Run with counters and decoded profiles."""
        self.check_alive()
        self.stopped_at = time.time()
        self.run.agent_rc = h.stop_agent(self.proc, self._pump, self._log_tail)
        self.run.collect()
        self._ok = True
        return self.run


class Workload:
    """A workload process speaking JSON lines on stdout, with a pipe on
    stdin (closing it ends the long-running ones)."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.lines = queue.Queue()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        threading.Thread(target=h._pump, args=(self.proc.stdout, self.lines), daemon=True).start()

    def event(self, name, timeout=60, agent=None):
        base = os.path.basename(self.cmd[0])
        return h.next_event(self.lines, name, timeout,
                            check=agent.check_alive if agent is not None else None,
                            label=base, source=base, echo=True,
                            exited=lambda: "%s exited (status %s) before its %r line"
                            % (base, self.proc.poll(), name))

    def send(self, text="go\n"):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout=30):
        """Closes stdin and waits; a non-zero exit status fails the test."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            h.fail("%s did not exit after its stdin closed" % os.path.basename(self.cmd[0]))
        if rc != 0:
            h.fail("%s exited with status %d" % (os.path.basename(self.cmd[0]), rc))

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


# ---------------------------------------------------------------------------
# Reading a Run: in smolder_harness, shared with the --pid tests.

count, naming, services = h.count, h.naming, h.services
intervals, tiling_problems, top_stacks = h.intervals, h.tiling_problems, h.top_stacks


def check_output(r, sample_rate=RATE):
    h.check_output(r, sample_rate)
