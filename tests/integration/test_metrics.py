"""Integration: the agent's HTTP endpoints (--http-listen), scraped while it
profiles a real workload.

    test_metrics.py SMOLDER CPU_SHARES

The agent profiles cpu_shares (--pid) in 1 s intervals with --http-listen
on a free port of 127.0.0.1. Checked:
  - /healthz answers 200 "ok" as soon as the server is up;
  - /ready answers 503 with a one-line reason until the first interval has
    ended, then 200 (and stays so), and not before the agent logged that
    interval's counters;
  - /metrics is valid Prometheus text (version 0.0.4): every sample line
    belongs to a metric with a HELP and a TYPE given before it, names are
    valid, values are numbers, no metric twice; every counter of the log's
    `counters` lines is there, as smolder_NAME_total or, a gauge,
    smolder_NAME; smolder_samples_taken_total and
    smolder_samples_profiled_total grow between two scrapes a few intervals
    apart, smolder_processes_tracked is a gauge,
    smolder_process_resident_memory_bytes > 0,
    smolder_last_interval_age_seconds a gauge within a few intervals,
    smolder_build_info has the version; a scrape's totals are those of some interval's end (a sum of
    the log's first intervals);
  - an unknown path is 404; the agent exits 0 on SIGTERM;
  - with --server-address (the fake Pyroscope of tests/upload), the upload
    counters (queued, delivered) grow between two scrapes, and no more are
    said delivered than the server took;
  - --http-listen off serves nothing (neither on the port nor on the
    default 127.0.0.1:4100);
  - a bad address is a bad flag value (exit 2, one line), and a port in use
    given by --http-listen stops the agent (exit 1, the address named;
    test_health.py checks the default's port in use).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import smolder_harness as h

INTERVAL_S = 1
RATE = 97
NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
LABEL_RE = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$')


def get(url, timeout=5):
    """(status, body) of a GET; None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None


def refuses(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def parse_metrics(text):
    """{family: {"type", "help", "samples": {labels: value}}}, failing the
    test on anything that is not valid exposition text."""
    fams = {}
    if not text.endswith("\n"):
        h.fail("/metrics: the text does not end with a line feed")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "/metrics line %d: %r" % (n, line)
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME_RE.match(parts[2]):
                h.fail("%s: bad HELP/TYPE line" % where)
            f = fams.setdefault(parts[2], {"type": None, "help": None, "samples": {}})
            if f["samples"]:
                h.fail("%s: after the metric's samples" % where)
            if parts[1] == "HELP":
                if f["help"] is not None or f["type"] is not None:
                    h.fail("%s: HELP twice, or after TYPE" % where)
                f["help"] = parts[3]
            else:
                if f["type"] is not None:
                    h.fail("%s: TYPE twice" % where)
                if parts[3] not in ("counter", "gauge"):
                    h.fail("%s: type %r" % (where, parts[3]))
                f["type"] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            h.fail("%s: not a sample line" % where)
        name, labels, value = m.groups()
        f = fams.get(name)
        if f is None or f["type"] is None:
            h.fail("%s: a sample of a metric without TYPE" % where)
        if labels:
            for pair in labels[1:-1].split(","):
                if not LABEL_RE.match(pair):
                    h.fail("%s: bad label %r" % (where, pair))
        try:
            v = float(value)
        except ValueError:
            h.fail("%s: value %r is not a number" % (where, value))
        if labels in f["samples"]:
            h.fail("%s: the same series twice" % where)
        if f["type"] == "counter" and v < 0:
            h.fail("%s: a negative counter" % where)
        f["samples"][labels] = v
    for name, f in fams.items():
        if not f["samples"]:
            h.fail("/metrics: %s has HELP/TYPE but no sample" % name)
    return fams


def value(fams, name, type_=None):
    f = fams.get(name)
    if f is None:
        h.fail("/metrics: no %s; metrics: %s" % (name, " ".join(sorted(fams))))
    if type_ and f["type"] != type_:
        h.fail("/metrics: %s is a %s, want a %s" % (name, f["type"], type_))
    return next(iter(f["samples"].values()))


class Agent:
    def __init__(self, smolder, args, outdir, env=None):
        self.cmd = [smolder, "--upload-interval", "%ds" % INTERVAL_S, "--sample-rate", str(RATE),
                    "--output-dir", outdir, "--log-level", "info"] + list(args)
        self.log = []
        self.started = threading.Event()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)

        def on_line(line):
            if "sampling started" in line:
                self.started.set()

        self.pump = threading.Thread(target=h._pump, args=(self.proc.stdout, self.log, None, on_line),
                                     daemon=True)
        self.pump.start()

    def log_text(self):
        return "\n".join(self.log)

    def check_alive(self):
        if self.proc.poll() is not None:
            self.pump.join(5)
            h.fail("the agent exited (status %s); its log:\n%s" % (self.proc.returncode,
                                                                   self.log_text()))

    def wait_started(self):
        if not self.started.wait(30):
            self.check_alive()
            h.fail("no `sampling started` within 30 s; the agent's log:\n%s" % self.log_text())

    def counters(self):
        return [h.parse_counters(l) for l in list(self.log) if " counters " in l]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            h.fail("the agent did not stop within 30 s of SIGTERM")
        self.pump.join(5)
        if rc != 0:
            h.fail("the agent exited %d on SIGTERM; its log:\n%s" % (rc, self.log_text()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def check_ready_sequence(agent, base):
    """/healthz and /ready from the moment the server answers until ready."""
    deadline = time.monotonic() + 40
    first = None
    answers = []
    while time.monotonic() < deadline:
        agent.check_alive()
        r = get(base + "/ready", timeout=2)
        if r is None:
            time.sleep(0.02)
            continue
        status, body, _ = r
        if first is None:
            first = r
            hz = get(base + "/healthz")
            if not hz or hz[0] != 200 or hz[1].strip() != "ok":
                h.fail("/healthz: want 200 ok, got %r" % (hz,))
            h.log("/healthz: %d %r" % (hz[0], hz[1]))
        if not answers or answers[-1][0] != status or answers[-1][1] != body:
            answers.append((status, body))
            h.log("/ready: %d %r" % (status, body))
        if status == 200:
            break
        if status != 503:
            h.fail("/ready: want 503 or 200, got %d %r" % (status, body))
        if body.count("\n") > 1 or not body.strip():
            h.fail("/ready: the 503's reason is not one line: %r" % body)
        time.sleep(0.02)
    else:
        h.fail("/ready never answered 200 in 40 s; answers: %r; the agent's log:\n%s"
               % (answers, agent.log_text()))
    if first[0] != 503:
        h.fail("/ready: the first answer was %d %r, want 503 before the first interval ended"
               % (first[0], first[1]))
    # The counters are logged before the interval is published.
    time.sleep(0.3)
    if not agent.counters():
        h.fail("/ready said 200 before any interval's counters were logged:\n%s"
               % agent.log_text())
    for _ in range(5):
        r = get(base + "/ready")
        if not r or r[0] != 200:
            h.fail("/ready: 200, then %r" % (r,))
        time.sleep(0.1)


def scrape(base):
    r = get(base + "/metrics")
    if not r or r[0] != 200:
        h.fail("/metrics: want 200, got %r" % (r,))
    status, body, ctype = r
    if not ctype or not ctype.startswith("text/plain") or "version=0.0.4" not in ctype:
        h.fail("/metrics: Content-Type %r, want text/plain; version=0.0.4" % ctype)
    return parse_metrics(body)


def run_on(smolder, workload_pid, tmp):
    port = h.free_port()
    base = "http://127.0.0.1:%d" % port
    agent = Agent(smolder, ["--pid", str(workload_pid), "--http-listen", "127.0.0.1:%d" % port],
                  os.path.join(tmp, "out"))
    try:
        check_ready_sequence(agent, base)
        agent.wait_started()
        m1 = scrape(base)
        time.sleep(3 * INTERVAL_S + 0.5)
        m2 = scrape(base)
        nf = get(base + "/nothing-here")
        if not nf or nf[0] != 404:
            h.fail("/nothing-here: want 404, got %r" % (nf,))
        agent.stop()
    finally:
        agent.kill()

    counters = agent.counters()
    h.log("%d intervals logged" % len(counters))
    names = [k for k in counters[0] if k != "interval"]
    for k in names:
        if "smolder_%s_total" % k not in m2 and "smolder_%s" % k not in m2:
            h.fail("/metrics: counter %s of the log is missing" % k)
    for m in (m1, m2):
        # counters and gauges, the two of the process, the interval's age
        # and the build
        if len(m) != len(names) + 4:
            h.fail("/metrics: %d metrics, want the %d counters and 4 more: %s"
                   % (len(m), len(names), " ".join(sorted(m))))
    taken = [value(m, "smolder_samples_taken_total", "counter") for m in (m1, m2)]
    profiled = [value(m, "smolder_samples_profiled_total", "counter") for m in (m1, m2)]
    h.log("samples taken %s, profiled %s" % (taken, profiled))
    if not taken[1] > taken[0] or not profiled[1] > profiled[0]:
        h.fail("samples taken %s and profiled %s did not grow between the scrapes"
               % (taken, profiled))
    tracked = value(m2, "smolder_processes_tracked", "gauge")
    if tracked < 1:
        h.fail("smolder_processes_tracked is %s" % tracked)
    rss = value(m2, "smolder_process_resident_memory_bytes", "gauge")
    if not rss > 0:
        h.fail("smolder_process_resident_memory_bytes is %s" % rss)
    ages = [value(m, "smolder_last_interval_age_seconds", "gauge") for m in (m1, m2)]
    if not all(0 <= a < 5 * INTERVAL_S for a in ages):
        h.fail("smolder_last_interval_age_seconds %s: want 0 to a few intervals of %d s"
               % (ages, INTERVAL_S))
    cpu = [value(m, "smolder_process_cpu_seconds_total", "counter") for m in (m1, m2)]
    if not 0 <= cpu[0] <= cpu[1]:
        h.fail("smolder_process_cpu_seconds_total went %s" % cpu)
    info = m2.get("smolder_build_info")
    if not info or info["type"] != "gauge" or list(info["samples"].values()) != [1.0] or \
            not re.match(r'^\{version="[^"]+"\}$', next(iter(info["samples"]))):
        h.fail("smolder_build_info: %r" % (info,))
    version = subprocess.run([smolder, "--version"], capture_output=True, text=True).stdout.split()
    if '{version="%s"}' % version[-1] not in info["samples"]:
        h.fail("smolder_build_info: %r, want version %s" % (info["samples"], version[-1]))
    # A scrape's totals are those at some interval's end.
    for m in (m1, m2):
        for key in ("samples_taken", "samples_profiled", "profiles_written"):
            sums, s = [], 0
            for c in counters:
                s += c[key]
                sums.append(s)
            got = value(m, "smolder_%s_total" % key)
            if got not in sums:
                h.fail("/metrics: smolder_%s_total %s is no interval's total (%s)" % (key, got, sums))


def run_uploading(smolder, workload_pid, tmp):
    """With a server: the upload counters move in /metrics as profiles are
    delivered (to the fake Pyroscope of tests/upload)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "upload"))
    import fake_pyroscope
    server = fake_pyroscope.FakePyroscope()
    url = server.start(os.path.join(tmp, "pyroscope"))
    port = h.free_port()
    base = "http://127.0.0.1:%d" % port
    agent = Agent(smolder, ["--pid", str(workload_pid), "--http-listen", "127.0.0.1:%d" % port,
                            "--server-address", url, "--spool-dir", os.path.join(tmp, "spool")],
                  os.path.join(tmp, "out-up"))
    try:
        agent.wait_started()
        time.sleep(INTERVAL_S + 0.5)
        m1 = scrape(base)
        time.sleep(3 * INTERVAL_S + 0.5)
        m2 = scrape(base)
        agent.stop()
    finally:
        agent.kill()
        server.stop()
    queued = [value(m, "smolder_uploads_queued_total", "counter") for m in (m1, m2)]
    delivered = [value(m, "smolder_uploads_delivered_total", "counter") for m in (m1, m2)]
    h.log("uploads queued %s, delivered %s" % (queued, delivered))
    if not queued[1] > queued[0] or not delivered[1] > delivered[0]:
        h.fail("uploads queued %s and delivered %s did not grow between the scrapes"
               % (queued, delivered))
    taken = len([r for r in server.received() if r["accepted"]])
    if taken < delivered[1]:
        h.fail("/metrics says %d delivered, the server took %d" % (delivered[1], taken))


def run_off(smolder, workload_pid, tmp):
    port = h.free_port()
    default_free = refuses(4100)
    agent = Agent(smolder, ["--pid", str(workload_pid), "--http-listen", "off"],
                  os.path.join(tmp, "out-off"))
    try:
        agent.wait_started()
        time.sleep(INTERVAL_S + 1)
        agent.check_alive()
        if not refuses(port):
            h.fail("--http-listen off: something answers on port %d" % port)
        if default_free and not refuses(4100):
            h.fail("--http-listen off: the default 127.0.0.1:4100 is served")
        if "serving /healthz" in agent.log_text():
            h.fail("--http-listen off: the log says it serves:\n%s" % agent.log_text())
        agent.stop()
    finally:
        agent.kill()
    h.log("--http-listen off: nothing served")


def run_bad(smolder, tmp):
    for bad in ("127.0.0.1:99999", "127.0.0.1", "example.com:80", "::1:80"):
        p = subprocess.run([smolder, "--http-listen", bad, "--output-dir", tmp],
                           capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().split("\n")
        if p.returncode != 2 or len(lines) != 1 or "--http-listen" not in lines[0]:
            h.fail("--http-listen %s: want exit 2 and one line naming the flag, got %d %r"
                   % (bad, p.returncode, p.stderr))
    h.log("bad addresses: %s" % lines[0])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    addr = "127.0.0.1:%d" % s.getsockname()[1]
    try:
        p = subprocess.run([smolder, "--http-listen", addr, "--output-dir", tmp,
                            "--duration", "5s"], capture_output=True, text=True, timeout=30)
    finally:
        s.close()
    if p.returncode != 1 or addr not in p.stderr or "error" not in p.stderr:
        h.fail("--http-listen %s in use: want exit 1 and an error naming it, got %d %r"
               % (addr, p.returncode, p.stderr))
    if "sampling started" in p.stderr:
        h.fail("--http-listen %s in use: sampling started all the same" % addr)
    h.log("port in use: %s" % p.stderr.strip())


def with_workload(smolder, workload, prefix, steps):
    """Calls each step(smolder, pid, tmp) while cpu_shares burns a thread
    (pid), tmp a scratch directory named prefix..., removed after, or kept
    and named when a step fails."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    w = subprocess.Popen([workload, "600", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, start_new_session=True)
    ok = False
    try:
        ready = json.loads(w.stdout.readline())
        if ready.get("event") != "ready":
            h.fail("workload: want a ready line, got %r" % ready)
        w.stdin.write("go\n")
        w.stdin.flush()
        for step in steps:
            step(smolder, ready["pids"][0], tmp)
        ok = True
    finally:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGKILL)
        w.wait()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            h.log("kept in %s" % tmp)


def test(smolder, workload):
    with_workload(smolder, workload, "smolder-it-metrics-",
                  [lambda smolder, pid, tmp: run_bad(smolder, tmp), run_on, run_uploading, run_off])


if __name__ == "__main__":
    h.main(test)
