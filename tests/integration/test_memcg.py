"""Integration: memcg.MemCgroup, which the attack tests run the agent in,
really limits, measures and counts.

    test_memcg.py

A Python child in a 64 MiB cgroup
  - allocating 16 MiB (touched) exits 0, and the cgroup's peak is at least
    16 MiB and at most the limit, with no OOM kill counted;
  - allocating 256 MiB in 1 MiB steps is killed by SIGKILL, and the cgroup
    counts one OOM kill and hits of its limit.
Afterwards the cgroup directories are gone.
"""

import os
import signal
import subprocess
import sys

import smolder_harness as h
from memcg import MemCgroup

LIMIT = 64 << 20
ALLOCATE = ("import sys\nchunks = []\nfor _ in range(int(sys.argv[1])):\n"
            "    chunks.append(bytearray(1 << 20))\n")


def allocate(cg, mib):
    proc = subprocess.Popen([sys.executable, "-c", ALLOCATE, str(mib)], preexec_fn=cg.enter)
    return proc.wait(60)


def test():
    with MemCgroup(LIMIT) as cg:
        path = cg.path
        h.log("cgroup v%d at %s" % (cg.version, path))
        rc = allocate(cg, 16)
        h.log("16 MiB: exit %d, peak %d, oom_kills %d" % (rc, cg.peak_bytes(), cg.oom_kills()))
        if rc != 0:
            h.fail("a child allocating 16 MiB under a 64 MiB limit exited %d" % rc)
        if not 16 << 20 <= cg.peak_bytes() <= LIMIT:
            h.fail("peak %d bytes after allocating 16 MiB under a %d limit"
                   % (cg.peak_bytes(), LIMIT))
        if cg.oom_kills():
            h.fail("%d OOM kills counted with nothing over the limit" % cg.oom_kills())

        rc = allocate(cg, 256)
        h.log("256 MiB: exit %d, peak %d, oom_kills %d, limit hits %d"
              % (rc, cg.peak_bytes(), cg.oom_kills(), cg.limit_hits()))
        if rc != -signal.SIGKILL:
            h.fail("a child allocating 256 MiB under a 64 MiB limit exited %d, not by SIGKILL" % rc)
        if cg.oom_kills() != 1:
            h.fail("%d OOM kills counted, want 1" % cg.oom_kills())
        if cg.peak_bytes() > LIMIT:
            h.fail("peak %d bytes over the %d limit" % (cg.peak_bytes(), LIMIT))
        sleeper = subprocess.Popen(["sleep", "60"], preexec_fn=cg.enter)
    if os.path.exists(path):
        h.fail("%s is left after the with block" % path)
    if sleeper.wait(10) != -signal.SIGKILL:
        h.fail("a process left in the cgroup was not killed on leaving it")


if __name__ == "__main__":
    h.run_test(test, [])
