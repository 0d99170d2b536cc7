"""Integration: the BPF walk's user stacks checked against an unwinder that is
not ours, libdwfl (elfutils), on samples of the same runs (issue 6).

    test_unwind_oracle.py SMOLDER ORACLE WORKLOAD...

ORACLE is unwind_oracle.c: it samples a pid with perf (user registers and
a 16 KiB copy of the user stack in each sample) and unwinds every sample
with libdwfl. WORKLOADs are the builds of unwind_work.c (found by name:
unwind_work_gcc_pie, unwind_work_clang_pie, ...). For each case the
workload is started, the oracle attached to its pid (before the agent, so
it sees the whole run), the agent run on it by --pid, and the workload let
go for SECONDS.

Pairing. The agent's profiles aggregate samples by stack and have no tid
or time, so the two sets of samples cannot be matched one to one; an
oracle sample is paired by its instruction pointer instead: with the BPF
stacks whose first user Location has that address. Its pcs (libdwfl's
frames, leaf first, trailing zeros dropped; a BPF stack that ended in a
marker such as [truncated] equals no libdwfl stack) agree if
  - they equal, whole and frame for frame, the user Location addresses of
    one of those BPF stacks ("equal"), or else
  - they are made of the steps BPF walks took ("consistent"): the leaf
    was seen by BPF called from the same function, and every later frame
    was seen by BPF with the same caller at the same distance from the
    root (see BpfStacks.consistent).
The second is for recursions (libc's msort): a stack through one is
seldom sampled twice whole, so its equal is often missing from the BPF
samples though the walk is right; a walk that goes wrong at some frame
never takes libdwfl's step from it (that frame never meets its true
caller), or ends early, or at another depth. The agent samples 5 times as
often as the oracle (499 Hz, 97 Hz) so that the BPF side holds most
stacks. Both sides report return addresses as they are, not minus one. Oracle samples whose ip no BPF stack
starts at are "unpaired" (counted, not judged); those libdwfl could not
finish ("err") are counted and set aside.

Only user-mode samples are paired: an oracle sample taken in the kernel
(in_kernel) is skipped, as its ip is a kernel address the BPF stack holds
among its kernel frames, not as its user leaf.

Fails if fewer than MIN_PAIRED oracle samples are paired, or fewer than
SHARE of the paired ones agree (with examples of disagreement: both stacks
in hex, named from the profile). A control keeps the comparison honest:
against the same BPF stacks with each one's outermost frame dropped, the
agreement must collapse (below CONTROL_MAX), else the check could not tell
a short stack from a whole one.
"""

import json
import os
import subprocess
import tempfile
import threading

import smolder_harness as h

# The agent samples at 499 Hz, the oracle at 97: the more BPF stacks, the
# fewer libdwfl stacks whose equal went unsampled.
RATE = 499
SECONDS = "6"
SHARE = 0.99
MIN_PAIRED = 100
CONTROL_MAX = 0.5
ORACLE_MAX_S = "300"  # a ceiling: the oracle stops once the workload exits
CASES = [("unwind_work_gcc_pie", "chain"), ("unwind_work_clang_pie", "qsort"),
         ("unwind_work_gcc_pie", "signal")]


def bpf_user_stack(sample):
    """The user Location addresses of one BPF stack, leaf first; a marker
    Location (no mapping, address 0: why the walk stopped) as its name."""
    out = []
    for loc in sample.locations:
        f = loc[0]
        if f.is_kernel:
            continue
        if f.address == 0 and f.mapping is None:
            out.append(loc[-1].name or "[marker]")
        else:
            out.append(f.address)
    return tuple(out)


def normalized(pcs):
    pcs = list(pcs)
    while pcs and pcs[-1] == 0:
        pcs.pop()
    return tuple(pcs)


def names_of(samples):
    """address -> the function of that Location (the outermost of its lines:
    the frame's own), from every BPF stack."""
    names = {}
    for s in samples:
        for loc in s.locations:
            if loc[-1].name and loc[0].address:
                names[loc[0].address] = loc[-1].name
    return names


def show(stack, names):
    return "\n        ".join(
        "%-18s %s" % (("%#x" % a) if isinstance(a, int) else a,
                      names.get(a, "?") if isinstance(a, int) else "")
        for a in stack)


class Oracle:
    """unwind_oracle on one pid, its stderr echoed and its sampling start
    awaited."""

    def __init__(self, binary, pid, out):
        self.out = out
        self.lines = []
        self.started = threading.Event()
        self.proc = subprocess.Popen([binary, str(pid), ORACLE_MAX_S, out],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        if not self.started.wait(30):
            self.kill()
            h.fail("the oracle did not start sampling pid %d: %s" % (pid, "\n".join(self.lines)))

    def _pump(self):
        for line in iter(self.proc.stderr.readline, ""):
            line = line.rstrip("\n")
            self.lines.append(line)
            h.log("[oracle] " + line)
            if "sampling pid" in line:
                self.started.set()
        self.started.set()  # exited: the wait above sees it in lines

    def finish(self):
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            h.fail("the oracle did not stop within 30 s of the workload's exit")
        self.pump.join(5)
        if rc != 0:
            h.fail("the oracle exited with status %d: %s" % (rc, "\n".join(self.lines)))
        with open(self.out) as f:
            return [json.loads(l) for l in f if l.strip()]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def links(stack):
    """Each frame but the leaf with its caller (the root's caller "$"), and
    how far it is from the root: the steps of a walk, where they happen."""
    st = tuple(stack) + ("$",)
    return {(st[i], st[i + 1], len(stack) - i) for i in range(1, len(stack))}


class BpfStacks:
    """The BPF stacks: by leaf address with their counts, the function each
    leaf address was seen called from, and the links of all of them."""

    def __init__(self, names):
        self.names = names
        self.by_leaf, self.leaf_callers, self.links = {}, {}, set()

    def caller(self, addr):
        return self.names.get(addr, addr)

    def add(self, stack, count):
        d = self.by_leaf.setdefault(stack[0], {})
        d[stack] = d.get(stack, 0) + count
        self.leaf_callers.setdefault(stack[0], set()).add(
            self.caller(stack[1]) if len(stack) > 1 else "$")
        self.links |= links(stack)

    def consistent(self, pcs):
        """Whether pcs is made of the steps BPF walks took: from the leaf
        into the same function, then every frame to the same caller at the
        same distance from the root (so the depth is the same too). A stack
        through a recursion (libc's msort) is seldom sampled twice whole, so
        its equal may be missing from the BPF samples though the walk is
        right; a walk that goes wrong at some frame takes a step libdwfl
        never takes (that frame never meets its true caller), or ends
        early, or at another depth."""
        return ((self.caller(pcs[1]) if len(pcs) > 1 else "$") in
                self.leaf_callers.get(pcs[0], ()) and links(pcs) <= self.links)


def compare(oracle, bpf):
    """{"exact", "consistent", "unpaired", "kernel", "failed": counts,
    "disagree": [(oracle sample, pcs)]}."""
    c = dict(exact=0, consistent=0, unpaired=0, kernel=0, failed=0, disagree=[])
    for o in oracle:
        if o["in_kernel"]:
            c["kernel"] += 1
            continue
        if "err" in o:
            c["failed"] += 1
            continue
        stacks = bpf.by_leaf.get(o["ip"])
        if not stacks:
            c["unpaired"] += 1
            continue
        pcs = normalized(o["pcs"])
        if pcs in stacks:
            c["exact"] += 1
        elif bpf.consistent(pcs):
            c["consistent"] += 1
        else:
            c["disagree"].append((o, pcs))
    c["agree"] = c["exact"] + c["consistent"]
    c["paired"] = c["agree"] + len(c["disagree"])
    return c


def index(samples, mutate=None):
    """The BpfStacks of the samples' user stacks (mutate: altered so)."""
    bpf = BpfStacks(names_of(samples))
    for s in samples:
        st = bpf_user_stack(s)
        if not st or not isinstance(st[0], int):
            continue
        if mutate:
            st = mutate(st)
        bpf.add(st, s.count)
    return bpf


def common_prefix(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def judge(label, oracle, samples):
    """Fails the test unless the paired oracle samples agree; returns the
    figures."""
    bpf = index(samples)
    c = compare(oracle, bpf)
    h.log("%s: %d oracle samples: %d in the kernel (skipped), %d libdwfl could not finish, "
          "%d unpaired (no BPF stack at their ip), %d paired; BPF: %d samples, %d stacks"
          % (label, len(oracle), c["kernel"], c["failed"], c["unpaired"], c["paired"],
             h.count(samples), sum(len(v) for v in bpf.by_leaf.values())))
    if c["paired"] < MIN_PAIRED:
        h.fail("%s: only %d oracle samples paired with a BPF stack (want >= %d)"
               % (label, c["paired"], MIN_PAIRED))
    h.log("%s: %d of %d paired samples agree with libdwfl (%.2f%%): %d equal to a BPF stack, "
          "%d made of their steps"
          % (label, c["agree"], c["paired"], 100.0 * c["agree"] / c["paired"], c["exact"],
             c["consistent"]))

    # The control: with every BPF stack one frame short, libdwfl's whole
    # stacks must no longer be found among them.
    ctl = compare(oracle, index(samples, lambda st: st[:-1]))
    if ctl["paired"] and ctl["agree"] > CONTROL_MAX * ctl["paired"]:
        h.fail("%s: control: %d of %d oracle samples still agree with BPF stacks cut short "
               "by a frame: the comparison does not compare" % (label, ctl["agree"], ctl["paired"]))

    if c["agree"] < SHARE * c["paired"]:
        names = names_of(samples)
        lines = []
        for o, pcs in c["disagree"][:5]:
            stacks = bpf.by_leaf[o["ip"]]
            # The BPF stack at this ip that goes along longest with libdwfl's.
            bst, n = max(stacks.items(), key=lambda kv: (common_prefix(pcs, kv[0]), kv[1]))
            lines.append("tid %d cpu %d time %d ip %#x: first difference at frame %d "
                         "(of %d by libdwfl, %d by BPF; %d BPF stack(s) at this ip)\n"
                         "      libdwfl:\n        %s\n      BPF (the closest at this ip, %d "
                         "samples):\n        %s"
                         % (o["tid"], o["cpu"], o["time"], o["ip"], common_prefix(pcs, bst),
                            len(pcs), len(bst), len(stacks), show(pcs, names), n,
                            show(bst, names)))
        h.fail("%s: only %d of %d paired samples (%.2f%%, want >= %.0f%%) have a stack "
               "libdwfl agrees with; examples:\n    %s"
               % (label, c["agree"], c["paired"], 100.0 * c["agree"] / c["paired"],
                  100 * SHARE, "\n    ".join(lines)))
    return c


def check_case(smolder, oracle_bin, binary, mode, tmpdir):
    label = "%s %s" % (os.path.basename(binary), mode)
    out = os.path.join(tmpdir, "%s-%s.jsonl" % (os.path.basename(binary), mode))
    oracles = []

    def on_ready(ready):
        oracles.append(Oracle(oracle_bin, ready["pids"][0], out))

    try:
        r = h.run(smolder, [binary, mode, SECONDS], sample_rate=RATE, upload_interval="3s",
                  on_ready=on_ready)
        oracle = oracles[0].finish()
    finally:
        for o in oracles:
            o.kill()
    h.check_output(r, RATE)
    samples = r.samples(os.path.basename(binary))
    if h.count(samples) < 200:
        h.fail("%s: only %d BPF samples" % (label, h.count(samples)))

    judge(label, oracle, samples)


def test(smolder, oracle_bin, *workloads):
    by_name = {os.path.basename(w): w for w in workloads}
    tmpdir = tempfile.mkdtemp(prefix="smolder-oracle-")
    try:
        for name, mode in CASES:
            if name not in by_name:
                h.fail("workload %s not among the arguments %s" % (name, sorted(by_name)))
            check_case(smolder, oracle_bin, by_name[name], mode, tmpdir)
    finally:
        if not os.environ.get("SMOLDER_IT_KEEP"):
            for f in os.listdir(tmpdir):
                os.unlink(os.path.join(tmpdir, f))
            os.rmdir(tmpdir)
        else:
            h.log("oracle output kept in %s" % tmpdir)


if __name__ == "__main__":
    import sys
    if len(sys.argv) < 4:
        sys.exit("usage: test_unwind_oracle.py SMOLDER ORACLE WORKLOAD...")
    h.run_test(test, sys.argv[1:])
