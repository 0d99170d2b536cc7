"""Integration: a target rule keeps the process id as a label
(__meta_process_pid), and two processes of one executable get a profile
each.

    test_pid_label.py SMOLDER SMOLDER_IT_PLT

smolder_it_plt runs its loop for 8 s in itself and one forked child (one
executable, one service, two pids); the agent profiles both by --pid with
a --config file whose one rule copies __meta_process_pid into the label
pid. Read with `go tool pprof -raw` (its label lines), checked:
  - each interval's files of the service smolder_it_plt carry one pid
    each, on every sample, and the pids over all files are exactly the
    workload's two;
  - each pid has >= 25% of the service's samples (both burn alike);
  - the samples of all files add up to samples_profiled, and nothing is
    dropped or lost.
Without the rule the two would share one profile: that the label comes
from the rule, not from anything else, is what a missing or misnamed
__meta_process_pid would show here (no pid label at all).
"""

import collections
import os
import re
import shutil
import subprocess
import tempfile

import smolder_harness as h

RATE = 97
SECONDS = 8
INTERVAL = "4s"
RULES = """relabel_configs:
  # One profile per process.
  - source_labels: [__meta_process_pid]
    target_label: pid
"""
FILE_RE = re.compile(r"^(\d+)-(\d+)(-[0-9a-f]{8})?\.pb\.gz$")


def labelled_samples(path):
    """[(count, {label: value})] of a profile, from `go tool pprof -raw`."""
    p = subprocess.run([h.go_binary(), "tool", "pprof", "-raw", "-symbolize=none", path],
                       capture_output=True, text=True, check=True)
    period = int(re.search(r"^Period: (\d+)$", p.stdout, re.M).group(1))
    out, in_samples = [], False
    for line in p.stdout.splitlines():
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if line.startswith("Locations"):
            break
        m = re.match(r"^\s+(\d+): ", line)
        if in_samples and m:
            out.append([int(m.group(1)) // period, {}])
        elif in_samples and out and ":[" in line:
            out[-1][1].update(re.findall(r"(\S+?):\[([^\]]*)\]", line))
    return out


def test(smolder, workload):
    service = os.path.basename(workload)
    tmp = tempfile.mkdtemp(prefix="smolder-pid-")
    try:
        rules = os.path.join(tmp, "rules.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        r = h.run(smolder, [workload, str(SECONDS), "1"], sample_rate=RATE,
                  upload_interval=INTERVAL, agent_args=["--config", rules], keep_output=True)
        check(r, service)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(r.outdir, ignore_errors=True)


def check(r, service):
    want = set(str(p) for p in r.ready["pids"])
    r.print_counters()
    by_pid = collections.Counter()
    files = 0
    d = os.path.join(r.outdir, service)
    for name in sorted(os.listdir(d)):
        if not FILE_RE.match(name):
            h.fail("%s: a file not named <start>-<end>[-<hash>].pb.gz" % name)
        pids = collections.Counter()
        for count, labels in labelled_samples(os.path.join(d, name)):
            pids[labels.get("pid")] += count
            if labels.get("service_name") != service:
                h.fail("%s: a sample labelled %s, not service_name %s" % (name, labels, service))
        h.log("%s: samples by pid label %s" % (name, dict(pids)))
        if len(pids) != 1 or None in pids:
            h.fail("%s: samples of pid labels %s, want one pid label on every sample"
                   % (name, dict(pids)))
        by_pid.update(pids)
        files += 1
    total = sum(by_pid.values())
    h.log("%d files; samples by pid %s; the workload's pids %s" % (files, dict(by_pid),
                                                                  sorted(want)))
    if set(by_pid) != want:
        h.fail("pid labels %s, want the workload's pids %s" % (sorted(by_pid), sorted(want)))
    for pid, n in by_pid.items():
        if n < total / 4:
            h.fail("pid %s has %d of %d samples, want >= 25%%" % (pid, n, total))
    profiled = r.total("samples_profiled")
    lost = sum(h.losses(c) for c in r.counters) + r.total("samples_dropped")
    if total != profiled or lost:
        h.fail("the files hold %d samples, samples_profiled %d, dropped or lost %d"
               % (total, profiled, lost))


if __name__ == "__main__":
    h.main(test)
