"""Integration: which executable the agent runs as its parser worker.

    test_parser_exe.py SMOLDER CPU_SHARES

Three whole-system runs of 2 s intervals while a copy of cpu_shares (its
own service) burns CPU, the agent's worker found among its children by its
argv[1] (__smolder_parser_worker) once a profile of the workload is written:
  - the build's agent runs smolder-parser from beside itself, a process
    that maps no libcurl (it links only what parsing needs);
  - a copy of the agent alone in a directory runs itself as the worker;
  - a copy beside a smolder-parser that others may write does not run it
    (the agent is root: it runs nothing less guarded than itself);
and in every run the workload's hot functions are named (by the worker).
"""

import os
import shutil
import subprocess
import tempfile

import smolder_harness as h
import system_run as sr

SERVICE = "smolder_it_parser"
HOT = ("hot_alpha", "hot_beta", "hot_gamma")
WORKER_ARG = "__smolder_parser_worker"


def worker_of(agent_pid):
    """The agent's parser worker: (pid, its executable's path, its maps)."""
    kids = []
    for t in os.listdir("/proc/%d/task" % agent_pid):
        with open("/proc/%d/task/%s/children" % (agent_pid, t)) as f:
            kids += [int(k) for k in f.read().split()]
    for k in kids:
        try:
            with open("/proc/%d/cmdline" % k, "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) > 1 and argv[1] == WORKER_ARG.encode():
                with open("/proc/%d/maps" % k) as f:
                    maps = f.read()
                return k, os.readlink("/proc/%d/exe" % k), maps
        except OSError:
            continue
    h.fail("no child of the agent (pid %d) has argv[1] %s: children %s"
           % (agent_pid, WORKER_ARG, kids))


def profile(smolder, workload):
    """Runs the agent while workload burns; returns (worker exe, maps, hot
    samples of the workload, its samples)."""
    burner = subprocess.Popen([workload, "30"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        with sr.SystemAgent(smolder, upload_interval="2s") as agent:
            agent.start()
            agent.wait_profile_of(SERVICE)
            _, exe, maps = worker_of(agent.proc.pid)
            r = agent.stop()
    finally:
        burner.kill()
        burner.wait()
    sr.check_output(r)
    samples = r.samples(SERVICE)
    hot = sum(s.count for s in samples if any(n in HOT for n in s.names))
    h.log("%s: worker %s, %d of %d samples of %s in hot functions"
          % (smolder, exe, hot, h.count(samples), SERVICE))
    if h.count(samples) == 0 or hot < 0.5 * h.count(samples):
        h.fail("%s: %d of %d samples of %s name a hot function"
               % (smolder, hot, h.count(samples), SERVICE))
    return exe, maps


def test(smolder, cpu_shares):
    tmp = tempfile.mkdtemp(prefix="smolder-it-parser-")
    try:
        os.chmod(tmp, 0o755)
        workload = os.path.join(tmp, SERVICE)
        shutil.copy(cpu_shares, workload)
        parser = os.path.join(os.path.dirname(os.path.realpath(smolder)), "smolder-parser")

        exe, maps = profile(smolder, workload)
        if exe != parser:
            h.fail("the build's agent ran %s as its worker, not %s" % (exe, parser))
        if "libcurl" in maps:
            h.fail("smolder-parser maps libcurl: it links what only the agent needs")

        alone = os.path.join(tmp, "alone")
        os.mkdir(alone, 0o755)
        shutil.copy(smolder, os.path.join(alone, "smolder"))
        exe, _ = profile(os.path.join(alone, "smolder"), workload)
        if exe != os.path.join(alone, "smolder"):
            h.fail("an agent without smolder-parser beside it ran %s as its worker" % exe)

        open_dir = os.path.join(tmp, "writable")
        os.mkdir(open_dir, 0o755)
        shutil.copy(smolder, os.path.join(open_dir, "smolder"))
        shutil.copy(parser, os.path.join(open_dir, "smolder-parser"))
        os.chmod(os.path.join(open_dir, "smolder-parser"), 0o777)
        exe, _ = profile(os.path.join(open_dir, "smolder"), workload)
        if exe != os.path.join(open_dir, "smolder"):
            h.fail("the agent ran %s, which others may write, as its worker" % exe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sr.main(test)
