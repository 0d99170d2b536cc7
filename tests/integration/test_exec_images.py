"""Integration: samples a process took before its exec are named after the
image they were taken in, even when it is gone by the drain (issue 14,
item 3).

    test_exec_images.py SMOLDER

A shell runs /bin/true in a loop for LOOP_S seconds under the whole-system
agent: each child is a copy of bash that execs /bin/true at once and exits.
Its samples from before the exec share its pid and start time with those
after; the agent tells them apart by the exec count BPF puts in each
sample's key, and keeps the old image's record for them. Before that, all
of a child's samples were lost as lost_unknown_process once it had exited
(24% of the whole system's samples in this loop). Checked:
  - lost_unknown_process is at most MAX_LOST of samples_taken over the run;
  - the service bash has samples, and every user frame of them that lies in
    a file lies in bash's or libc's (no frame of /usr/bin/true, whose
    mappings a child has after its exec: a wrong image would put them
    there);
  - the output keeps the contract (taken = profiled + dropped + lost).
"""

import os
import subprocess
import sys
import time

import smolder_harness as h
import system_run as sr

LOOP_S = 6
MAX_LOST = 0.02
SHELL_LOOP = 'end=$((SECONDS+%d)); while [ $SECONDS -lt $end ]; do /bin/true; done' % LOOP_S


def test(smolder):
    with sr.SystemAgent(smolder, upload_interval="4s") as agent:
        agent.start()
        agent.next_interval()
        subprocess.run(["bash", "-c", SHELL_LOOP], stdin=subprocess.DEVNULL, check=True,
                       timeout=LOOP_S + 60)
        agent.wait_written(time.time() + 1)
        r = agent.stop()

    sr.check_output(r)
    taken, lost = r.total("samples_taken"), r.total("lost_unknown_process")
    bash = r.samples("bash")
    files = {}
    for s in bash:
        for f in s.user_frames:
            if f.mapping is not None and f.mapping.file:
                files[f.mapping.file] = files.get(f.mapping.file, 0) + s.count
    h.log("samples_taken=%d lost_unknown_process=%d; bash: %d samples, user frames by file: %s"
          % (taken, lost, h.count(bash), files))
    if lost > MAX_LOST * taken:
        h.fail("%d of %d samples lost as of unknown processes (> %.0f%%): the children's "
               "samples from before their exec were not kept" % (lost, taken, 100 * MAX_LOST))
    if h.count(bash) == 0:
        h.fail("no samples of bash: the loop's children were not profiled as bash")
    wrong = {f: n for f, n in files.items()
             if os.path.basename(os.path.realpath(f)) == "true"}
    if wrong:
        h.fail("samples of bash have frames in /bin/true's file, the image after the exec: "
               "%s" % wrong)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: %s SMOLDER" % sys.argv[0])
    h.run_test(test, sys.argv[1:])
