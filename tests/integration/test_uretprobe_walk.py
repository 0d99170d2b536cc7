"""Integration: a user stack walked through a function with a uretprobe
pending reaches its caller (issue 17, item 6).

    test_uretprobe_walk.py SMOLDER FP_WORKLOAD NOFP_WORKLOAD

The workload (uretprobe_walk.c) spends its time in inner() under outer()
under main. The test puts a uretprobe on outer for the workload's pid only:
a perf event of the kernel's uprobe PMU opened with that pid (what bpftrace
0.17 cannot do: its -p is for USDT, and its uretprobes hit every process
that maps the file). While outer runs, its return address on the stack is
the uprobes trampoline's (the start of the [uprobes] vma, mapped at the
first hit, which the test waits for before the agent starts); the real one
is in the task's return instances, where the BPF walk must find it. The
agent profiles the pid for one interval, three times:
  - FP_WORKLOAD (frame pointers) with the CFI walk (smolder_cfi),
  - NOFP_WORKLOAD (-fomit-frame-pointer) with the CFI walk,
  - FP_WORKLOAD with the frame-pointer walk (--test-pretend-missing
    bpf_loop: smolder_fp).
Checked in each, on profiles decoded by `go tool pprof -raw`:
  - the agent loaded the program named above;
  - the uretprobe was hit at least once per call of outer the workload made;
  - >= 95% of the workload's samples have a stack reaching main through
    outer (main the frame right after outer);
  - no stack has a return address in the [uprobes] vma, and none has
    anything but main after outer (an unnamed frame, an [unwind error]),
    but for samples taken in the uprobes machinery itself, a few in a
    thousand: in the kernel's handling of the breakpoint at outer's entry
    (asm_exc_int3, uprobe_notify_resume: user registers the kernel is
    changing, the breakpoint's instruction emulated or not yet) or of the
    return (a leaf inside the trampoline: 6.11's makes the uretprobe
    system call from its 14th byte, its pushes done). They still count
    against the 95%.
Without the translation the stacks read inner, outer, 0x7fffffffe000 and
then __libc_start_call_main (frame pointers) or an [unwind error] (CFI).
"""

import ctypes
import os
import re
import subprocess
import time

import elf_tools
import smolder_harness as h

RATE = 97
SECONDS = 6
INTERVAL = "60s"  # one interval: the partial one, flushed on SIGINT
SHARE = 0.95
MIN_SAMPLES = 100  # one busy CPU for 6 s at 97 Hz: ~580 (240 on a busy machine)
ATTACH_TIMEOUT_S = 20

PMU = "/sys/bus/event_source/devices/uprobe"
NR_PERF_EVENT_OPEN = 298  # x86_64
PERF_FLAG_FD_CLOEXEC = 8
PERF_ATTR_SIZE_VER5 = 112


def symbol_file_offset(path, name):
    """The file offset of function name in ELF file path (`nm`, and the
    PT_LOAD segment holding it), as the uprobe PMU wants it."""
    try:
        out = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True,
                             timeout=60).stdout
    except FileNotFoundError:
        h.fail("nm not found (binutils)")
    m = re.search(r"^([0-9a-f]+) [Tt] %s$" % re.escape(name), out, re.M)
    if not m:
        h.fail("%s: no symbol %s" % (path, name))
    vaddr = int(m.group(1), 16)
    for off, seg_vaddr, size in elf_tools.load_segments(path):
        if seg_vaddr <= vaddr < seg_vaddr + size:
            return vaddr - seg_vaddr + off
    h.fail("%s: %s at %#x is in no PT_LOAD segment" % (path, name, vaddr))


class Uretprobe:
    """A uretprobe on one function of one process: a counting perf event of
    the uprobe PMU (struct perf_event_attr: config1 the path, config2 the
    offset, the retprobe bit of config as the PMU's format says), opened
    for that pid alone. No BPF: the kernel hijacks the return address all
    the same. count() is its hits; close() detaches it."""

    def __init__(self, path, func, pid):
        try:
            pmu_type = int(open(os.path.join(PMU, "type")).read())
            fmt = open(os.path.join(PMU, "format", "retprobe")).read().strip()
        except OSError as e:
            h.fail("no uprobe PMU (%s): the kernel must have CONFIG_UPROBE_EVENTS" % e)
        m = re.fullmatch(r"config:(\d+)", fmt)
        if not m:
            h.fail("unexpected uprobe PMU retprobe format %r" % fmt)
        attr = (ctypes.c_uint8 * PERF_ATTR_SIZE_VER5)()
        self._path = ctypes.create_string_buffer(path.encode())
        offset = symbol_file_offset(path, func)
        ctypes.memmove(ctypes.addressof(attr), ctypes.byref(ctypes.c_uint32(pmu_type)), 4)
        ctypes.memmove(ctypes.addressof(attr) + 4, ctypes.byref(ctypes.c_uint32(len(attr))), 4)
        ctypes.memmove(ctypes.addressof(attr) + 8,
                       ctypes.byref(ctypes.c_uint64(1 << int(m.group(1)))), 8)
        ctypes.memmove(ctypes.addressof(attr) + 56,
                       ctypes.byref(ctypes.c_uint64(ctypes.addressof(self._path))), 8)
        ctypes.memmove(ctypes.addressof(attr) + 64, ctypes.byref(ctypes.c_uint64(offset)), 8)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        fd = libc.syscall(ctypes.c_long(NR_PERF_EVENT_OPEN), attr, ctypes.c_int(pid),
                          ctypes.c_int(-1), ctypes.c_int(-1),
                          ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC))
        if fd < 0:
            h.fail("perf_event_open(uretprobe %s:%s+%#x, pid %d): %s"
                   % (path, func, offset, pid, os.strerror(ctypes.get_errno())))
        self.fd = fd
        h.log("uretprobe on %s (%s, file offset %#x) for pid %d: perf event fd %d"
              % (func, path, offset, pid, fd))

    def count(self):
        return int.from_bytes(os.read(self.fd, 8), "little")

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def uprobes_vma(pid):
    """(start, end) of the [uprobes] vma of pid, None while it has none."""
    for line in h.read_text("/proc/%d/maps" % pid).splitlines():
        if line.endswith("[uprobes]"):
            start, end = line.split()[0].split("-")
            return int(start, 16), int(end, 16)
    return None


# The kernel's handling of a uprobe's breakpoint or a uretprobe's return.
UPROBE_KERNEL_RE = re.compile(r"^asm_exc_int3$|uprobe", re.I)


def in_uprobe_handling(kernel, user, vma):
    return (any(f.name and UPROBE_KERNEL_RE.search(f.name) for f in kernel)
            or (user and vma[0] <= user[0].address < vma[1]))


def check_run(label, r, service, vma, hits):
    samples = r.samples(service)
    total = h.count(samples)
    through = handling = 0
    wrong_caller, in_tramp = [], []
    for s in samples:
        kernel, user = s.leaf_kernel_split()
        names = [f.name for f in user]
        i = names.index("outer") if "outer" in names else None
        if i is not None and i + 1 < len(names) and names[i + 1] == "main":
            through += s.count
        if in_uprobe_handling(kernel, user, vma):
            handling += s.count
            continue
        if any(vma[0] <= f.address < vma[1] for f in user):
            in_tramp.append(s)
        if i is not None and (i + 1 == len(names) or names[i + 1] != "main"):
            wrong_caller.append(s)
    calls = r.done["outer_calls"]
    h.log("%s: %d samples, %d (%.1f%%) reach main through outer, %d with a return address "
          "in [uprobes] %#x-%#x, %d with another caller of outer, %d taken in the uprobes "
          "machinery; %d uretprobe hits for %d calls of outer"
          % (label, total, through, 100.0 * through / total if total else 0, h.count(in_tramp),
             vma[0], vma[1], h.count(wrong_caller), handling, hits, calls))
    failures = []
    if total < MIN_SAMPLES:
        failures.append("only %d samples of %s (services: %s)" % (total, service, h.services(r)))
    if hits < calls:
        failures.append("the uretprobe was hit %d times, but outer was called %d times: it "
                        "was not pending all along" % (hits, calls))
    if in_tramp:
        failures.append("%d samples have a return address in the [uprobes] vma: %s"
                        % (h.count(in_tramp), h.top_stacks(in_tramp)))
    if wrong_caller:
        failures.append("%d samples have something else than main after outer: %s"
                        % (h.count(wrong_caller), h.top_stacks(wrong_caller)))
    if total and through < SHARE * total:
        failures.append("only %d of %d samples reach main through outer: %s"
                        % (through, total, h.top_stacks(samples)))
    if failures:
        h.fail("%s:\n  %s" % (label, "\n  ".join(failures)))


def profile(smolder, workload, label, program, agent_args=()):
    service = os.path.basename(workload)
    state = {}

    def on_ready(ready):
        pid = ready["pids"][0]
        state["probe"] = Uretprobe(workload, "outer", pid)
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while uprobes_vma(pid) is None:
            if time.monotonic() > deadline:
                h.fail("no [uprobes] vma in /proc/%d/maps %d s after the uretprobe was "
                       "attached: outer's entry was never hit" % (pid, ATTACH_TIMEOUT_S))
            time.sleep(0.05)
        state["vma"] = uprobes_vma(pid)
        h.log("%s: [uprobes] at %#x-%#x after %d hits" % (label, state["vma"][0],
                                                           state["vma"][1],
                                                           state["probe"].count()))

    def on_sampling(agent_pid):
        programs = h.bpf_programs(agent_pid)
        h.log("%s: BPF programs of the agent: %s" % (label, programs))
        if program not in programs:
            h.fail("%s: the agent did not load %s (it has %s)" % (label, program, programs))

    try:
        r = h.run(smolder, [workload, str(SECONDS)], agent_args=agent_args, sample_rate=RATE,
                  upload_interval=INTERVAL, on_ready=on_ready, on_sampling=on_sampling)
        hits = state["probe"].count()
    finally:
        if "probe" in state:
            state["probe"].close()
    h.check_output(r, RATE, label)
    check_run(label, r, service, state["vma"], hits)


def test(smolder, fp_workload, nofp_workload):
    profile(smolder, fp_workload, "frame pointers, CFI walk", "smolder_cfi")
    profile(smolder, nofp_workload, "no frame pointers, CFI walk", "smolder_cfi")
    profile(smolder, fp_workload, "frame pointers, frame-pointer walk", "smolder_fp",
            ["--test-pretend-missing", "bpf_loop"])


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 4:
        sys.exit("usage: %s SMOLDER FP_WORKLOAD NOFP_WORKLOAD" % sys.argv[0])
    h.run_test(test, sys.argv[1:4])
