"""Shared by the upload tests: the real agent profiling a real workload and
sending to the fake Pyroscope (tests/upload/fake_pyroscope.py), a server
process of its own that validates as Pyroscope does and records what it
took, decoded with python3-protobuf; profiles are read back with
`go tool pprof -raw` (smolder_harness.decode). Nothing here is ours but the
agent under test.

    r = UploadRun(smolder, workload)      # cpu_shares, burning until stopped
    url = r.start_server()                # or r.server.restart(...)
    r.start_agent(url, ["--tag", "env=it"])
    r.wait_intervals(4)
    r.stop_agent()                        # SIGTERM: must exit 0
    got = r.delivered()                   # accepted, first copies, in order
    r.check_every_interval(got)

Intervals are 1 s, so a test sees many of them in little time. The service
of the workload is its executable's name, cpu_shares: only its pid is
profiled (--pid), so each interval holds exactly one profile of it.
"""

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import smolder_harness as h

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "upload"))
import fake_pyroscope  # noqa: E402

SERVICE = "cpu_shares"
RATE = 97
INTERVAL = "1s"
WORKLOAD_SECONDS = 600  # stopped by the test long before


class UploadRun:
    def __init__(self, smolder, workload):
        self.smolder = smolder
        self.workload_path = workload
        self.tmp = tempfile.mkdtemp(prefix="smolder-upload-it-")
        self.spool = os.path.join(self.tmp, "spool")
        self.server = None
        self.workload = None
        self.agent = None
        self.agent_log = []
        self.agent_cmd = None
        self._pump = None
        self._start_workload()

    # -- the workload ------------------------------------------------------

    def _workload_cmd(self):
        """The workload's command line (a run of another workload says its own)."""
        return [self.workload_path, str(WORKLOAD_SECONDS), "1"]

    def _start_workload(self):
        self.workload = subprocess.Popen(self._workload_cmd(),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         start_new_session=True)
        line = self.workload.stdout.readline()
        ready = json.loads(line)
        if ready.get("event") != "ready":
            h.fail("workload: want a ready line, got %r" % line)
        self.pid = ready["pids"][0]
        self.workload.stdin.write("go\n")
        self.workload.stdin.flush()

    # -- the server --------------------------------------------------------

    def start_server(self, args=(), name="server"):
        """Starts a fake Pyroscope recording into tmp/NAME; returns its URL."""
        self.server = fake_pyroscope.FakePyroscope(args=list(args))
        return self.server.start(os.path.join(self.tmp, name))

    def received(self):
        return self.server.received()

    def delivered(self, service=SERVICE):
        """The profiles the server took, first copies only, in the order it
        took them."""
        return [r for r in self.received()
                if r["accepted"] and not r["duplicate"] and
                r["labels"].get("service_name") == service]

    # -- the agent ---------------------------------------------------------

    def start_agent(self, url, args=(), spool=True, env=None):
        """url None: no --server-address (env gives SMOLDER_SERVER_ADDRESS)."""
        self.agent_log = []
        cmd = [self.smolder] + (["--server-address", url] if url else []) + [
               "--pid", str(self.pid),
               "--upload-interval", INTERVAL, "--sample-rate", str(RATE),
               "--log-level", "info", "--output-dir", os.path.join(self.tmp, "unused")]
        if spool:
            cmd += ["--spool-dir", self.spool]
        cmd += list(args)
        self.agent_cmd = cmd
        h.log("agent: " + " ".join(cmd))
        started = threading.Event()

        def on_line(line):
            if "sampling started" in line:
                started.set()

        self.agent = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      env=dict(os.environ, **(env or {})))
        self._pump = threading.Thread(target=h._pump,
                                      args=(self.agent.stdout, self.agent_log, "[smolder] ",
                                            on_line), daemon=True)
        self._pump.start()
        h.wait_sampling_started(self.agent, started, self._pump, self.log_text)

    def log_text(self):
        return "\n".join(self.agent_log)

    def counters(self):
        """One dict per closed interval, in order."""
        return [h.parse_counters(l) for l in list(self.agent_log) if " counters " in l]

    def wait_intervals(self, n, timeout=None):
        """Waits until n more intervals have closed."""
        want = len(self.counters()) + n
        deadline = time.monotonic() + (timeout or n * 3 + 10)
        while len(self.counters()) < want:
            if self.agent.poll() is not None:
                h.fail("the agent exited (status %s); its log:\n%s"
                       % (self.agent.returncode, self.log_text()))
            if time.monotonic() > deadline:
                h.fail("%d intervals did not close in time; the agent's log:\n%s"
                       % (n, self.log_text()))
            time.sleep(0.1)

    def wait_for(self, what, cond, timeout):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                h.fail("timed out waiting for %s; the agent's log:\n%s" % (what, self.log_text()))
            time.sleep(0.2)

    def stop_agent(self, sig=signal.SIGTERM, timeout=30):
        """Stops the agent (it flushes its last interval) and checks it
        exits 0; returns its counter lines."""
        self.agent.send_signal(sig)
        try:
            rc = self.agent.wait(timeout)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            h.fail("the agent did not exit within %d s of %s; its log:\n%s"
                   % (timeout, signal.Signals(sig).name, self.log_text()))
        self._pump.join(5)
        if rc != 0:
            h.fail("the agent exited %d, not 0; its log:\n%s" % (rc, self.log_text()))
        return self.counters()

    def totals(self):
        """The agent's last line about uploads: queued, delivered, ..."""
        for line in reversed(self.agent_log):
            m = re.search(r"uploads: (\d+) queued, (\d+) delivered, (\d+) refused, "
                          r"(\d+) attempts retried, (\d+) dropped; (\d+) in the spool", line)
            if m:
                keys = ("queued", "delivered", "refused", "retried", "dropped", "spooled")
                return dict(zip(keys, map(int, m.groups())))
        h.fail("the agent never logged its upload totals; its log:\n" + self.log_text())

    # -- checks ------------------------------------------------------------

    def profiled_intervals(self, counters=None):
        """Start seconds of the intervals with samples of the workload."""
        out = []
        for c in counters if counters is not None else self.counters():
            if c.get("samples_profiled", 0) > 0:
                out.append(int(c["interval"].split("-")[0]))
        return out

    def check_every_interval(self, delivered, counters=None):
        """Every interval with samples arrived exactly once, and in order.
        Intervals are named by their start second, which two runs of the
        agent may share (one stops and the next starts within a second):
        hence counts, not sets."""
        want = self.profiled_intervals(counters)
        got = [r["time_nanos"] // 1000000000 for r in delivered]
        if got != sorted(got):
            h.fail("profiles arrived out of order: %s" % got)
        if collections.Counter(got) != collections.Counter(want):
            missing = sorted((collections.Counter(want) - collections.Counter(got)).elements())
            extra = sorted((collections.Counter(got) - collections.Counter(want)).elements())
            h.fail("intervals the agent closed but the server never took: %s; taken but never "
                   "closed with samples, or taken twice: %s\nclosed: %s\ngot: %s\n"
                   "the agent's log:\n%s" % (missing, extra, want, got, self.log_text()))
        return got

    def decode(self, record):
        """A received profile, through `go tool pprof -raw`."""
        return h.decode(record["profile"], SERVICE, record["time_nanos"], 0)

    def cleanup(self, ok):
        if self.agent is not None and self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        if self.server is not None:
            self.server.stop()
        if self.workload is not None and self.workload.poll() is None:
            try:
                os.killpg(self.workload.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.workload.wait()
        if ok and not os.environ.get("SMOLDER_IT_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            h.log("kept in %s" % self.tmp)


def main(test):
    """test(run) from a script's __main__: SMOLDER WORKLOAD on the command
    line; a Failure is a message and exit status 1."""
    if len(sys.argv) < 3:
        sys.exit("usage: %s SMOLDER CPU_SHARES" % sys.argv[0])

    def wrapped(smolder, workload):
        r = UploadRun(smolder, workload)
        ok = False
        try:
            test(r)
            ok = True
        finally:
            r.cleanup(ok)

    h.run_test(wrapped, sys.argv[1:3])
