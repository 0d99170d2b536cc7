"""Integration (issue 12, item 3): one memory budget. The agent and its
parser worker stay within --memory-limit together on a busy host, and say
so in /metrics.

    test_memory_limit.py SMOLDER CPU_SHARES SYSCALL_LOOP MANY_STACKS

Five workloads keep both CPUs busy (cpu_shares, syscall_loop, many_stacks,
a pyenv CPython loop and `openssl speed`), and the agent profiles the whole
host (no --pid: every process it samples has its files named) in 1 s
intervals with --memory-limit 128M, inside a 512 MiB memory cgroup (the
DaemonSet's limit). Every 0.2 s the test reads the anonymous resident
memory (RssAnon) of the agent and of its parser worker from their
/proc/PID/status. Checked:
  - /metrics has the gauges smolder_memory_resident_bytes,
    smolder_worker_resident_bytes, smolder_bpf_map_bytes (> 0) and
    smolder_memory_limit_bytes (128M), and the counter
    smolder_memory_over_limit_total;
  - every interval's counters (the log) say the agent's and the worker's
    memory together were within the limit, and the test's own readings
    agree: agent + worker RssAnon never above the limit;
  - the worker's RssAnon never above its cap, half the limit (the symbol
    cache's quarter and a quarter to parse in);
  - the cgroup counted no OOM kill, and the agent exited 0 on SIGINT.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import smolder_harness as h
from memcg import MemCgroup

LIMIT = 128 << 20
WORKER_CAP = LIMIT // 2
CGROUP_LIMIT = 512 << 20
SECONDS = 14
WORKER_ARG = "__smolder_parser_worker"
GAUGES = ("smolder_memory_resident_bytes", "smolder_worker_resident_bytes",
          "smolder_bpf_map_bytes", "smolder_memory_limit_bytes")
PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3"


def rss_anon(pid):
    """RssAnon of pid in bytes; 0 when it is gone."""
    m = re.search(r"^RssAnon:\s+(\d+) kB", h.read_text("/proc/%d/status" % pid), re.M)
    return int(m.group(1)) * 1024 if m else 0


def workers_of(agent_pid):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = h.read_text("/proc/%s/cmdline" % d).split("\0")
        ppid = re.search(r"^PPid:\s+(\d+)", h.read_text("/proc/%s/status" % d), re.M)
        if len(argv) > 1 and argv[1] == WORKER_ARG and ppid and int(ppid.group(1)) == agent_pid:
            found.append(int(d))
    return found


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(smolder_\w+) (\S+)$", text, re.M)}


class Watcher(threading.Thread):
    """The agent's and its workers' RssAnon, every 0.2 s until stopped."""

    def __init__(self, agent_pid):
        super().__init__(daemon=True)
        self.agent_pid = agent_pid
        self.stop = threading.Event()
        self.peak_total = self.peak_worker = self.readings = 0
        self.workers = set()

    def run(self):
        while not self.stop.wait(0.2):
            workers = workers_of(self.agent_pid)
            self.workers.update(workers)
            worker = sum(rss_anon(w) for w in workers)
            self.peak_worker = max(self.peak_worker, worker)
            self.peak_total = max(self.peak_total, rss_anon(self.agent_pid) + worker)
            self.readings += 1


def wait_started(agent, lines, timeout=60):
    end = time.monotonic() + timeout
    while not any("sampling started" in l for l in lines):
        if agent.poll() is not None or time.monotonic() > end:
            h.fail("the agent did not start sampling; its log:\n%s" % "".join(lines))
        time.sleep(0.1)


def start_load(paths, tmp):
    procs = [subprocess.Popen([paths[0], str(SECONDS + 20)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([paths[1], str(SECONDS + 20)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([paths[2], str(SECONDS + 20), "1", "1", "1"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL),
             subprocess.Popen(["openssl", "speed", "-seconds", str(SECONDS + 10), "sha256"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)]
    if os.path.exists(PYTHON):
        procs.append(subprocess.Popen(
            [PYTHON, "-c", "import time\nt = time.time()\n"
             "while time.time() - t < %d: sorted(str(i) for i in range(2000))" % (SECONDS + 20)]))
    return procs


def test(smolder, cpu_shares, syscall_loop, many_stacks):
    tmp = tempfile.mkdtemp(prefix="smolder-memlimit-")
    port = h.free_port()
    load = start_load([cpu_shares, syscall_loop, many_stacks], tmp)
    cmd = [smolder, "--memory-limit", "128M", "--upload-interval", "1s",
           "--duration", "%ds" % (SECONDS + 30), "--output-dir", os.path.join(tmp, "out"),
           "--http-listen", "127.0.0.1:%d" % port]
    agent = None
    lines = []
    try:
        with MemCgroup(CGROUP_LIMIT) as cg:
            h.log("agent: " + " ".join(cmd))
            agent = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=cg.enter)
            pump = threading.Thread(target=lambda: lines.extend(agent.stdout), daemon=True)
            pump.start()
            watcher = Watcher(agent.pid)
            watcher.start()
            wait_started(agent, lines)
            time.sleep(SECONDS)
            metrics = scrape(port)
            agent.send_signal(signal.SIGINT)
            rc = agent.wait(30)
            watcher.stop.set()
            watcher.join(5)
            pump.join(5)
            oom = cg.oom_kills()
            peak = cg.peak_bytes()
        log_text = "".join(lines)
        if rc != 0:
            h.fail("the agent exited %d after SIGINT; its log:\n%s" % (rc, log_text))
        h.log("metrics: " + ", ".join("%s=%d" % (g, metrics.get(g, -1)) for g in GAUGES))
        h.log("test's readings: %d, peak agent+worker RssAnon %.1f MiB, worker %.1f MiB "
              "(workers seen: %d); cgroup peak %.1f MiB"
              % (watcher.readings, watcher.peak_total / 2**20, watcher.peak_worker / 2**20,
                 len(watcher.workers), peak / 2**20))
        for g in GAUGES + ("smolder_memory_over_limit_total",):
            if g not in metrics:
                h.fail("/metrics has no %s" % g)
        if metrics["smolder_memory_limit_bytes"] != LIMIT:
            h.fail("smolder_memory_limit_bytes is %d, not --memory-limit 128M"
                   % metrics["smolder_memory_limit_bytes"])
        if metrics["smolder_bpf_map_bytes"] <= 0 or metrics["smolder_memory_resident_bytes"] <= 0:
            h.fail("smolder_bpf_map_bytes or smolder_memory_resident_bytes is 0")
        intervals = [h.parse_counters(l) for l in log_text.splitlines() if " counters " in l]
        if len(intervals) < SECONDS // 2:
            h.fail("only %d intervals logged in %d s; log:\n%s"
                   % (len(intervals), SECONDS, log_text))
        for i, c in enumerate(intervals):
            total = c["memory_resident_bytes"] + c["worker_resident_bytes"]
            if total > LIMIT or c["memory_over_limit"]:
                h.fail("interval %d: the agent (%d) and its worker (%d) over the limit (%d)"
                       % (i, c["memory_resident_bytes"], c["worker_resident_bytes"], LIMIT))
        if not watcher.workers or watcher.readings < SECONDS:
            h.fail("the test saw no parser worker (%d readings)" % watcher.readings)
        if watcher.peak_total > LIMIT:
            h.fail("the agent and its worker held %.1f MiB together, over --memory-limit 128M"
                   % (watcher.peak_total / 2**20))
        if watcher.peak_worker > WORKER_CAP:
            h.fail("the worker held %.1f MiB, over its cap (%d MiB)"
                   % (watcher.peak_worker / 2**20, WORKER_CAP >> 20))
        if oom:
            h.fail("the memory cgroup counted %d OOM kill(s)" % oom)
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        for p in load:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    h.run_test(test, sys.argv[1:5])
