"""Integration: /healthz tells the truth, slow clients cannot starve it, and
the default listener's port in use does not stop profiling.

    test_health.py SMOLDER CPU_SHARES

The agent profiles cpu_shares (--pid) in 1 s intervals. Checked:
  - stall: with SMOLDER_TEST_STALL_S (test only: the run loop sleeps as it
    closes its second interval), /healthz answers 200, then 503 with a
    one-line reason while the loop is stuck, then 200 again once it goes
    on; it never fails before the limit (the interval's age said by
    /metrics is past 30 s when it first fails), and
    smolder_last_interval_age_seconds grows through the stall, then falls
    back under a few intervals; every probe is answered within 1 s;
  - slow clients: 16 connections from 127.0.0.2 that send a request's
    header a byte every 2 s (and connect again when cut off) do not keep
    /healthz from 127.0.0.1 from answering 200 within 1 s, probed twice a
    second for 10 s; /metrics counts the connections refused and cut;
  - the default 127.0.0.1:4100 in use (held by a socket of the test): the
    agent logs one warning naming it, profiles all the same (writes
    profiles) and exits 0; an --http-listen given that is in use exits
    non-zero with one line naming it.
"""

import os
import socket
import subprocess
import threading
import time

import smolder_harness as h
from test_metrics import Agent, INTERVAL_S, get, scrape, value, with_workload

# health.h: the loop may wait min(interval, 10 s) between passes, and gets
# 30 s more for one pass's work; three intervals and 30 s to close one.
MARGIN_S = 30
STALL_S = INTERVAL_S + MARGIN_S + 12
PROBE_TIMEOUT_S = 1
AGE = "smolder_last_interval_age_seconds"


def probe(base):
    """(status, body) of /healthz within PROBE_TIMEOUT_S; failing the test
    when it does not answer in time."""
    t0 = time.monotonic()
    r = get(base + "/healthz", timeout=PROBE_TIMEOUT_S)
    if r is None:
        h.fail("/healthz did not answer within %d s (%.2f s)" % (PROBE_TIMEOUT_S,
                                                                 time.monotonic() - t0))
    return r[0], r[1]


def run_stall(smolder, pid, tmp):
    port = h.free_port()
    base = "http://127.0.0.1:%d" % port
    env = dict(os.environ, SMOLDER_TEST_STALL_S=str(STALL_S))
    agent = Agent(smolder, ["--pid", str(pid), "--http-listen", "127.0.0.1:%d" % port],
                  os.path.join(tmp, "out-stall"), env=env)
    # [(time, status, body, age)] each time the status changes, and the ages
    seen, ages = [], []
    try:
        agent.wait_started()
        deadline = time.monotonic() + STALL_S + 40
        while time.monotonic() < deadline:
            agent.check_alive()
            status, body = probe(base)
            age = value(scrape(base), AGE, "gauge")
            ages.append((status, age))
            if not seen or seen[-1][1] != status:
                seen.append((time.monotonic(), status, body, age))
                h.log("/healthz: %d %r, the last interval %.1f s ago" % (status, body, age))
            if status not in (200, 503):
                h.fail("/healthz: want 200 or 503, got %d %r" % (status, body))
            if status == 503 and (body.count("\n") != 1 or not body.startswith("not healthy: ")):
                h.fail("/healthz: the 503's reason is not one line: %r" % body)
            if [s[1] for s in seen] == [200, 503, 200] and age < 3 * INTERVAL_S:
                break
            time.sleep(0.5)
        agent.stop()
    finally:
        agent.kill()
    statuses = [s[1] for s in seen]
    if statuses != [200, 503, 200]:
        h.fail("/healthz went %s during a %d s stall, want 200, 503, 200; the agent's log:\n%s"
               % (statuses, STALL_S, agent.log_text()))
    first_503_age = seen[1][3]
    if first_503_age < MARGIN_S:
        h.fail("/healthz failed when the last interval was %.1f s old: before the limit"
               % first_503_age)
    if ages[-1][1] >= 3 * INTERVAL_S:
        h.fail("%s is %.1f s after the stall, want under %d" % (AGE, ages[-1][1], 3 * INTERVAL_S))
    stalled = [a for s, a in ages if s == 503]
    if stalled != sorted(stalled) or stalled[-1] <= stalled[0]:
        h.fail("%s did not grow through the stall: %s" % (AGE, stalled))
    h.log("stall of %d s: 503 from the interval's age %.1f s to %.1f s, then 200 at %.1f s"
          % (STALL_S, stalled[0], stalled[-1], seen[2][3]))


class SlowClient(threading.Thread):
    """Connects from 127.0.0.2 and sends a request's header a byte every
    2 s (under the server's idle timeout), connecting again when cut off,
    until stopped."""
    REQUEST = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 4096 + b"\r\n\r\n"

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.connects = 0
        self.cut = 0

    def run(self):
        while not self.stop.is_set():
            s = socket.socket()
            try:
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", self.port))
                self.connects += 1
                for i in range(len(self.REQUEST)):
                    s.send(self.REQUEST[i:i + 1])
                    if self.stop.wait(2):
                        break
            except OSError:
                self.cut += 1
                self.stop.wait(0.2)
            finally:
                s.close()


def run_slow_clients(smolder, pid, tmp):
    port = h.free_port()
    base = "http://127.0.0.1:%d" % port
    agent = Agent(smolder, ["--pid", str(pid), "--http-listen", "127.0.0.1:%d" % port],
                  os.path.join(tmp, "out-slow"))
    stop = threading.Event()
    clients = [SlowClient(port, stop) for _ in range(16)]
    try:
        agent.wait_started()
        status, body = probe(base)
        if status != 200:
            h.fail("/healthz before the slow clients: %d %r" % (status, body))
        for c in clients:
            c.start()
        time.sleep(3)
        probes = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            agent.check_alive()
            status, body = probe(base)
            if status != 200:
                h.fail("/healthz with 16 slow clients: %d %r" % (status, body))
            probes += 1
            time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join(5)
        time.sleep(2 * INTERVAL_S + 0.5)
        m = scrape(base)
        agent.stop()
    finally:
        stop.set()
        agent.kill()
    refused = value(m, "smolder_http_connections_refused_total", "counter")
    cut = value(m, "smolder_http_connections_cut_total", "counter")
    h.log("16 slow clients (%d connections, %d cut off): %d probes of /healthz answered 200 "
          "within %d s; /metrics: %d refused, %d cut" % (
              sum(c.connects for c in clients), sum(c.cut for c in clients), probes,
              PROBE_TIMEOUT_S, refused, cut))
    # At most 4 of the 16 are let in from one address; those that were
    # let in closed without a whole request.
    if refused < 12 or cut < 1:
        h.fail("/metrics: %d connections refused and %d cut; want the slow clients counted"
               % (refused, cut))


def hold_port(port):
    """A listening socket on 127.0.0.1:port, or None when something else
    holds it already (either way the port is in use)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
        return s
    except OSError:
        s.close()
        return None


def run_port_taken(smolder, pid, tmp):
    outdir = os.path.join(tmp, "out-default")
    env = {k: v for k, v in os.environ.items() if k != "SMOLDER_HTTP_LISTEN"}
    held = hold_port(4100)
    try:
        p = subprocess.run([smolder, "--pid", str(pid), "--upload-interval", "%ds" % INTERVAL_S,
                            "--duration", "3s", "--output-dir", outdir, "--log-level", "info"],
                           capture_output=True, text=True, timeout=60, env=env)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        given = "127.0.0.1:%d" % s.getsockname()[1]
        try:
            q = subprocess.run([smolder, "--pid", str(pid), "--http-listen", given,
                                "--duration", "3s", "--output-dir", outdir],
                               capture_output=True, text=True, timeout=60, env=env)
        finally:
            s.close()
    finally:
        if held:
            held.close()
    lines = p.stderr.strip().split("\n")
    about = [l for l in lines if "--http-listen" in l]
    if p.returncode != 0 or "sampling started" not in p.stderr:
        h.fail("the default port in use: want the agent to profile and exit 0, got %d:\n%s"
               % (p.returncode, p.stderr))
    if len(about) != 1 or " warn " not in about[0] or "127.0.0.1:4100" not in about[0]:
        h.fail("the default port in use: want one warning naming 127.0.0.1:4100, got %r" % about)
    written = [f for _, _, fs in os.walk(outdir) for f in fs if f.endswith(".pb.gz")]
    if not written:
        h.fail("the default port in use: no profile written in %s:\n%s" % (outdir, p.stderr))
    h.log("default port in use (%s): %s; %d profiles written"
          % ("held by the test" if held else "held already", about[0], len(written)))
    qlines = q.stderr.strip().split("\n")
    if q.returncode == 0 or len(qlines) != 1 or given not in qlines[0]:
        h.fail("--http-listen %s in use: want a non-zero exit and one line naming it, got %d %r"
               % (given, q.returncode, q.stderr))
    h.log("--http-listen %s in use: exit %d, %s" % (given, q.returncode, qlines[0]))


def test(smolder, workload):
    with_workload(smolder, workload, "smolder-it-health-",
                  [run_port_taken, run_slow_clients, run_stall])


if __name__ == "__main__":
    h.main(test)
