"""The agent runs, and writes named profiles, with exactly the capabilities
the DaemonSet grants and no others (the issue's "runs under setpriv").

The capability list is read from the DaemonSet (kubectl kustomize
deploy/kubernetes when a kubectl is there, else the file), so the manifest
and this test are one list. The agent runs as a container runtime starts
it: uid 0, every other capability gone from its bounding, permitted and
effective sets (`setpriv --bounding-set=-all,+...`: root's capabilities
after execve are its bounding set), no inheritable or ambient ones, no new
privileges. /proc/self/status under the same setpriv is checked first.

Meanwhile two burners run as another user (65534), each from an
execute-only copy of cap_burn.c's program in a folder of that user:
smolder_it_capburn stays on disk, smolder_it_capburn_gone is deleted once
started. The agent, on its own for 5 s, must exit 0 and write profiles in
which
  - both burners are sampled: other users' /proc/PID/maps (SYS_PTRACE);
  - the present one's cap_burn_hot is named: its executable is readable
    only with DAC_READ_SEARCH;
  - the deleted one's cap_burn_hot is named: only /proc/PID/map_files
    reaches it (CHECKPOINT_RESTORE);
  - kernel frames are named: /proc/kallsyms shows addresses (SYSLOG);
and it must log no permission error that it does not also log as full root,
and its parser worker must confine itself (no death, no "cannot").
A failing check is run again as full root: passing there, the agent needs a
capability not in the set, and the test says so (it never adds one).

Then, for the log only (SMOLDER_CAP_SWEEP=0 skips it), each capability is
dropped in turn to show what it is for on this kernel.

    test_capabilities.py SMOLDER CAP_BURN     (as root; needs BPF)
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import deploy_common as d
from deploy_common import fail, log

sys.path.insert(0, os.path.join(d.ROOT, "tests", "integration"))
import smolder_harness as h  # noqa: E402  (go tool pprof -raw, parsed)

NOBODY = 65534
AGENT_SECONDS = 5
BURN_SECONDS = 300  # killed when the test ends
HOT = "cap_burn_hot"
PRESENT = "smolder_it_capburn"
GONE = "smolder_it_capburn_gone"

# linux/capability.h: the numbers are ABI.
CAP_NUMBERS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
    "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9,
    "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13,
    "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
    "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21,
    "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
    "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33,
    "SYSLOG": 34, "WAKE_ALARM": 35, "BLOCK_SUSPEND": 36, "AUDIT_READ": 37,
    "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}
PERMISSION_RE = re.compile(r"not permitted|permission denied|\bEPERM\b|\bEACCES\b", re.I)


def setpriv_prefix(caps):
    """The setpriv command line that leaves uid 0 with exactly caps."""
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    bset = ",".join(["-all"] + ["+" + c.lower() for c in caps])
    return [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=" + bset,
            "--reuid=0", "--regid=0", "--clear-groups", "--no-new-privs", "--"]


def decode_caps(mask):
    names = {v: k for k, v in CAP_NUMBERS.items()}
    return sorted(names.get(i, "#%d" % i) for i in range(64) if mask >> i & 1)


def check_setpriv(caps):
    r = subprocess.run(setpriv_prefix(caps) + ["cat", "/proc/self/status"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("setpriv failed (%d): %s" % (r.returncode, r.stderr.strip()))
    status = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    got = {k: decode_caps(int(status[k], 16)) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    want = {"CapInh": [], "CapPrm": sorted(caps), "CapEff": sorted(caps),
            "CapBnd": sorted(caps), "CapAmb": []}
    log("under setpriv: uid %s, %s, NoNewPrivs %s" %
        (status.get("Uid", "?").split()[0], ", ".join("%s=%s" % (k, ",".join(v) or "-")
                                                     for k, v in got.items()),
         status.get("NoNewPrivs", "?").strip()))
    if got != want:
        fail("setpriv does not give exactly %s: %s" % (caps, got))
    if status.get("Uid", "").split()[:1] != ["0"] or status.get("NoNewPrivs", "").strip() != "1":
        fail("setpriv: not uid 0 with no_new_privs: Uid %r NoNewPrivs %r"
             % (status.get("Uid"), status.get("NoNewPrivs")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Burners:
    """The two burners of user 65534, one deleted once started."""

    def __init__(self, cap_burn, tmp):
        self.dir = os.path.join(tmp, "nobody")
        os.mkdir(self.dir)
        os.chown(self.dir, NOBODY, NOBODY)
        os.chmod(self.dir, 0o711)
        self.procs = []
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        for name in (PRESENT, GONE):
            exe = os.path.join(self.dir, name)
            shutil.copyfile(cap_burn, exe)
            os.chown(exe, NOBODY, NOBODY)
            os.chmod(exe, 0o111)  # execute only: root without DAC_* cannot read it
            self.procs.append(subprocess.Popen(
                [setpriv, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                 "--", exe, str(BURN_SECONDS)]))
        deadline = time.time() + 10
        for p, name in zip(self.procs, (PRESENT, GONE)):
            while True:
                try:
                    with open("/proc/%d/comm" % p.pid) as f:
                        if f.read().strip() == name[:15]:
                            break
                except OSError:
                    pass
                if p.poll() is not None or time.time() > deadline:
                    fail("burner %s did not start" % name)
                time.sleep(0.05)
        os.unlink(os.path.join(self.dir, GONE))

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()


class Run:
    def __init__(self, label, returncode, stderr, outdir):
        self.label, self.returncode, self.stderr, self.outdir = label, returncode, stderr, outdir
        self.files = []
        for root, _, names in os.walk(outdir):
            self.files += [os.path.join(root, n) for n in names if n.endswith(".pb.gz")]
        self._decoded = {}

    def profiles(self, service):
        if service not in self._decoded:
            out = []
            for path in self.files:
                svc = os.path.basename(os.path.dirname(path))
                m = re.match(r"^(\d+)-(\d+)", os.path.basename(path))
                if svc == service and m:
                    out.append(h.decode(path, svc, int(m.group(1)), int(m.group(2))))
            self._decoded[service] = out
        return self._decoded[service]

    def services(self):
        return sorted({os.path.basename(os.path.dirname(p)) for p in self.files})

    def permission_lines(self):
        return sorted({re.sub(r"^\S+\s+", "", re.sub(r"\d+", "N", line))
                       for line in self.stderr.splitlines() if PERMISSION_RE.search(line)})


def run_agent(smolder, caps, tmp, label):
    """The agent for AGENT_SECONDS, under setpriv with caps (None: as it is,
    full root), its output under tmp/label."""
    base = os.path.join(tmp, label)
    os.mkdir(base)
    cmd = (setpriv_prefix(caps) if caps is not None else []) + [
        smolder, "--duration", "%ds" % AGENT_SECONDS, "--upload-interval", "2s",
        "--output-dir", os.path.join(base, "out"),
        "--spool-dir", os.path.join(base, "spool"),
        "--debuginfod-cache-dir", os.path.join(base, "debuginfod"),
        "--http-listen", "127.0.0.1:%d" % free_port()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SMOLDER_") and k not in ("DEBUGINFOD_URLS", "KUBERNETES_SERVICE_HOST")}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=AGENT_SECONDS + 60)
    return Run(label, p.returncode, p.stderr, os.path.join(base, "out"))


def named_share(profiles, pick):
    """(samples with a frame that pick() takes, of which named) over the
    profiles' samples."""
    total = named = 0
    for prof in profiles:
        for s in prof.samples:
            frames = [f for f in s.frames if pick(f)]
            if frames:
                total += s.count
                named += s.count if any(f.name for f in frames) else 0
    return total, named


def problems_of(r):
    """What is wrong with one run: {check: message}."""
    p = {}
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()[-5:][::-1]
        p["runs"] = "exited %d: %s" % (r.returncode, "\n    ".join(lines) or "(no log)")
        return p
    if not r.files:
        p["runs"] = "wrote no profile"
        return p
    for svc, check in ((PRESENT, "sees_other_users"), (GONE, "sees_other_users")):
        profs = r.profiles(svc)
        samples = sum(pr.total_count for pr in profs)
        if samples == 0:
            p[check] = "no sample of %s, a process of uid %d (services: %s)" % (
                svc, NOBODY, ", ".join(r.services()))
            continue
        hot = sum(s.count for pr in profs for s in pr.samples if HOT in s.names)
        key = "reads_unreadable" if svc == PRESENT else "reads_deleted"
        if hot < samples / 2:
            p[key] = "%s: %d of %d samples name %s (its executable is %s)" % (
                svc, hot, samples, HOT,
                "execute-only" if svc == PRESENT else "deleted: only map_files reaches it")
    # The parser worker confines itself with what the set leaves it (the
    # bounding set is emptied in a user namespace, as CAP_SETPCAP is not
    # in it): a worker that cannot, exits, and the files it was given are
    # set aside.
    worker = [line for line in r.stderr.splitlines() if "parser worker: cannot" in line]
    deaths = sum(int(n) for n in re.findall(r"\bworker_deaths=(\d+)", r.stderr))
    if worker or deaths:
        p["worker_confined"] = "the parser worker died %d time(s): %s" % (
            deaths, worker[0] if worker else "(no message)")
    # The burners read /dev/zero: their stacks have kernel frames.
    kprofs = r.profiles(PRESENT) + r.profiles(GONE) + r.profiles("kernel")
    ktotal, knamed = named_share(kprofs, lambda f: f.is_kernel)
    if ktotal == 0:
        p["names_kernel"] = "no kernel frame in %d profile(s)" % len(kprofs)
    elif knamed < ktotal / 2:
        p["names_kernel"] = "%d of %d samples with kernel frames have them named" % (knamed, ktotal)
    return p


def summary(r):
    total = 0
    for svc in (PRESENT, GONE):
        total += sum(pr.total_count for pr in r.profiles(svc))
    ktotal, knamed = named_share(r.profiles(PRESENT) + r.profiles(GONE) + r.profiles("kernel"),
                                 lambda f: f.is_kernel)
    return ("exit %d, %d profile(s) of %d service(s), %d burner samples, "
            "%d of %d samples with kernel frames named" % (
                r.returncode, len(r.files), len(r.services()), total, knamed, ktotal))


def test(smolder, cap_burn):
    if os.geteuid() != 0:
        fail("needs root (setpriv, BPF)")
    if d.kubectl()[0]:
        objs, how = d.render()
        log("capabilities from the DaemonSet rendered by %s" % how)
    else:
        _, objs = d.listed_resources()
        log("capabilities from deploy/kubernetes/daemonset.yaml (no kubectl)")
    caps = d.daemonset_capabilities(d.find(objs, "DaemonSet", "smolder"))
    unknown = [c for c in caps if c not in CAP_NUMBERS]
    if unknown:
        fail("the DaemonSet adds capabilities this test does not know: %s" % unknown)
    log("capability set: %s" % " ".join(caps))
    check_setpriv(caps)

    tmp = tempfile.mkdtemp(prefix="smolder-caps-")
    os.chmod(tmp, 0o711)
    burners = Burners(cap_burn, tmp)
    keep = False
    try:
        r = run_agent(smolder, caps, tmp, "caps")
        log("with the set: %s" % summary(r))
        problems = problems_of(r)
        perm = r.permission_lines()
        root = None
        if problems or perm:
            root = run_agent(smolder, None, tmp, "root")
            log("as full root: %s" % summary(root))
            for line in root.permission_lines():
                log("  as root too: %s" % line)
            perm = [line for line in perm if line not in root.permission_lines()]
            for line in r.permission_lines():
                log("  with the set: %s" % line)
        if not burners.alive():
            fail("a burner ended before the agent did")
        if problems or perm:
            keep = True
            root_problems = problems_of(root)
            msgs = ["%s: %s" % kv for kv in sorted(problems.items())] + \
                   ["logs, only without full root: %s" % line for line in perm]
            if all(k in root_problems for k in problems) and not perm:
                fail("the agent fails as full root too (this machine, not the set):\n  " +
                     "\n  ".join(msgs))
            fail("the agent needs a capability not in the set %s:\n  %s\n(output kept in %s)"
                 % (" ".join(caps), "\n  ".join(msgs), tmp))
        log("with exactly %s: exit 0, profiles written, other users' processes sampled, "
            "execute-only and deleted executables named, kernel frames named"
            % " ".join(caps))

        if os.environ.get("SMOLDER_CAP_SWEEP", "1") != "0":
            log("\nwhat each capability is for here (information, not a check):")
            for c in caps:
                rest = [x for x in caps if x != c]
                rr = run_agent(smolder, rest, tmp, "without-" + c.lower())
                pp = problems_of(rr)
                log("  without %-18s %s" % (c + ":", "; ".join(
                    "%s (%s)" % (k, v.splitlines()[0]) for k, v in sorted(pp.items()))
                    or "no check fails"))
    finally:
        burners.stop()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    d.main(test, h.Failure)
