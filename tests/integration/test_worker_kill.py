"""Integration (issue 12, items 1 and 2): the parser worker killed, then
hung, in the middle of a run, costs no interval and no time.

    test_worker_kill.py SMOLDER CACHE_BURN

The agent profiles cache_burn in 2 s intervals. 2 s after its parser worker
has confined itself the test kills it (SIGKILL); 2 s after the next one it
stops it (SIGSTOP) and leaves it stopped: a worker that hangs. Then the
agent gets SIGINT (as SIGTERM). Checked:
  - the worker ran confined (its /proc status: every capability set empty,
    no_new_privs, seccomp filter);
  - the agent kept the output contract, the intervals tile the run (none
    lost), and each interval's counters were logged within 1.5 s of its end
    (the interval thread does not wait on a worker that does not answer);
  - a new worker was started after the kill (worker_starts >= 2);
  - cache_hot is named in >= 90% of cache_burn's samples in every interval
    after the first;
  - the agent exited 0 within 6 s of the signal, the stopped worker with it.
"""

import datetime
import os
import re
import signal
import threading
import time

import smolder_harness as h

RATE = 97
SECONDS = 20
INTERVAL = "2s"
ACT_AFTER_S = 2
WORKER_ARG = "__smolder_parser_worker"
CONFINED = {"CapInh": "0000000000000000", "CapPrm": "0000000000000000",
            "CapEff": "0000000000000000", "CapBnd": "0000000000000000",
            "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}


def workers_of(workload_pid):
    """Pids of parser workers whose agent profiles workload_pid."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = h.read_text("/proc/%s/cmdline" % d).split("\0")
        if len(argv) < 2 or argv[1] != WORKER_ARG:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", h.read_text("/proc/%s/status" % d), re.M)
        parent = h.read_text("/proc/%s/cmdline" % ppid.group(1)).split("\0") if ppid else []
        if "--pid" in parent and str(workload_pid) in parent:
            found.append(int(d))
    return found


def status_of(pid):
    return dict(line.split(":\t", 1) for line in h.read_text("/proc/%d/status" % pid).splitlines()
                if ":\t" in line)


def confined_status(pid, timeout=5):
    """The worker's status once its seccomp filter is on (it confines
    itself first thing, but after it is seen)."""
    end = time.time() + timeout
    while True:
        st = status_of(pid)
        if st.get("Seccomp", "").strip() == "2" or time.time() > end:
            return st
        time.sleep(0.01)


class Saboteur(threading.Thread):
    """Kills the first worker, stops the second, notes what it saw."""

    def __init__(self, workload_pid):
        super().__init__(daemon=True)
        self.workload_pid = workload_pid
        self.status = {}
        self.killed = self.stopped = None
        self.error = None

    def next_worker(self, not_pid, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            pids = [p for p in workers_of(self.workload_pid) if p != not_pid]
            if pids:
                return pids[0]
            time.sleep(0.05)
        raise RuntimeError("no parser worker appeared in %d s" % timeout)

    def run(self):
        try:
            first = self.next_worker(None)
            self.status = confined_status(first)
            time.sleep(ACT_AFTER_S)
            os.kill(first, signal.SIGKILL)
            self.killed = first
            h.log("killed parser worker %d" % first)
            second = self.next_worker(first)
            confined_status(second)
            time.sleep(ACT_AFTER_S)
            os.kill(second, signal.SIGSTOP)
            self.stopped = second
            h.log("stopped parser worker %d" % second)
        except Exception as e:  # reported by the test
            self.error = str(e)


LOG_RE = re.compile(r"^(?:\[smolder\] )?(\S+Z) \w+ (.*)$")


def stamped(r):
    """[(unix seconds, message)] of the agent's log."""
    out = []
    for line in r.agent_log:
        m = LOG_RE.match(line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            out.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(), m.group(2)))
    return out


def timing_problems(r):
    problems = []
    log = stamped(r)
    for t, msg in log:
        m = re.match(r"counters interval=(\d+)-(\d+)", msg)
        if m and t - int(m.group(2)) > 1.5:
            problems.append("interval %s-%s logged %.1f s after its end"
                            % (m.group(1), m.group(2), t - int(m.group(2))))
    got = [t for t, msg in log if msg.startswith("received")]
    stopped = [t for t, msg in log if msg.startswith("stopped:")]
    if not got or not stopped:
        problems.append("no SIGTERM and stop lines in the log")
    elif stopped[-1] - got[0] > 6:
        problems.append("stopped %.1f s after SIGTERM" % (stopped[-1] - got[0]))
    return problems


def test(smolder, cache_burn):
    saboteur = {}

    def on_ready(ready):
        saboteur["t"] = Saboteur(ready["pids"][0])
        saboteur["t"].start()

    r = h.run(smolder, [cache_burn, "1", str(SECONDS)], sample_rate=RATE,
              upload_interval=INTERVAL, on_ready=on_ready)
    s = saboteur["t"]
    h.check_output(r, RATE, "worker killed")
    problems = []
    if s.error or not s.killed or not s.stopped:
        problems.append("the test could not kill and stop the worker: %s" % s.error)
    for key, want in CONFINED.items():
        if s.status.get(key, "?").strip() != want:
            problems.append("the worker's %s is %s, not %s" % (key, s.status.get(key), want))
    problems += h.tiling_problems(r)
    problems += timing_problems(r)
    if r.total("worker_starts") < 2:
        problems.append("worker_starts is %d: no worker after the kill" % r.total("worker_starts"))
    first = r.counters[0]["interval"]
    for p in r.profiles:
        if p.interval == first:
            continue
        named, total = h.naming(p.samples, "cache_hot"), h.count(p.samples)
        if total and named < 0.9 * total:
            problems.append("%s: cache_hot named in %d of %d samples" % (p.path, named, total))
    if s.stopped and os.path.exists("/proc/%d" % s.stopped) and \
            status_of(s.stopped).get("State", "").startswith("T"):
        problems.append("the stopped worker %d outlived the agent" % s.stopped)
    h.log("worker_starts=%d worker_deaths=%d worker_timeouts=%d symbol_late=%d"
          % tuple(r.total(k) for k in ("worker_starts", "worker_deaths", "worker_timeouts",
                                       "symbol_late")))
    if problems:
        h.fail("\n  ".join(problems))


if __name__ == "__main__":
    h.run_test(test, __import__("sys").argv[1:])
