"""Integration: Python frames of every CPython on the machine, named with
file and line, inside their native stacks (issue 15).

    test_python.py SMOLDER PYTHON_WORKLOAD

The whole system is profiled twice, each time with several interpreters
running python_workload.py (a workload of known shape that measures its own
CPU per function) at once:
  1. pyenv's CPython 3.8 to 3.13 as installed (each links its own
     libpython3.X.so, with DWARF), with the exec/compile churn phase on;
  2. the same interpreters with a copy of their libpython stripped of DWARF
     and .symtab (LD_LIBRARY_PATH; DWARF must not be what makes it work),
     3.12 and 3.13 with -X perf (their frames run through trampolines in
     anonymous memory with neither CFI nor frame pointer: walked through,
     no stack ends in an unwind error),
     Debian's static, stripped /usr/bin/python3.11 (its debug file from
     python3.11-dbg installed), a copy of it no debug file matches, a copy
     run in a container (a root of its own, new pid and mount namespaces:
     its file exists only inside), and a copy whose Py_Version says 3.14:
     a version the agent cannot read.
For each interpreter that can be read, in its profile (its own service,
python3.X), decoded by `go tool pprof -raw`:
  - each phase function's share of the process's samples is within 5 pp of
    the script's own measurement (or 3 standard deviations of the share
    in that many samples, where more), the worker thread's too;
  - >= 95% of samples reach <module> (main thread) or the thread's entry
    (_bootstrap);
  - a sample in recurse_leaf has exactly 30 recurse frames above it;
  - in busy_alpha the most sampled line is the one the script marks, in
    the script's own file;
  - hashlib's C code (its _hashlib module, libcrypto) is under
    hash_caller with no other Python frame between;
  - sort_key is called by sort_caller through native code (sorted);
  - churn_f_<i> frames appear under exec_churn only, and nothing under
    exec_churn is named but the churned functions and <module> (a code
    object freed before it was named says so);
  - Python frames are in the "[python]" mapping, with a .py file and a
    line; frames left unnamed are under 1% of samples.
The 3.14 copy gets native frames only, a warning naming 3.14, and the
python_unsupported counter.
"""

import collections
import json
import glob
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

import smolder_harness as h
import system_run as sr

SECONDS = 28
INTERVAL = "6s"
MINORS = (8, 9, 10, 11, 12, 13)
SHARE_PP = 5.0
PHASES = ("busy_alpha", "busy_beta", "Walker.step", "recurse_leaf", "consume_generator",
          "hash_caller", "sort_caller", "exec_churn")


def pyenv_python(minor):
    found = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor)))
    if not found:
        h.fail("no CPython 3.%d under /root/.pyenv/versions" % minor)
    return found[0]


def is_python(f):
    return f.mapping is not None and f.mapping.file == "[python]"


def python_frames(sample):
    return [f for f in sample.frames if is_python(f)]


def frame_names(version_minor, phase):
    """The names a phase's samples are recognised by: before 3.11 a code
    object has no qualified name."""
    if phase == "Walker.step" and version_minor < 11:
        return {"step"}
    if phase == "recurse_leaf":
        return {"recurse", "recurse_leaf"}
    return {phase}


def check_shares(service, minor, samples, measured):
    total = h.count(samples)
    cpu = sum(measured["main"].values()) + measured["thread"]
    wanted = [(p, measured["main"][p]) for p in PHASES if p in measured["main"]]
    wanted.append(("thread_worker", measured["thread"]))
    for phase, secs in wanted:
        names = frame_names(minor, phase)
        got = sum(s.count for s in samples if names & {f.name for f in python_frames(s)})
        expect_pct, got_pct = 100.0 * secs / cpu, 100.0 * got / total
        # 5 pp, or three standard deviations of a share counted in this
        # many samples where that is more (a run of 9 interpreters on 2
        # CPUs gives each some 400): never a bound a fair count misses by
        # chance once a day.
        p = secs / cpu
        tol = max(SHARE_PP, 300.0 * math.sqrt(p * (1 - p) / total))
        h.log("%s: %-18s %5.1f%% of samples, measured %5.1f%% (within %.1f pp)"
              % (service, phase, got_pct, expect_pct, tol))
        if abs(got_pct - expect_pct) > tol:
            h.fail("%s: %s has %.1f%% of samples, the script measured %.1f%%; top stacks: %s"
                   % (service, phase, got_pct, expect_pct, h.top_stacks(samples)))


def check_roots(service, samples):
    total = h.count(samples)
    native = sum(s.count for s in samples if not python_frames(s))
    h.log("%s: %d of %d samples with no Python frame" % (service, native, total))
    rooted = sum(s.count for s in samples
                 if {"<module>", "_bootstrap", "Thread._bootstrap"}
                 & {f.name for f in python_frames(s)})
    h.log("%s: %d of %d samples reach <module> or _bootstrap" % (service, rooted, total))
    if rooted < 0.95 * total:
        h.fail("%s: only %d of %d samples reach <module> or the thread's entry; top stacks: %s"
               % (service, rooted, total, h.top_stacks(samples)))


def check_recursion(service, samples):
    leaf = [s for s in samples if "recurse_leaf" in {f.name for f in python_frames(s)}]
    depths = collections.Counter(sum(1 for f in python_frames(s) if f.name == "recurse")
                                 for s in leaf for _ in range(s.count))
    h.log("%s: recursion depths under recurse_leaf: %s" % (service, dict(depths)))
    if h.count(leaf) < 10:
        h.fail("%s: only %d samples in recurse_leaf" % (service, h.count(leaf)))
    if set(depths) != {30}:
        h.fail("%s: samples in recurse_leaf have %s recurse frames above, not 30"
               % (service, dict(depths)))


def check_hot_line(service, samples, workload, hot_line):
    lines = collections.Counter()
    for s in samples:
        py = python_frames(s)
        if py and py[0].name == "busy_alpha":
            if os.path.basename(py[0].file or "") != os.path.basename(workload):
                h.fail("%s: busy_alpha's file is %r" % (service, py[0].file))
            lines[py[0].line] += s.count
    h.log("%s: busy_alpha's lines: %s (marked: %d)" % (service, lines.most_common(4), hot_line))
    if not lines or lines.most_common(1)[0][0] != hot_line:
        h.fail("%s: busy_alpha's most sampled line is not %d: %s"
               % (service, hot_line, lines.most_common(5)))


def nearest_python_above(sample, index):
    for f in sample.frames[index + 1:]:
        if is_python(f):
            return f
    return None


def check_hashlib(service, samples):
    n = 0
    for s in samples:
        at = [i for i, f in enumerate(s.frames) if f.mapping is not None
              and ("_hashlib" in f.mapping.file or "libcrypto" in f.mapping.file)]
        # Samples taken before the agent had read the interpreter (its
        # first moments) have native frames only: check_roots bounds them.
        if not at or not python_frames(s):
            continue
        n += s.count
        caller = nearest_python_above(s, at[-1])
        if caller is None or caller.name != "hash_caller":
            h.fail("%s: hashlib's C code under %s, not hash_caller: %s"
                   % (service, caller and caller.name, s.names))
    h.log("%s: %d samples in hashlib's C code, each right under hash_caller" % (service, n))
    if n < 10:
        h.fail("%s: only %d samples in hashlib's C code" % (service, n))


def check_sort_key(service, samples):
    n = 0
    for s in samples:
        at = [i for i, f in enumerate(s.frames) if is_python(f) and f.name == "sort_key"]
        if not at:
            continue
        n += s.count
        i = at[0]
        caller = nearest_python_above(s, i)
        j = s.frames.index(caller) if caller is not None else None
        if caller is None or caller.name != "sort_caller" or not any(
                not is_python(f) for f in s.frames[i + 1:j]):
            h.fail("%s: sort_key not called by sort_caller through native code: %s"
                   % (service, s.names))
    h.log("%s: %d samples in sort_key, each under sorted under sort_caller" % (service, n))
    if n < 10:
        h.fail("%s: only %d samples in sort_key" % (service, n))


def check_churn(service, samples):
    under, churned = 0, 0
    for s in samples:
        names = [f.name for f in python_frames(s)]
        has_churn = any(re.fullmatch(r"churn_f_\d", n or "") for n in names)
        if "exec_churn" not in names:
            if has_churn:
                h.fail("%s: churned functions outside exec_churn: %s" % (service, s.names))
            continue
        under += s.count
        churned += s.count if has_churn else 0
        inner = names[:names.index("exec_churn")]
        # A churned code object may be freed before it is named: then it
        # says so, and that is all it may say.
        bad = [n for n in inner if n != "<module>" and not re.fullmatch(r"churn_f_\d", n or "")
               and not (n or "").startswith("[python:")]
        if bad:
            h.fail("%s: under exec_churn, frames named %s: %s" % (service, bad, s.names))
    h.log("%s: %d samples under exec_churn, %d in a churned function named (the rest: "
          "freed before they were named)" % (service, under, churned))
    if under < 10:
        h.fail("%s: only %d samples under exec_churn" % (service, under))


def check_frames(service, samples):
    total = h.count(samples)
    # Under exec_churn, code objects are freed at once: see check_churn.
    # A process's last moments (its shutdown) may be sampled after it
    # exited: frames first seen then say the process was gone.
    unnamed = sum(s.count for s in samples
                  if "exec_churn" not in {f.name for f in python_frames(s)}
                  and any(is_python(f) and (f.name or "").startswith("[python:")
                          and "process gone" not in f.name for f in s.frames))
    gone = sum(s.count for s in samples
               if any(is_python(f) and "process gone" in (f.name or "") for f in s.frames))
    if gone > 0.03 * total:
        h.fail("%s: %d of %d samples have Python frames unnamed as their process was gone"
               % (service, gone, total))
    for s in samples:
        for f in python_frames(s):
            if (f.name or "").startswith("[python:"):
                continue
            # a script (`.py`, or a file such as /usr/bin/meson), or the
            # pseudo file of exec'd source such as <churn>
            source = (f.file or "").endswith(".py") or (f.file or "").startswith("/") or \
                re.fullmatch(r"<[^<>]+>", f.file or "")
            if not source or not f.line or f.line <= 0:
                h.fail("%s: a Python frame without a .py file and line: %s %r:%r"
                       % (service, f.name, f.file, f.line))
    h.log("%s: %d of %d samples with an unnamed Python frame" % (service, unnamed, total))
    if unnamed > 0.01 * total:
        h.fail("%s: %d of %d samples have Python frames left unnamed" % (service, unnamed,
                                                                        total))


def check_whole(service, samples):
    """Stacks through -X perf's trampolines are walked through: none ends
    in an unwind error (a truncated one, 127 native frames deep, may)."""
    total = h.count(samples)
    broken = [s for s in samples if s.frames and (s.frames[-1].name or "").startswith("[unwind")]
    h.log("%s: %d of %d samples end in an unwind error" % (service, h.count(broken), total))
    if h.count(broken) > 0.02 * total:
        h.fail("%s: %d of %d samples end in an unwind error: %s"
               % (service, h.count(broken), total, h.top_stacks(broken)))
    through = sum(s.count for s in samples
                  if any((f.name or "").startswith("py::") for f in s.frames))
    if through < 0.5 * total:
        h.fail("%s: only %d of %d samples pass through a perf trampoline" % (service, through,
                                                                            total))


def check_interpreter(r, service, minor, workload, measured, churn, xperf=False):
    samples = r.samples(service)
    total = h.count(samples)
    spans = sorted((p.start, p.end) for p in r.profiles if p.service == service)
    cpu = sum(measured["main"].values()) + measured["thread"]
    h.log("%s (%s): %d samples in %s; the script ran %.1f s, %.1f CPU-s" % (
        service, measured["version"], total,
        "%d-%d" % (spans[0][0], spans[-1][1]) if spans else "no profile", measured["wall"], cpu))
    if total < 200:
        h.fail("%s: only %d samples (services: %s)" % (service, total, h.services(r)))
    check_frames(service, samples)
    check_roots(service, samples)
    check_shares(service, minor, samples, measured)
    check_recursion(service, samples)
    check_hot_line(service, samples, workload, measured["hot_line"])
    check_hashlib(service, samples)
    check_sort_key(service, samples)
    if churn:
        check_churn(service, samples)
    if xperf:
        check_whole(service, samples)


def walked(outdir, service):
    """Whether the newest profile of service has Python frames."""
    d = os.path.join(outdir, service)
    files = sorted(f for f in glob.glob(os.path.join(d, "*.pb.gz"))
                   if h.profile_type(os.path.basename(f)) == "cpu")
    return bool(files) and any(python_frames(s) for s in h.decode(files[-1], service, 0, 0).samples)


def run_workloads(smolder, workload, launches, readable, tmp):
    """Runs every (service, argv, env, root) of launches at once under one
    agent (root: the container's root, which holds the workload as
    /work/python_workload.py and /out for its files; None: on the host),
    their measured run started once the agent walks the Python frames of
    the services `readable`; returns the Run (its profiles those of the
    intervals begun after that) and each one's measurements."""
    outs = {}
    # A file of this run's own: the last run's would start this one at once.
    start_files = [tempfile.mktemp(prefix="start-", dir=tmp)]
    with sr.SystemAgent(smolder, upload_interval=INTERVAL) as agent:
        agent.start()
        procs = []
        for service, argv, env, root in launches:
            out = os.path.join(tmp, service + ".json")
            args = [workload, str(SECONDS), out]
            env = dict(env, PY_WORKLOAD_START_FILE=start_files[0])
            if root:
                out = os.path.join(root, "out", service + ".json")
                args = ["/work/python_workload.py", str(SECONDS), "/out/%s.json" % service]
                env["PY_WORKLOAD_START_FILE"] = "/out/start"
                start_files.append(os.path.join(root, "out", "start"))
            outs[service] = out
            procs.append((service, subprocess.Popen(argv + args, env=env,
                                                    stdout=subprocess.DEVNULL)))
        # The agent describes a process once it has read its interpreter's
        # file: samples before are native only, and are not what is tested.
        for _ in range(10):
            agent.next_interval()
            waiting = [s for s in readable if not walked(agent.run.outdir, s)]
            if not waiting:
                break
        else:
            h.fail("no Python frames in the profiles of %s after 10 intervals" % waiting)
        started = time.time()
        for f in start_files:
            open(f, "w").close()
        for service, p in procs:
            if p.wait(SECONDS + 120) != 0:
                h.fail("%s exited with status %d" % (service, p.returncode))
        agent.wait_written(time.time())
        r = agent.stop()
    sr.check_output(r)
    r.profiles = [p for p in r.profiles if p.start >= started]
    measured = {}
    for service, out in outs.items():
        with open(out) as f:
            measured[service] = json.load(f)
    return r, measured


def container(tmp, workload):
    """A container of Debian's python3.11: a root of its own with /usr
    bound in and the interpreter as /ctr/python3.11-ctr (a copy: no host
    file at that path), in new pid and mount namespaces. Returns the root
    and the command that runs the interpreter in it (arguments follow)."""
    root = os.path.join(tmp, "ctr")
    for d in ("ctr", "work", "out", "usr", "proc", "tmp"):
        os.makedirs(os.path.join(root, d))
    for link in ("lib", "lib64", "bin"):
        os.symlink("usr/" + link, os.path.join(root, link))
    shutil.copy("/usr/bin/python3.11", os.path.join(root, "ctr", "python3.11-ctr"))
    shutil.copy(workload, os.path.join(root, "work", "python_workload.py"))
    script = ('mount --rbind /usr "$0/usr" && mount -t proc proc "$0/proc" && '
              'exec chroot "$0" /ctr/python3.11-ctr "$@"')
    return root, ["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                  "sh", "-c", script, root]


def stripped_libpython(python, minor, tmp):
    """A directory holding python's libpython3.X.so.1.0 stripped of DWARF
    and .symtab, for LD_LIBRARY_PATH (the interpreters' RUNPATH yields)."""
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib",
                       "libpython3.%d.so.1.0" % minor)
    d = os.path.join(tmp, "strip3.%d" % minor)
    os.makedirs(d)
    subprocess.run(["strip", "--strip-all", "-o", os.path.join(d, os.path.basename(lib)), lib],
                   check=True)
    out = subprocess.run(["readelf", "-S", "-W", os.path.join(d, os.path.basename(lib))],
                         check=True, capture_output=True, text=True).stdout
    if ".symtab" in out or ".debug_info" in out:
        h.fail("the stripped copy of %s still has .symtab or DWARF" % lib)
    return d


def fake_314(tmp):
    """A copy of Debian's python3.11 whose Py_Version says 3.14.0."""
    path = os.path.join(tmp, "python3.14")
    shutil.copy("/usr/bin/python3.11", path)
    syms = subprocess.run(["nm", "-D", path], check=True, capture_output=True,
                          text=True).stdout
    m = re.search(r"^([0-9a-f]+) R Py_Version$", syms, re.M)
    if not m:
        h.fail("no Py_Version in /usr/bin/python3.11's dynamic symbols")
    vaddr = int(m.group(1), 16)
    sections = subprocess.run(["readelf", "-S", "-W", path], check=True, capture_output=True,
                              text=True).stdout
    for line in sections.splitlines():
        f = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)",
                     line)
        if f and int(f.group(2), 16) <= vaddr < int(f.group(2), 16) + int(f.group(4), 16):
            offset = vaddr - int(f.group(2), 16) + int(f.group(3), 16)
            break
    else:
        h.fail("Py_Version's section not found")
    with open(path, "r+b") as f:
        f.seek(offset)
        if struct.unpack("<I", f.read(4))[0] >> 16 != 0x030B:
            h.fail("Py_Version of /usr/bin/python3.11 is not 3.11")
        f.seek(offset)
        f.write(struct.pack("<I", 0x030E00F0))
    return path


def section(path, name):
    """(file offset, size) of section name of ELF file path (readelf)."""
    out = subprocess.run(["readelf", "-S", "-W", path], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        f = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)",
                     line)
        if f and f.group(1) == name:
            return int(f.group(2), 16), int(f.group(3), 16)
    h.fail("%s has no %s" % (path, name))


def without_debug_file(tmp):
    """A copy of Debian's python3.11 that no debug file matches: its
    build-id and its .gnu_debuglink CRC changed, so python3.11-dbg's file is
    found neither by build-id nor by name."""
    path = os.path.join(tmp, "python3.11-nodbg")
    shutil.copy("/usr/bin/python3.11", path)
    note, _ = section(path, ".note.gnu.build-id")
    link, size = section(path, ".gnu_debuglink")
    with open(path, "r+b") as f:
        for at in (note + 16, link + size - 4):  # the build-id's first byte, the CRC's
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0xff]))
    return path


def test(smolder, workload):
    tmp = tempfile.mkdtemp(prefix="smolder-it-python-")
    try:
        base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        pythons = {m: pyenv_python(m) for m in MINORS}

        # 1. As installed, with the churn of code objects.
        churn = dict(base, PY_WORKLOAD_CHURN="1")
        launches = [("python3.%d" % m, [pythons[m]], churn, None) for m in MINORS]
        r, measured = run_workloads(smolder, workload, launches,
                                    [launch[0] for launch in launches], tmp)
        for m in MINORS:
            s = "python3.%d" % m
            check_interpreter(r, s, m, workload, measured[s], churn=True)

        # 2. Stripped libpython copies, Debian's python3.11, a fake 3.14.
        launches = []
        for m in MINORS:
            if m == 11:
                continue  # the service python3.11 is Debian's here
            env = dict(base, LD_LIBRARY_PATH=stripped_libpython(pythons[m], m, tmp))
            # 3.12+: through -X perf's trampolines, too
            launches.append(("python3.%d" % m, [pythons[m]] + (["-X", "perf"] if m >= 12 else []),
                             env, None))
        launches.append(("python3.11", ["/usr/bin/python3.11"], base, None))
        launches.append(("python3.11-nodbg", [without_debug_file(tmp)], base, None))
        root, in_container = container(tmp, workload)
        launches.append(("python3.11-ctr", in_container, base, root))
        launches.append(("python3.14", [fake_314(tmp)], base, None))
        r, measured = run_workloads(smolder, workload, launches,
                                    [launch[0] for launch in launches[:-1]], tmp)
        for service in measured:
            m = int(re.match(r"python3\.(\d+)", service).group(1))
            if m != 14:
                check_interpreter(r, service, m, workload, measured[service], churn=False,
                                  xperf=m >= 12)
        # The interpreter's own frames: named from python3.11-dbg's DWARF
        # (file and line) where it is found, from .dynsym alone where not.
        for service, exe, dwarf in (("python3.11", "/usr/bin/python3.11", True),
                                    ("python3.11-nodbg", "python3.11-nodbg", False)):
            own = [f for s in r.samples(service) for f in s.frames
                   if f.mapping is not None and f.mapping.file.endswith(exe) and f.name]
            lined = sum(1 for f in own if f.file)
            h.log("%s: %d of %d interpreter frames with a file" % (service, lined, len(own)))
            if not own or (lined < 0.5 * len(own) if dwarf else lined):
                h.fail("%s: %d of %d interpreter frames have a file" % (service, lined, len(own)))
        fake = r.samples("python3.14")
        if h.count(fake) < 100:
            h.fail("python3.14: only %d samples" % h.count(fake))
        named = [s for s in fake if python_frames(s)]
        if named:
            h.fail("python3.14: %d samples have Python frames: %s"
                   % (h.count(named), h.top_stacks(named)))
        if not any("Python 3.14" in line and " warn " in line for line in r.agent_log):
            h.fail("no warning names Python 3.14")
        if r.total("python_unsupported") < 1:
            h.fail("python_unsupported did not count the 3.14 process")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sr.main(test)
