"""Integration: a parallel build under the whole-system agent, next to
`perf record -a -g` in the same run (issue 14).

    test_parallel_build.py SMOLDER SOURCE_ROOT

This project compiles itself in a fresh build directory (`meson setup`,
then `ninja -j2` for BUILD_S seconds): hundreds of short gcc, cc1, as, ld,
clang and go processes, most of them gone within a second, cc1 a 33 MB
binary without frame pointers whose table nobody loaded before. The agent
profiles the whole system; perf records the same seconds. Checked:
  - >= 99% of the samples the agent took are profiled (the rest lost and
    counted), and every interval keeps the contract;
  - the share of each of the executables with >= 2% of perf's busy samples
    is within 3 pp of perf's (`perf report --sort comm`; the agent's by
    service, decoded with `go tool pprof -raw`), comm and executable names
    mapped where they differ (the agent's own samples, which it leaves out
    without --profile-self, are left out of perf's too);
  - >= 90% of cc1's samples are whole stacks: through `main`, or down to
    cc1's entry point (`_start`, named or not: on a host this busy the
    parser worker does not name all of an interval's addresses by its
    deadline, see BENCHMARKS.md).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import elf_tools as et
import smolder_harness as h

BUILD_S = 30
RATE = 97
# perf's comm -> the agent's service (its executable's name)
ALIAS = {"exe": "smolder", "as": "x86_64-linux-gnu-as", "ld": "x86_64-linux-gnu-ld.bfd",
         "meson": "python3.11", "cc": "x86_64-linux-gnu-gcc-12", "gcc": "x86_64-linux-gnu-gcc-12"}


def perf_shares(data):
    out = subprocess.run(["perf", "report", "-i", data, "--sort", "comm", "--stdio",
                          "--no-children"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    shares, left_out = {}, 0.0
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S.*?)\s*$", line)
        if not m:
            continue
        name = ALIAS.get(m.group(2), m.group(2))
        # The agent leaves itself and its parser worker out (without
        # --profile-self): their samples are not in its shares, so not in
        # perf's either.
        if name in ("swapper", "smolder", "smolder-parser"):
            left_out += float(m.group(1))
        else:
            shares[name] = shares.get(name, 0.0) + float(m.group(1))
    if left_out >= 100.0:
        h.fail("perf recorded only the idle task and the agent")
    return {k: 100.0 * v / (100.0 - left_out) for k, v in shares.items()}


def test(smolder, source_root):
    cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="smolder-it-build-")
    out = os.path.join(tmp, "out")
    agent_log = os.path.join(tmp, "agent.log")
    ok = False
    try:
        subprocess.run(["meson", "setup", os.path.join(tmp, "b"), source_root],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       timeout=300)
        with open(agent_log, "w") as log:
            agent = subprocess.Popen([smolder, "--duration", "%ds" % (BUILD_S + 60),
                                      "--upload-interval", "10s", "--sample-rate", str(RATE),
                                      "--output-dir", out, "--http-listen", "off"],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while "sampling started" not in h.read_text(agent_log):
            if agent.poll() is not None or time.time() > deadline:
                h.fail("the agent did not start sampling:\n" + h.read_text(agent_log)[-3000:])
            time.sleep(0.1)
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", str(RATE), "-o",
                                 os.path.join(tmp, "perf.data"), "--", "sleep", str(BUILD_S)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The build in a session of its own, killed whole when perf stops:
        # the compilers ninja started must not run on where perf does not
        # see them.
        build = subprocess.Popen(["ninja", "-C", os.path.join(tmp, "b"), "-j2"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        perf.wait(timeout=BUILD_S + 60)
        try:
            os.killpg(build.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        build.wait()
        agent.send_signal(signal.SIGINT)
        if agent.wait(timeout=120) != 0:
            h.fail("the agent exited %d:\n%s" % (agent.returncode, h.read_text(agent_log)[-3000:]))

        r = h.Run()
        r.outdir = out
        r.agent_log = h.read_text(agent_log).splitlines()
        r.agent_rc = agent.returncode
        r.collect()
        problems = r.contract_problems(RATE)
        if problems:
            h.fail("output contract: " + "; ".join(problems))
        taken, profiled = r.total("samples_taken"), r.total("samples_profiled")
        h.log("agent: %d samples taken, %d profiled (%.1f%%), lost_unknown_process %d"
              % (taken, profiled, 100.0 * profiled / max(taken, 1),
                 r.total("lost_unknown_process")))
        if profiled < 0.99 * taken:
            h.fail("%d of %d samples profiled, under 99%%" % (profiled, taken))

        agent_shares, total = {}, h.count(r.samples())
        for p in r.profiles:
            agent_shares[p.service] = agent_shares.get(p.service, 0) + p.total_count
        agent_shares = {k: 100.0 * v / max(total, 1) for k, v in agent_shares.items()}
        perf_by = perf_shares(os.path.join(tmp, "perf.data"))
        worst = []
        for name, share in sorted(perf_by.items(), key=lambda kv: -kv[1]):
            if share < 2.0:
                continue
            mine = agent_shares.get(name)
            if mine is None and len(name) == 15:
                # perf's comm is cut at 15 characters; the service is the
                # executable's whole name
                mine = sum(v for k, v in agent_shares.items() if k.startswith(name))
            mine = mine or 0.0
            h.log("%-28s agent %5.1f%%  perf %5.1f%%  %+.1f pp" % (name, mine, share,
                                                                   mine - share))
            if abs(mine - share) > 3.0:
                worst.append("%s: %.1f%% against perf's %.1f%%" % (name, mine, share))
        if worst:
            h.fail("executables more than 3 pp from perf: " + "; ".join(worst))

        samples = r.samples("cc1")
        roots = et.Roots(cc1)
        n = h.count(samples)
        good = h.count([s for s in samples if roots.whole(s)])
        h.log("cc1: %d samples, %d whole (%.1f%%); stack copies: %d sent, %d used, %d dropped, %d late"
              % (n, good, 100.0 * good / max(n, 1), r.total("stack_copies_sent"),
                 r.total("stack_copies_used"), r.total("stack_copies_dropped"),
                 r.total("stack_copies_late")))
        if n < 200:
            h.fail("only %d samples of cc1: the build did not compile" % n)
        if good < 0.90 * n:
            h.fail("%d of %d of cc1's samples are whole, under 90%%; the outermost frames of "
                   "some that are not:\n%s" % (good, n, "\n".join(
                       ";".join(h._frame_text(f) for f in s.frames[-4:])
                       for s in samples if not roots.whole(s))[:3000]))
        ok = True
    finally:
        if ok and not os.environ.get("SMOLDER_IT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("output kept in %s" % tmp, file=sys.stderr)


if __name__ == "__main__":
    h.main(test)
