"""Integration: memory profiles (issue 17) agree with what the program
counted of its own allocations, and only the targets are ever probed.

    test_memory.py SMOLDER MEMORY_WORKLOAD MEMORY_WORKLOAD_JEMALLOC

memory_workload (see its header) allocates, for MIX_S seconds at MIB_PER_S,
from grow_realloc (realloc growth, freed), zeroed_calloc (calloc, freed) and
leak_malloc (malloc, never freed) in 50/30/20 shares of the bytes, counting
each one's calls and bytes itself; the glibc build then spends HEAVY_S in
calloc_hot, nearly all of it inside calloc clearing 16 MiB blocks.
memory_workload_jemalloc is the same source linked against jemalloc.

One agent run, --pid of both builds (G: glibc, J: jemalloc) with
--profile-types cpu,memory --memory-sample-bytes SAMPLE_BYTES in INTERVAL
intervals; beside them a copy of the workload that is no target (the
bystander, started before the agent, mallocing every millisecond all run
long). The probes are seen in the processes' own memory: the byte at the
entry of malloc, calloc, realloc and free (libc's in G and the bystander,
libjemalloc's in J; the address from /proc/PID/maps, `nm -D` and the
PT_LOAD headers, the original bytes from the file) read in /proc/PID/mem,
0xcc (int3) where a uprobe is: the first ENTRY_BYTES of each, as a probe
may sit a few bytes in. The workloads start once G's and J's four
entries show 0xcc, so every allocation they count is probed. Once both are
done and idle, the test waits for an interval to end (the "alive view"),
lets them exit, and forks a process (another copy of the workload, idle
but mallocing) under G's pid, as test_pid_reuse does (ns_last_pid).
Checked, every profile decoded by `go tool pprof -raw -symbolize=none`:
  - the output keeps the contract (the CPU profiles' books; memory
    profiles <start>-<end>.memory.pb.gz of sample types alloc_objects/count,
    alloc_space/bytes, inuse_objects/count, inuse_space/bytes, period type
    space/bytes, period SAMPLE_BYTES);
  - the bystander's four entries keep their original bytes at every read,
    from before the agent starts to after it stops, while G's and J's
    showed 0xcc (the check can fail); it has no profile at all;
  - the process that took G's pid keeps its original bytes for REUSE_WATCH_S
    and has no memory profile;
  - for G and for J, summed over the run, each function's share of the
    three's alloc_space (a sample counts for the first of the three on its
    stack) within SHARE_PP points of its share of the bytes the program
    counted, and its alloc_objects within OBJECTS_TOL of its calls; each
    figure from >= MIN_SAMPLES samples expected (the workload computes
    sum(1 - exp(-size / SAMPLE_BYTES)); else the test is sized wrong);
  - in the alive view (everything the workload allocated is behind it, its
    leak still held), inuse_space of leak_malloc within INUSE_TOL of all it
    leaked, and of the others at most NEAR_ZERO of what they allocated;
  - at least STACK_MIN of each function's alloc_space has a stack that
    starts at the function (no allocator frame above it) and reaches main;
  - G's CPU samples taken in libc (the first user frame in libc.so: calloc
    and the memset it tail-calls, returning to the [uprobes] trampoline
    while calloc's uretprobe is pending) are at least half of what
    calloc_hot's CPU time predicts, and at least STACK_MIN of them reach
    main, with no [uprobes] frame on the way;
  - no target's probes were detached (the workloads stay under the default
    --memory-max-hits; a detached target's figures would be estimates).

Why each function's sizes stay within a factor of two (8..12 KiB, 24..36
KiB, 30..54 KiB): the agent scales a stack's count and bytes of an interval
by one factor from their mean size, as Go's pprof does (1 / (1 -
exp(-mean / rate))); that is unbiased for the bytes, but sizes spread under
one stack bias the object count (1..64 KiB under one stack at a 32 KiB
rate: -19%; these ranges: 1 to 2%, seen as ratios of 0.96..1.01 in runs).
"""

import collections
import fcntl
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import elf_tools
import smolder_harness as h

RATE = 97
INTERVAL = "4s"
INTERVAL_S = 4
SAMPLE_BYTES = 32768
MIX_S = 8
HEAVY_S = 4
MIB_PER_S = 64
FUNCS = ("grow_realloc", "zeroed_calloc", "leak_malloc")
HOT = "calloc_hot"
LEAK = "leak_malloc"
SHARE_PP = 5.0
OBJECTS_TOL = 0.10
INUSE_TOL = 0.20
NEAR_ZERO = 0.01
MIN_SAMPLES = 100
STACK_MIN = 0.95
PROBE_WAIT_S = 15
REUSE_WATCH_S = 3.0
WATCH_PERIOD_S = 0.05
ENTRIES = ("malloc", "calloc", "realloc", "free")
INT3 = 0xCC
ENTRY_BYTES = 16
NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"
MAX_TRIES = 200


# ---------------------------------------------------------------------------
# Where the allocator's entries are, and what is there.

def mapped_library(pid, prefix):
    """The path of the first file mapped by pid whose base name starts with
    prefix ("libc.so", "libjemalloc.so"), or None."""
    for line in h.read_text("/proc/%d/maps" % pid).splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and os.path.basename(parts[5]).startswith(prefix):
            return parts[5]
    return None


def dynamic_symbols(path):
    """{name: value} of the defined dynamic symbols of path (`nm -D`), the
    default version's value for a versioned name."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True)
    if out.returncode != 0:
        h.fail("nm -D %s: %s" % (path, out.stderr.strip()))
    syms = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        name, _, version = parts[2].partition("@")
        if name not in syms or version.startswith("@"):
            syms[name] = int(parts[0], 16)
    return syms


class Entries:
    """The entries (ENTRIES) of an allocator library in one process: their
    runtime addresses and their first ENTRY_BYTES bytes as in the file. A
    probe may sit a few bytes past an entry (the agent probes glibc's free
    past its leading `test %rdi,%rdi; je`, which the kernel would
    single-step), so all of those bytes are compared."""

    def __init__(self, pid, prefix, label):
        self.pid, self.label = pid, label
        self.path = mapped_library(pid, prefix)
        if self.path is None:
            h.fail("%s (pid %d) maps no %s*: %s" % (label, pid, prefix,
                                                     sorted({l.split()[-1] for l in h.read_text(
                                                         "/proc/%d/maps" % pid).splitlines()
                                                             if "/" in l})))
        syms = dynamic_symbols(self.path)
        segments = elf_tools.load_segments(self.path)
        maps = []
        for line in h.read_text("/proc/%d/maps" % pid).splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5] == self.path:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append((lo, hi, int(parts[2], 16)))
        self.addr, self.orig = {}, {}
        with open(self.path, "rb") as f:
            for name in ENTRIES:
                if name not in syms:
                    h.fail("%s: no dynamic symbol %s" % (self.path, name))
                v = syms[name]
                off = next((v - sv + so for so, sv, sz in segments if sv <= v < sv + sz), None)
                if off is None:
                    h.fail("%s: %s at %#x is in no PT_LOAD segment" % (self.path, name, v))
                addr = next((lo + off - mo for lo, hi, mo in maps if mo <= off < mo + hi - lo),
                            None)
                if addr is None:
                    h.fail("%s (pid %d): file offset %#x of %s is not mapped: %s"
                           % (label, pid, off, name, maps))
                f.seek(off)
                self.addr[name], self.orig[name] = addr, f.read(ENTRY_BYTES)
                if len(self.orig[name]) != ENTRY_BYTES:
                    h.fail("%s: %s at file offset %#x is cut short" % (self.path, name, off))

    def read(self):
        """{name: the ENTRY_BYTES bytes now at its entry}; None if the
        process is gone."""
        try:
            with open("/proc/%d/mem" % self.pid, "rb", buffering=0) as f:
                out = {}
                for name in ENTRIES:
                    f.seek(self.addr[name])
                    out[name] = f.read(ENTRY_BYTES)
                    if len(out[name]) != ENTRY_BYTES:
                        return None
                return out
        except OSError:
            return None

    def _int3(self, got, name):
        """The offset of the first 0xcc where the file has another byte, or None."""
        return next((k for k in range(ENTRY_BYTES)
                     if got[name][k] == INT3 and self.orig[name][k] != INT3), None)

    def describe(self, got):
        def one(n):
            if got is None:
                return "gone"
            if got[n] == self.orig[n]:
                return "original (%s)" % self.orig[n][:4].hex()
            k = next(k for k in range(ENTRY_BYTES) if got[n][k] != self.orig[n][k])
            return "+%d: %#04x, original %#04x%s" % (k, got[n][k], self.orig[n][k],
                                                     " (int3)" if got[n][k] == INT3 else "")
        return ", ".join("%s %#x %s" % (n, self.addr[n], one(n)) for n in ENTRIES)

    def original(self, got):
        return got is not None and all(got[n] == self.orig[n] for n in ENTRIES)

    def probed(self, got):
        return got is not None and all(self._int3(got, n) is not None for n in ENTRIES)


class Watch(threading.Thread):
    """Reads some processes' entries every WATCH_PERIOD_S until stopped;
    keeps, per label, how many reads, and the reads that were not the
    original bytes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.entries = {}
        self.reads = collections.Counter()
        self.changed = collections.defaultdict(list)
        self.first, self.last = {}, {}
        self.halt = threading.Event()

    def add(self, entries):
        with self.lock:
            self.entries[entries.label] = entries

    def remove(self, label):
        with self.lock:
            self.entries.pop(label, None)

    def run(self):
        while not self.halt.is_set():
            with self.lock:
                todo = list(self.entries.values())
            for e in todo:
                got = e.read()
                if got is None:
                    continue
                now = time.time()
                with self.lock:
                    self.reads[e.label] += 1
                    self.first.setdefault(e.label, now)
                    self.last[e.label] = now
                    if not e.original(got):
                        self.changed[e.label].append((now, got))
            self.halt.wait(WATCH_PERIOD_S)

    def stop(self):
        self.halt.set()
        self.join(10)


# ---------------------------------------------------------------------------
# Processes.

class Proc:
    """A workload process with its stdin and stdout lines (harness protocol)."""

    def __init__(self, label, popen=None, pid=None, stdin=None, stdout=None):
        self.label = label
        self.popen = popen
        self.pid = popen.pid if popen else pid
        self.stdin = popen.stdin if popen else stdin
        self.lines = queue.Queue()
        self.status = None
        threading.Thread(target=h._pump, args=(popen.stdout if popen else stdout, self.lines),
                         daemon=True).start()

    def event(self, name, timeout, check=None):
        return h.next_event(self.lines, name, timeout, check=check, label=self.label,
                            source=self.label)

    def send(self, text):
        self.stdin.write(text)
        self.stdin.flush()

    def finish(self, timeout=30):
        """Closes stdin and waits for the exit; fails on a status not 0."""
        try:
            self.stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while self.status is None:
            if self.popen is not None:
                try:
                    self.status = self.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    h.fail("%s (pid %d) did not exit after its stdin closed" % (self.label,
                                                                              self.pid))
            else:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = os.waitstatus_to_exitcode(st)
                elif time.monotonic() > deadline:
                    h.fail("%s (pid %d) did not exit after its stdin closed" % (self.label,
                                                                              self.pid))
                else:
                    time.sleep(0.05)
        if self.status != 0:
            h.fail("%s (pid %d) exited with status %s" % (self.label, self.pid, self.status))

    def kill(self):
        if self.status is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            if self.popen is not None:
                self.popen.wait(10)
            else:
                os.waitpid(self.pid, 0)
        except (ChildProcessError, subprocess.TimeoutExpired):
            pass
        self.status = "killed"


def start(label, cmd):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    return Proc(label, popen=p)


def start_as_pid(label, target, cmd):
    """Runs cmd as a process of pid target, as pid_reuse_launch.c does: an
    exclusive flock on ns_last_pid, target - 1 written to it, fork; a child
    that did not get target exits at once and the fork is tried again."""
    for tries in range(1, MAX_TRIES + 1):
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        fd = os.open(NS_LAST_PID, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, str(target - 1).encode())
            pid = os.fork()
            if pid == 0:
                try:
                    if os.getpid() != target:
                        os._exit(111)
                    os.dup2(in_r, 0)
                    os.dup2(out_w, 1)
                    os.setsid()
                    os.execv(cmd[0], cmd)
                finally:
                    os._exit(127)
        finally:
            os.close(fd)
        os.close(in_r)
        os.close(out_w)
        if pid == target:
            return Proc(label, pid=pid, stdin=os.fdopen(in_w, "w"),
                        stdout=os.fdopen(out_r, "r")), tries
        os.close(in_w)
        os.close(out_r)
        os.waitpid(pid, 0)
        if os.path.exists("/proc/%d" % target):
            h.fail("pid %d was taken by another process before %s could take it"
                   % (target, label))
    h.fail("no fork got pid %d in %d tries" % (target, MAX_TRIES))


# ---------------------------------------------------------------------------
# Reading the profiles.

def function_of(sample):
    """The first of the three functions (or calloc_hot) on a sample's
    stack, leaf first; None if none is."""
    return next((n for n in sample.names if n in FUNCS or n == HOT), None)


def stack_problem(sample, fn):
    """Why a memory sample's stack does not start at fn and reach main, or
    None."""
    names = sample.names
    if not names or names[0] != fn:
        return "starts at %s, not %s" % (names[0] if names else "nothing", fn)
    if "main" not in names[1:]:
        return "no main below %s" % fn
    return None


def figures(samples):
    """{function: Counter(alloc_objects, alloc_space, inuse_objects,
    inuse_space)}, and the samples of no function."""
    by_fn = collections.defaultdict(collections.Counter)
    other = []
    for s in samples:
        fn = function_of(s)
        if fn is None:
            other.append(s)
            continue
        for t in ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space"):
            by_fn[fn][t] += s.value(t)
    return by_fn, other


def check_target(r, service, done, alive_iv, label):
    """The memory profile checks of one target; returns the failures."""
    failures = []
    memory = sorted((p for p in r.profiles_of_type("memory") if p.service == service),
                    key=lambda p: p.start)
    h.log("\n[%s] %d memory profiles of %s: %s" % (label, len(memory), service,
                                                    [os.path.basename(p.path) for p in memory]))
    if not memory:
        return ["no memory profile of %s" % service]
    samples = [s for p in memory for s in p.samples]
    by_fn, other = figures(samples)
    own = done["functions"]

    # Sizing: enough samples for every figure asserted.
    for fn in FUNCS:
        if own[fn]["expected_samples"] < MIN_SAMPLES:
            failures.append("the test is sized wrong: %s is expected to draw %.0f samples at "
                            "%d bytes, want >= %d" % (fn, own[fn]["expected_samples"],
                                                     SAMPLE_BYTES, MIN_SAMPLES))

    # alloc_space shares and alloc_objects.
    own_total = sum(own[fn]["bytes"] for fn in FUNCS)
    got_total = sum(by_fn[fn]["alloc_space"] for fn in FUNCS)
    h.log("[%s] %-14s %7s %11s %11s %7s %7s %7s %9s %9s %7s"
          % (label, "function", "samples", "own bytes", "profile", "own%", "prof%", "diff",
             "own calls", "objects", "ratio"))
    for fn in FUNCS:
        want = 100.0 * own[fn]["bytes"] / own_total if own_total else 0.0
        got = 100.0 * by_fn[fn]["alloc_space"] / got_total if got_total else 0.0
        ratio = by_fn[fn]["alloc_objects"] / own[fn]["calls"] if own[fn]["calls"] else 0.0
        h.log("[%s] %-14s %7.0f %11d %11d %6.2f%% %6.2f%% %+6.2fpp %9d %9d %7.3f"
              % (label, fn, own[fn]["expected_samples"], own[fn]["bytes"],
                 by_fn[fn]["alloc_space"], want, got, got - want, own[fn]["calls"],
                 by_fn[fn]["alloc_objects"], ratio))
        if abs(got - want) > SHARE_PP:
            failures.append("%s: %.2f%% of the three functions' alloc_space, %.2f%% of the bytes "
                            "the program counted (more than %.0f points apart)"
                            % (fn, got, want, SHARE_PP))
        if abs(ratio - 1) > OBJECTS_TOL:
            failures.append("%s: alloc_objects %d, the program made %d calls (ratio %.3f, want "
                            "1 +- %.2f)" % (fn, by_fn[fn]["alloc_objects"], own[fn]["calls"],
                                            ratio, OBJECTS_TOL))
    h.log("[%s] alloc_space of the three: %.1f MiB in the profiles, %.1f MiB counted (ratio %.3f)"
          % (label, got_total / 2**20, own_total / 2**20,
             got_total / own_total if own_total else 0))
    if HOT in by_fn or done["calloc_hot"]["calls"]:
        h.log("[%s] %s: %d objects, %.1f GiB in the profiles; %d calls, %.1f GiB counted"
              % (label, HOT, by_fn[HOT]["alloc_objects"], by_fn[HOT]["alloc_space"] / 2**30,
                 done["calloc_hot"]["calls"], done["calloc_hot"]["bytes"] / 2**30))
    if other:
        h.log("[%s] samples under none of the functions (%d B alloc_space in all): %s"
              % (label, sum(s.value("alloc_space") for s in other),
                 h.top_stacks(other, 5)))

    # Stacks: they start at the function and reach main.
    problems = collections.Counter()
    examples = {}
    space = collections.Counter()
    for s in samples:
        fn = function_of(s)
        if fn is None:
            continue
        space[fn] += s.value("alloc_space")
        why = stack_problem(s, fn)
        if why:
            problems[(fn, why)] += s.value("alloc_space")
            examples.setdefault((fn, why), s)
    for (fn, why), b in problems.most_common():
        h.log("[%s]   %s: %d B (%.2f%%) %s, e.g. %s"
              % (label, fn, b, 100.0 * b / space[fn], why, ";".join(examples[(fn, why)].names)))
    for fn in FUNCS + ((HOT,) if space[HOT] else ()):
        bad = sum(b for (f, _), b in problems.items() if f == fn)
        if space[fn] and bad > (1 - STACK_MIN) * space[fn]:
            failures.append("%s: only %.2f%% of its alloc_space has a stack starting at it and "
                            "reaching main (want >= %.0f%%)"
                            % (fn, 100.0 * (space[fn] - bad) / space[fn], 100 * STACK_MIN))

    # inuse, interval by interval; asserted in the alive view.
    leaked = done["leaked_bytes"]
    t0, t1 = done["start_real_ns"] / 1e9, done["mix_end_real_ns"] / 1e9
    for p in memory:
        f, _ = figures(p.samples)
        by_now = leaked * min(1.0, max(0.0, (p.end - t0) / (t1 - t0)))
        h.log("[%s] %s%s inuse_space: %s %.1f MiB (about %.1f MiB leaked by its end), %s"
              % (label, p.interval, " (alive view)" if p.interval == alive_iv else "",
                 LEAK, f[LEAK]["inuse_space"] / 2**20, by_now / 2**20,
                 ", ".join("%s %d B" % (fn, f[fn]["inuse_space"])
                           for fn in FUNCS + (HOT,) if fn != LEAK)))
    view = [p for p in memory if p.interval == alive_iv]
    if not view:
        failures.append("no memory profile of %s for interval %s, which ended while it was "
                        "alive with %d bytes leaked" % (service, alive_iv, leaked))
        return failures
    f, _ = figures(view[0].samples)
    ratio = f[LEAK]["inuse_space"] / leaked if leaked else 0.0
    h.log("[%s] alive view %s: %s holds %d B in inuse_space, it leaked %d B in %d calls "
          "(ratio %.3f, want 1 +- %.2f); inuse_objects %d"
          % (label, alive_iv, LEAK, f[LEAK]["inuse_space"], leaked, done["leaked_calls"],
             ratio, INUSE_TOL, f[LEAK]["inuse_objects"]))
    if abs(ratio - 1) > INUSE_TOL:
        failures.append("%s: inuse_space %d B at the end of %s, it had leaked %d B (ratio %.3f)"
                        % (LEAK, f[LEAK]["inuse_space"], alive_iv, leaked, ratio))
    for fn in FUNCS + (HOT,):
        if fn == LEAK:
            continue
        allocated = own[fn]["bytes"] if fn in own else done["calloc_hot"]["bytes"]
        if f[fn]["inuse_space"] > NEAR_ZERO * allocated:
            failures.append("%s: inuse_space %d B at the end of %s, though it freed all it "
                            "allocated (%d B; want at most %.0f%% of that)"
                            % (fn, f[fn]["inuse_space"], alive_iv, allocated, 100 * NEAR_ZERO))
    return failures


def check_cpu_in_allocator(r, service, done):
    """G's CPU samples taken inside libc reach main; returns the failures."""
    failures = []
    samples = r.samples(service)
    inside, problems, examples, uprobes = 0, collections.Counter(), {}, 0
    for s in samples:
        _, user = s.leaf_kernel_split()
        if not user or user[0].mapping is None or \
                not os.path.basename(user[0].mapping.file).startswith("libc.so"):
            continue
        inside += s.count
        files = [os.path.basename(f.mapping.file) if f.mapping else "" for f in user]
        if "[uprobes]" in files:
            uprobes += s.count
        names = [f.name or "??" for f in user]
        k = 0
        while k < len(user) and files[k].startswith("libc.so"):
            k += 1
        if "[uprobes]" in files:
            why = "a [uprobes] frame (the return trampoline, not translated)"
        elif k == len(user):
            why = "no frame below libc's"
        elif "main" not in names[k:]:
            why = "no main below libc's frames"
        else:
            continue
        problems[why] += s.count
        examples.setdefault(why, s)
    predicted = h.expected_samples(done["calloc_hot"]["cpu_ns"], RATE)
    bad = sum(problems.values())
    h.log("\n[cpu] %s: %d CPU samples, %d with their first user frame in libc (%s's CPU time "
          "predicts %.0f); %d of those reach main without a [uprobes] frame, %d have one"
          % (service, h.count(samples), inside, HOT, predicted, inside - bad,
                               uprobes))
    for why, n in problems.most_common():
        h.log("[cpu]   %d: %s, e.g. %s" % (n, why, ";".join(_frame(f) for f in
                                                           examples[why].frames[:12])))
    h.log("[cpu] heaviest stacks in libc: %s" % h.top_stacks(
        [s for s in samples if s.user_frames and s.user_frames[0].mapping is not None and
         os.path.basename(s.user_frames[0].mapping.file).startswith("libc.so")], 3))
    if inside < 0.5 * predicted:
        failures.append("%s: only %d CPU samples inside libc, %s's %.2f s of CPU inside calloc "
                        "predicts %.0f" % (service, inside, HOT,
                                           done["calloc_hot"]["cpu_ns"] / 1e9, predicted))
    if inside and bad > (1 - STACK_MIN) * inside:
        failures.append("%s: only %d of %d CPU samples taken inside libc (the allocator) reach "
                        "main (want >= %.0f%%)"
                        % (service, inside - bad, inside, 100 * STACK_MIN))
    return failures


def _frame(f):
    if f.name:
        return f.name
    return "??(%#x in %s)" % (f.address, os.path.basename(f.mapping.file) if f.mapping else "-")


# ---------------------------------------------------------------------------

def wait_interval_after(r, agent, t, timeout):
    """Waits for the agent's counters line of an interval that surely ended
    after wall time t (its name's end, rounded up, less a second, at or
    after t); returns its "START-END"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            h.fail("the agent exited (status %s); its log:\n%s"
                   % (agent.returncode, "\n".join(r.agent_log)))
        for line in list(r.agent_log):
            if " counters " in line:
                iv = h.parse_counters(line).get("interval", "")
                m = re.fullmatch(r"(\d+)-(\d+)", iv)
                if m and int(m.group(2)) - 1 >= t:
                    return iv
        time.sleep(0.1)
    h.fail("no interval ended after %.1f within %d s" % (t, timeout))


def start_agent(r):
    """Starts r.agent_cmd, its log into r.agent_log, and waits for it to
    sample. Returns (the agent, its log pump)."""
    h.log("agent: " + " ".join(r.agent_cmd))
    agent = subprocess.Popen(r.agent_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    started = threading.Event()
    pump = threading.Thread(target=h._pump, args=(agent.stdout, r.agent_log, "[smolder] ",
                                                  lambda l: "sampling started" in l and
                                                  started.set()), daemon=True)
    pump.start()
    h.wait_sampling_started(agent, started, pump, lambda: "\n".join(r.agent_log))
    return agent, pump


def wait_probed(entries, agent, r):
    """Waits until every entry of each Entries shows 0xcc."""
    deadline = time.monotonic() + PROBE_WAIT_S
    while True:
        got = [e.read() for e in entries]
        if all(e.probed(g) for e, g in zip(entries, got)):
            for e, g in zip(entries, got):
                h.log("%s (pid %d): %s" % (e.label, e.pid, e.describe(g)))
            return
        if agent.poll() is not None:
            h.fail("the agent exited (status %s); its log:\n%s"
                   % (agent.returncode, "\n".join(r.agent_log)))
        if time.monotonic() > deadline:
            h.fail("the targets' allocator entries show no uprobe (0xcc) %d s after `sampling "
                   "started`:\n  %s" % (PROBE_WAIT_S, "\n  ".join(
                       "%s (pid %d, %s): %s" % (e.label, e.pid, e.path, e.describe(g))
                       for e, g in zip(entries, got))))
        time.sleep(0.05)


def test(smolder, glibc_workload, jemalloc_workload, agent_args=(),
         programs="smolder_mem_in, smolder_mem_ret"):
    """agent_args: more flags (test_kernel_fallbacks forces a fallback);
    programs: the memory programs the agent must say it loaded."""
    if not os.access(jemalloc_workload, os.X_OK):
        h.fail("no jemalloc build of the workload (%s): meson found no jemalloc "
               "(libjemalloc-dev, deploy/install-deps.sh)" % jemalloc_workload)
    services = {"G": os.path.basename(glibc_workload), "J": os.path.basename(jemalloc_workload)}
    tmp = tempfile.mkdtemp(prefix="smolder-memory-")
    # Copies under names of their own: their profiles, if any, are told apart.
    bystander_exe = os.path.join(tmp, "memory_bystander")
    reuse_exe = os.path.join(tmp, "memory_pid_taker")
    for exe in (bystander_exe, reuse_exe):
        shutil.copy2(glibc_workload, exe)
    r = h.Run()
    r.outdir = os.path.join(tmp, "out")
    timeline = []  # (wall time, what happened), for the messages

    def mark(what):
        timeline.append((time.time(), what))

    procs = []
    agent = None
    watch = Watch()
    ok = False
    try:
        bystander = start("bystander", [bystander_exe, "bystand"])
        procs.append(bystander)
        bystander.event("ready", h.START_TIMEOUT_S)
        by_entries = Entries(bystander.pid, "libc.so", "bystander")
        watch.add(by_entries)
        watch.start()

        g = start("G", [glibc_workload, "measure", str(MIX_S), str(HEAVY_S), str(SAMPLE_BYTES),
                        str(MIB_PER_S)])
        j = start("J", [jemalloc_workload, "measure", str(MIX_S), "0", str(SAMPLE_BYTES),
                        str(MIB_PER_S)])
        procs += [g, j]
        for p in (g, j):
            h.log("%s: ready %s" % (p.label, json.dumps(p.event("ready", h.START_TIMEOUT_S))))
        g_entries = Entries(g.pid, "libc.so", "G (glibc)")
        j_entries = Entries(j.pid, "libjemalloc.so", "J (jemalloc)")
        for e in (by_entries, g_entries, j_entries):
            got = e.read()
            h.log("%s (pid %d, %s) before the agent: %s" % (e.label, e.pid, e.path,
                                                            e.describe(got)))
            if not e.original(got):
                h.fail("%s's allocator entries are not their original bytes before the agent "
                       "runs: %s" % (e.label, e.describe(got)))

        r.agent_cmd = h.agent_command(smolder, r.outdir, INTERVAL, RATE) + [
            "--pid", str(g.pid), "--pid", str(j.pid), "--profile-types", "cpu,memory",
            "--memory-sample-bytes", str(SAMPLE_BYTES)] + list(agent_args)
        agent, pump = start_agent(r)

        def agent_log():
            return "\n".join(r.agent_log)

        def check_agent():
            if agent.poll() is not None:
                h.fail("the agent exited (status %s) while the workloads ran; its log:\n%s"
                       % (agent.returncode, agent_log()))

        t_agent = time.time()
        mark("agent sampling")
        loaded = [l.split("memory programs: ", 1)[1].strip() for l in r.agent_log
                  if "memory programs: " in l]
        if loaded != [programs]:
            h.fail("the memory programs loaded are not %s: %s" % (programs, loaded))
        wait_probed([g_entries, j_entries], agent, r)
        mark("G's and J's entries probed")

        for p in (g, j):
            p.send("go\n")
        done = {}
        for key, p in (("G", g), ("J", j)):
            done[key] = p.event("done", MIX_S + HEAVY_S + 60, check=check_agent)
            mark("%s done" % key)
            h.log("%s: done %s" % (p.label, json.dumps(done[key])))
        last = max(d["end_real_ns"] for d in done.values()) / 1e9
        alive_iv = wait_interval_after(r, agent, last, 3 * INTERVAL_S + 10)
        h.log("the alive view: interval %s, which ended after both workloads were done" % alive_iv)
        g_pid = g.pid
        mark("interval %s written" % alive_iv)
        for p in (g, j):
            p.finish()
            mark("%s (pid %d) exited" % (p.label, p.pid))

        # A new process under G's pid.
        while os.path.exists("/proc/%d" % g_pid):
            time.sleep(0.01)
        taker, tries = start_as_pid("pid taker", g_pid, [reuse_exe, "bystand"])
        procs.append(taker)
        taker.event("ready", h.START_TIMEOUT_S)
        taker_entries = Entries(taker.pid, "libc.so", "pid taker")
        h.log("pid taker: pid %d (G's) after %d fork(s)" % (taker.pid, tries))
        mark("pid taker (pid %d) ready" % taker.pid)
        watch.add(taker_entries)
        time.sleep(REUSE_WATCH_S)
        check_agent()
        taker.send("\n")
        taker.event("done", 10)
        watch.remove(taker_entries.label)
        taker.finish()
        mark("pid taker exited")

        r.agent_rc = h.stop_agent(agent, pump, agent_log)
        t_agent_stop = time.time()
        mark("agent stopped")
        time.sleep(2 * WATCH_PERIOD_S)
        watch.stop()
        bystander.send("\n")
        bystander.event("done", 10)
        bystander.finish()
        r.collect()
        ok = True
    finally:
        watch.halt.set()
        h._stop(agent)
        for p in procs:
            p.kill()
        if ok and not os.environ.get("SMOLDER_IT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            h.log("output kept in %s" % r.outdir)

    h.check_output(r, RATE, memory_sample_bytes=SAMPLE_BYTES)
    failures = []

    # Only the targets were probed.
    h.log("\ntimeline (s after the agent started): %s"
          % "; ".join("%+.2f %s" % (t - t_agent, w) for t, w in timeline))
    for label, e in (("bystander", by_entries), ("pid taker", taker_entries)):
        for name in ENTRIES:
            times = [t for t, got in watch.changed[label] if got[name] != e.orig[name]]
            if times:
                h.log("%s: %s not its original bytes in %d reads, from %+.2f to %+.2f s"
                      % (label, name, len(times), times[0] - t_agent, times[-1] - t_agent))
        span = watch.last.get(label, 0) - watch.first.get(label, 0)
        h.log("%s (pid %d): %d reads of its entries over %.1f s, %d not the original bytes"
              % (label, e.pid, watch.reads[label], span, len(watch.changed[label])))
        if watch.changed[label]:
            t, got = watch.changed[label][0]
            failures.append("%s (pid %d), no target, was probed: %d of %d reads of its "
                            "allocator's entries not the original bytes, the first %+.2f s after the agent "
                            "started: %s" % (label, e.pid, len(watch.changed[label]),
                                             watch.reads[label], t - t_agent, e.describe(got)))
        want = 10 if label == "pid taker" else 100
        if watch.reads[label] < want:
            failures.append("%s: only %d reads of its entries (want >= %d): the watch did not "
                            "run" % (label, watch.reads[label], want))
    if not watch.first.get("bystander", 1e300) < t_agent < t_agent_stop < \
            watch.last.get("bystander", 0):
        failures.append("the bystander's entries were read from %.1f to %.1f, not from before "
                        "the agent started (%.1f) to after it stopped (%.1f)"
                        % (watch.first.get("bystander", 0), watch.last.get("bystander", 0),
                           t_agent, t_agent_stop))
    for label, exe in (("bystander", bystander_exe), ("pid taker", reuse_exe)):
        mine = [os.path.basename(p.path) for p in r.all_profiles
                if p.service == os.path.basename(exe) and (label == "bystander" or
                                                           p.type == "memory")]
        if mine:
            failures.append("%s (%s) has profiles: %s" % (label, os.path.basename(exe), mine))

    # Probes detached: the figures would be estimates.
    detached = {k: r.total(k) for c in r.counters for k in c
                if re.match(r"(memory|malloc)_.*detach", k)}
    h.log("\nmemory counters in all: %s" % ", ".join(
        "%s=%d" % (k, r.total(k)) for k in sorted({k for c in r.counters for k in c
                                                    if re.match(r"(memory|malloc)_", k)})))
    if any(detached.values()):
        failures.append("probes detached (%s): the workloads stay below the default "
                        "--memory-max-hits" % detached)

    for key in ("G", "J"):
        failures += ["%s: %s" % (services[key], f)
                     for f in check_target(r, services[key], done[key], alive_iv, key)]
    failures += check_cpu_in_allocator(r, services["G"], done["G"])
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: %s SMOLDER MEMORY_WORKLOAD MEMORY_WORKLOAD_JEMALLOC" % sys.argv[0])
    h.run_test(test, sys.argv[1:4])
