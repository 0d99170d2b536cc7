"""Integration: a file that claims libc's build-id changes nothing of libc
(issue 14, item 2), neither in the symbol cache nor in the unwind tables.

    test_forged_build_id.py SMOLDER UNWIND_WORK FORGED_LIB_C FORGED_MAIN_C

The test builds, into a fresh root ROOT (a root of its own, entered with
chroot as test_container.py does: no namespaces), libforged.so from
forged_lib.c with libc's exact build-id (read from the host's libc with
`readelf -n`, linked with -Wl,--build-id=0x<it>): same note, other bytes,
its code a hot function forged_spin_hot. smolder_it_forged (forged_main.c)
links it after libc (so the loader maps it first in /proc/PID/maps) and
burns CPU in it; beside them in ROOT, copies of the host's libc and loader
(other inodes, the same bytes). It is started FIRST, then the agent,
profiling the whole system (no --pid) in 2 s intervals; once the agent
has written a profile of smolder_it_forged (it has read its files, the
forged library among them), a host process starts: UNWIND_WORK (gcc, -O2,
no frame pointers) in qsort mode, its comparator called from the host's
libc's qsort (no frame pointers either: a stack reaches main only through
libc's own unwind table). Decoded with `go tool pprof -raw`. Checked:
  - the output keeps the contract;
  - the host process: >= 95% of its samples reach main and pass through
    __libc_start_call_main (a libc name from libc's debug file, libc6-dbg);
    >= 95% of those in its comparator pass through libc's qsort internals
    (a name with "qsort" or "msort") to run_qsort; no frame of it is named
    forged_*;
  - smolder_it_forged: forged_spin_hot is on >= 90% of its stacks, always
    in libforged.so's mapping, and every named frame of that mapping is
    forged_spin_hot (none of libc's names).
With files shared by build-id (the bug), either the forged library takes
libc's tables (its frames named as libc's, or not at all) or libc takes
the forged library's (the host's stacks cut short in libc, or misnamed).
"""

import os
import re
import shutil
import subprocess
import tempfile

import elf_tools as et
import smolder_harness as h
import system_run as sr

INTERVAL = "2s"
BURN_S = 8
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
LOADER = "/lib64/ld-linux-x86-64.so.2"
LIBDIR = "lib/x86_64-linux-gnu"
SERVICE = "smolder_it_forged"
HOT = "forged_spin_hot"
CFLAGS = ["-O1", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
          "-fno-optimize-sibling-calls"]


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    if not m:
        h.fail("%s has no build-id note (readelf -n)" % path)
    return m.group(1)


def sha256(path):
    return subprocess.run(["sha256sum", path], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()[0]


def cc(args):
    r = subprocess.run(["gcc"] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        h.fail("gcc %s failed:\n%s" % (" ".join(args), r.stdout))


def make_root(lib_src, main_src, libc_id):
    """ROOT with the loader, a copy of libc, libforged.so and the program."""
    root = tempfile.mkdtemp(prefix="smolder-it-forged-")
    os.makedirs(os.path.join(root, LIBDIR))
    os.makedirs(os.path.join(root, "lib64"))
    shutil.copy2(os.path.realpath(LOADER), os.path.join(root, LOADER.lstrip("/")))
    shutil.copy2(LIBC, os.path.join(root, LIBDIR, "libc.so.6"))
    inc = "-I" + os.path.dirname(lib_src)
    lib = os.path.join(root, LIBDIR, "libforged.so")
    cc(CFLAGS + [inc, "-shared", "-fPIC", "-Wl,--build-id=0x" + libc_id, "-o", lib, lib_src])
    prog = os.path.join(root, SERVICE)
    cc(CFLAGS + [inc, "-o", prog, main_src, "-Wl,--no-as-needed", "-lc",
                 "-L" + os.path.join(root, LIBDIR), "-lforged",
                 "-Wl,-rpath,/" + LIBDIR])
    if build_id(lib) != libc_id:
        h.fail("libforged.so has build-id %s, want libc's %s" % (build_id(lib), libc_id))
    if sha256(lib) == sha256(LIBC):
        h.fail("libforged.so has libc's bytes")
    return root


def mapped_files(pid):
    """The files of /proc/PID/maps with an executable mapping, in order."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "x" in parts[1] and parts[5] not in out:
                out.append(parts[5])
    return out


def base(f):
    return os.path.basename(f.mapping.file) if f.mapping is not None else None


def share(what, samples, pred, want, failures):
    n = h.count(samples)
    ok = sum(s.count for s in samples if pred(s))
    h.log("%s: %d of %d (%.1f%%)" % (what, ok, n, 100.0 * ok / n if n else 0))
    if not n or ok < want * n:
        failures.append("%s: %d of %d samples, want >= %d%%; heaviest:\n    %s"
                        % (what, ok, n, int(want * 100),
                           "\n    ".join(h.top_stacks([s for s in samples if not pred(s)]))))


def check_host(samples, failures):
    total = h.count(samples)
    if total < 200:
        failures.append("the host process: only %d samples" % total)
        return

    def names(s):
        return [f.name or "??" for f in s.user_frames]
    share("host: reach main", samples, lambda s: "main" in names(s), 0.95, failures)
    share("host: __libc_start_call_main (libc's)", samples,
          lambda s: "__libc_start_call_main" in names(s), 0.95, failures)
    in_cmp = [s for s in samples if "compare_hot" in names(s)]
    if h.count(in_cmp) < 0.5 * total:
        failures.append("host: only %d of %d samples in compare_hot" % (h.count(in_cmp), total))

    def through_qsort(s):
        n = names(s)
        rest = n[n.index("compare_hot") + 1:]
        return "run_qsort" in rest and any(
            ("qsort" in x or "msort" in x) and x != "run_qsort" for x in rest[:rest.index("run_qsort")])
    share("host: comparator under libc's qsort", in_cmp, through_qsort, 0.95, failures)
    forged = {f.name for s in samples for f in s.frames if f.name and f.name.startswith("forged")}
    if forged:
        failures.append("host: frames named %s, the forged library's" % sorted(forged))


def check_hostile(samples, failures):
    total = h.count(samples)
    if total < 100:
        failures.append("%s: only %d samples" % (SERVICE, total))
        return
    share("%s: %s on the stack" % (SERVICE, HOT), samples, lambda s: HOT in s.names, 0.9,
          failures)
    where = {base(f) for s in samples for f in s.frames if f.name == HOT}
    if where != {"libforged.so"}:
        failures.append("%s found in mapping(s) %s, want libforged.so" % (HOT, sorted(where)))
    others = {f.name for s in samples for f in s.frames
              if base(f) == "libforged.so" and f.name and f.name != HOT}
    if others:
        failures.append("frames in libforged.so named %s: not its own" % sorted(others))


def test(smolder, unwind_work, lib_src, main_src):
    et.no_debuginfod_env()
    libc_id = build_id(LIBC)
    debug = "/usr/lib/debug/.build-id/%s/%s.debug" % (libc_id[:2], libc_id[2:])
    if not os.path.exists(debug):
        h.fail("no debug file of libc at %s: install libc6-dbg (deploy/install-deps.sh)" % debug)
    root = make_root(lib_src, main_src, libc_id)
    hostile = host = None
    try:
        hostile = sr.Workload(["chroot", root, "/" + SERVICE])
        pid = hostile.event("ready", timeout=30)["pids"][0]
        files = mapped_files(pid)
        h.log("%s (pid %d) maps, in order: %s" % (SERVICE, pid, files))
        if not any(f.endswith("/libforged.so") for f in files):
            h.fail("%s does not map libforged.so" % SERVICE)
        with sr.SystemAgent(smolder, upload_interval=INTERVAL) as agent:
            agent.start()
            # It has read the forged library before the host process starts.
            agent.wait_profile_of(SERVICE)
            host = sr.Workload([unwind_work, "qsort", str(BURN_S)])
            host.event("ready", timeout=30, agent=agent)
            host.send()
            done = host.event("done", timeout=BURN_S + 60, agent=agent)
            h.log("host process done: %s" % done)
            agent.wait_written()
            hostile.send()
            hostile.event("done", timeout=30, agent=agent)
            r = agent.stop()
        host.finish()
        hostile.finish()
    finally:
        for w in (host, hostile):
            if w is not None:
                w.kill()
        shutil.rmtree(root, ignore_errors=True)

    sr.check_output(r)
    failures = []
    check_host(r.samples(os.path.basename(unwind_work)), failures)
    check_hostile(r.samples(SERVICE), failures)
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    sr.main(test)
