"""Integration: frames in the kernel's vDSO are mapped, named as perf names
them, and walked through, whether the agent read the process from /proc or
knew it from the kernel alone.

    test_vdso.py SMOLDER VDSO_LOOP

VDSO_LOOP reads CLOCK_MONOTONIC in a loop (libc's clock_gettime calls the
vDSO's __vdso_clock_gettime, no system call). One copy starts before the
agent (the agent reads its /proc/PID/maps, which list [vdso]); another
starts while the agent samples (known from the kernel's exec and mmap
records, none of which announces the vDSO: the exec's event says where it
is). For each copy, under its own service:
  - every user frame lies in a mapping (no bare address);
  - a frame in the [vdso] mapping is named __vdso_* or not at all (code no
    symbol covers, as perf leaves it), never another name;
  - >= 80% of samples pass through __vdso_clock_gettime, and >= 95% reach
    main.
"""

import os
import shutil
import subprocess
import tempfile
import time

import smolder_harness as h
import system_run as sr

INTERVAL = "4s"
OLD, NEW = "smolder_it_vdso_old", "smolder_it_vdso_new"
OLD_S, NEW_S = 9.0, 3.0


def check(r, service):
    samples = r.samples(service)
    total = h.count(samples)
    unmapped = [s for s in samples if any(f.mapping is None for f in s.user_frames)]
    wrong = sorted({f.name for s in samples for f in s.user_frames
                    if f.mapping is not None and f.mapping.file == "[vdso]"
                    and f.name is not None and not f.name.startswith("__vdso_")})
    via = sum(s.count for s in samples if "__vdso_clock_gettime" in s.names)
    to_main = sum(s.count for s in samples if "main" in s.names)
    h.log("%s: %d samples, %d through __vdso_clock_gettime, %d reach main, %d with a frame "
          "in no mapping" % (service, total, via, to_main, h.count(unmapped)))
    if total < 50:
        h.fail("%s: only %d samples (services: %s)" % (service, total, h.services(r)))
    if unmapped:
        h.fail("%s: %d samples have user frames in no mapping: %s"
               % (service, h.count(unmapped), h.top_stacks(unmapped)))
    if wrong:
        h.fail("%s: frames in [vdso] named %s" % (service, wrong))
    if via < 0.8 * total:
        h.fail("%s: only %d of %d samples pass through __vdso_clock_gettime; top stacks: %s"
               % (service, via, total, h.top_stacks(samples)))
    if to_main < 0.95 * total:
        h.fail("%s: only %d of %d samples reach main" % (service, to_main, total))


def test(smolder, workload):
    tmp = tempfile.mkdtemp(prefix="smolder-it-vdso-")
    old = None
    try:
        for name in (OLD, NEW):
            shutil.copy(workload, os.path.join(tmp, name))
        old = subprocess.Popen([os.path.join(tmp, OLD), str(OLD_S)], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        with sr.SystemAgent(smolder, upload_interval=INTERVAL) as agent:
            agent.start()
            subprocess.run([os.path.join(tmp, NEW), str(NEW_S)], stdout=subprocess.DEVNULL,
                           check=True, timeout=60)
            if old.wait(60) != 0:
                h.fail("the workload started first exited with status %d" % old.returncode)
            r = agent.stop()
        sr.check_output(r)
        check(r, OLD)
        check(r, NEW)
        if r.total("processes_from_kernel") < 1:
            h.fail("no process was known from the kernel alone: the second copy's path is untested")
    finally:
        if old is not None and old.poll() is None:
            old.kill()
            old.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sr.main(test)
