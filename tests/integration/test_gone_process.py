"""Integration: a process gone before the agent read its /proc files keeps
its samples, its service and its container (issue 14, item 3).

    test_gone_process.py SMOLDER SMOLDER_IT_SHORTLIB

The agent profiles the whole system (no --pid) with a rule that copies
__meta_process_container_id into the label container_id. Once it samples,
it is stopped (SIGSTOP): BPF goes on counting and queueing its events, but
nobody reads /proc. Meanwhile RUNS processes of smolder_it_shortlib, each in
a cgroup named as containerd names a container's
(cri-containerd-<64 hex>.scope, under the v2 hierarchy), burn BURN_MS of CPU
and exit. Then the agent goes on (SIGCONT): every one of them is gone before
it could be read. Checked, decoded with `go tool pprof -raw`:
  - the service smolder_it_shortlib has >= 50% of the samples its measured
    CPU time predicts at 97 Hz (before this, all were lost_unknown_process);
  - every one of those samples carries container_id = the cgroup's id (read
    in BPF from the cgroup's kernfs nodes);
  - >= 90% of them name shorthot_spin (in the library) and reach main: the
    frames are named from the files the kernel's mmap records announced
    (perf's MMAP2 with build-ids), each checked by its build-id;
  - the agent counted them: processes_from_kernel >= 1, and
    lost_unknown_process is under 10% of the service's samples;
  - the output keeps the contract (taken = profiled + dropped + lost).
"""

import json
import os
import secrets
import signal
import subprocess
import tempfile
import time

import kube_fixture as kf
import smolder_harness as h
import system_run as sr

RUNS = 6
BURN_MS = 300
RULES = """relabel_configs:
  - source_labels: [__meta_process_container_id]
    target_label: container_id
"""


def test(smolder, prog, agent_args=(), named_expected=True, on_start=None):
    """named_expected: whether the frames must be named (the kernel gives build-ids in
    its mmap records); agent_args and on_start serve
    test_kernel_fallbacks.py, which forces the fallback."""
    service = os.path.basename(prog)
    cid = secrets.token_hex(32)
    cg = os.path.join(kf.CG_ROOT, "smolder-it-gone-%d" % os.getpid(),
                      "cri-containerd-%s.scope" % cid)
    rules = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    rules.write(RULES)
    rules.close()
    os.makedirs(cg)
    try:
        with sr.SystemAgent(smolder, upload_interval="4s",
                            extra_args=["--config", rules.name] + list(agent_args)) as agent:
            agent.start()
            if on_start is not None:
                on_start(agent)
            agent.next_interval()
            os.kill(agent.proc.pid, signal.SIGSTOP)
            try:
                cpu_ns = 0
                for i in range(RUNS):
                    # the shell joins the cgroup, then becomes the program
                    p = subprocess.run(["sh", "-c", 'echo $$ > "$1"/cgroup.procs && exec "$2" "$3"',
                                        "sh", cg, prog, str(BURN_MS)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       text=True, timeout=60)
                    if p.returncode != 0:
                        h.fail("run %d of %s exited with status %d" % (i, service, p.returncode))
                    cpu_ns += json.loads(p.stdout.strip().splitlines()[-1])["process_cpu_ns"]
            finally:
                os.kill(agent.proc.pid, signal.SIGCONT)
            h.log("%d runs of %s, gone before the agent went on: %.3f CPU s"
                  % (RUNS, service, cpu_ns / 1e9))
            agent.wait_written(time.time() + 1)
            r = agent.stop()
            d = os.path.join(r.outdir, service)  # removed when the agent's block ends
            samples = [x for f in (sorted(os.listdir(d)) if os.path.isdir(d) else [])
                       for x in kf.labelled_samples(os.path.join(d, f))]
    finally:
        os.unlink(rules.name)
        for d in (cg, os.path.dirname(cg)):
            try:
                os.rmdir(d)
            except OSError:
                pass

    sr.check_output(r)
    total = h.count(r.samples(service))
    predicted = h.expected_samples(cpu_ns, sr.RATE)
    # labelled_samples gives each sample's value (CPU nanoseconds): shares by value
    value = sum(v for v, _ in samples)
    labelled = round(total * sum(v for v, labels in samples
                                 if labels.get("container_id") == cid) / max(value, 1))
    gone, lost = r.total("processes_from_kernel"), r.total("lost_unknown_process")
    h.log("%s: %d samples (predicted %.0f), %d with container_id %s...; "
          "processes_from_kernel=%d lost_unknown_process=%d"
          % (service, total, predicted, labelled, cid[:12], gone, lost))
    if total < 0.5 * predicted:
        h.fail("%s has %d samples, under half of the %.0f its CPU time predicts: samples of "
               "processes gone before /proc was read were lost" % (service, total, predicted))
    if labelled != total:
        h.fail("%d of %d samples carry container_id %s; labels seen: %s"
               % (labelled, total, cid, sorted({l.get("container_id") for _, l in samples},
                                              key=str)))
    named = sum(s.count for s in r.samples(service)
                if any(f.name == "shorthot_spin" for f in s.frames)
                and any(f.name == "main" for f in s.frames))
    h.log("%s: %d of %d samples name shorthot_spin and main" % (service, named, total))
    if not named_expected:
        if named:
            h.fail("%d samples are named although the mmap records were off" % named)
    elif named < 0.9 * total:
        h.fail("only %d of %d samples of the gone processes name shorthot_spin and main: "
               "their mappings from the kernel's mmap records were not used; heaviest: %s"
               % (named, total, h.top_stacks(r.samples(service))))
    if gone < 1:
        h.fail("processes_from_kernel is 0: the processes were read from /proc after all "
               "(the agent was not stopped long enough?)")
    if lost > 0.1 * total:
        h.fail("lost_unknown_process=%d, over 10%% of the service's %d samples" % (lost, total))


if __name__ == "__main__":
    sr.main(test)
