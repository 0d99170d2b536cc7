"""Integration: every kernel-feature fallback, forced on this kernel with
--test-pretend-missing (issue 13). A forced run must load another set of BPF
programs (read from the kernel: the agent's /proc/PID/fdinfo, names from
bpftool) and its profiles must mean what the fallback says, decoded by
`go tool pprof -raw`.

    test_kernel_fallbacks.py MODE SMOLDER WORKLOAD...

MODE is one of
  bpf_loop FP_WORKLOAD NOFP_WORKLOAD: frame-pointer stacks. The program is
      smolder_fp. cpu_shares (built with frame pointers) keeps whole stacks:
      >= 95% of its samples reach main. unwind_work (-fomit-frame-pointer)
      in qsort mode loses them: under 50% of its samples reach main through
      libc's qsort (the CFI walk gets >= 99%, test_unwind), and the walk
      says so: its stacks end in an [unwind error: ...] frame.
  task_pt_regs NOFP_WORKLOAD: the user registers of samples taken in the
      kernel read from the kernel stack. The program is smolder_cfi_ks; in
      syscall mode >= 99% of the samples taken in the kernel still have
      user stacks reaching main through syscall_burst.
  tp_btf SHORTLIB CHURN_LAUNCH CHURN_NOP: exec and exit through raw
      tracepoints (smolder_exec_rt, smolder_exit_rt). test_short_lived_lib's
      checks hold: short-lived processes are discovered and named; and a
      storm of processes that exit at once (never sampled) shows as their
      exec and exit events: process_events (sent and dropped) >= 90% of
      twice the processes launched.
  fentry DLOPEN_HOST DLOPEN_MOD: no dlopen watch (smolder_mmap_exec is not
      loaded); test_dlopen's checks hold: the library is found when its
      frames are named.
  mmap2_build_id SHORTLIB: no mmap records from the kernel (perf's MMAP2
      with build-ids): the agent opens one perf event per CPU (the CPU
      clock), not two (no dummy event); test_gone_process's checks hold
      but for the names: processes gone before they were read keep their
      samples and container, and their frames are unnamed.
  ksym_bpf SYSCALL_LOOP: kernel frames named from /proc/kallsyms, not by
      the kernel through smolder_ksym_name (not loaded); test_syscall_stack's
      checks hold: __x64_sys_getrandom named under the user stack.
  hash_no_prealloc CPU_SHARES: the count and user-stack maps preallocated
      (no BPF_F_NO_PREALLOC in their flags, from bpftool), where this
      kernel's run allocates them as they fill; stacks still reach main.
  attach_cookie MEMORY_WORKLOAD MEMORY_WORKLOAD_JEMALLOC: memory profiles
      without attach cookies: an entry program per kind of allocator call
      (smolder_mi_malloc, ..., smolder_mi_free) where this kernel's runs
      have one (smolder_mem_in); test_memory's checks hold.
  refusals: no ring buffer, or neither tracepoint kind: the agent exits 1
      with one line naming the missing feature, before loading anything;
      an unknown feature name exits 2 naming the flag.
"""

import json
import os
import subprocess
import sys

import smolder_harness as h
import system_run as sr
import test_dlopen
import test_gone_process
import test_memory
import test_short_lived_lib
import test_syscall_stack

RATE = 97
ROOTS = ("main", "_start", "start_thread", "clone3", "clone")
EVENTS_BTF = ["smolder_exec", "smolder_exit"]
EVENTS_RAW = ["smolder_exec_rt", "smolder_exit_rt"]
STORM_RATE = 200  # processes a second, for STORM_S seconds
STORM_S = 3


def pretend(feature):
    return ["--test-pretend-missing", feature]


def expect_programs(pid, sampler, events, ksym=True):
    got = h.bpf_programs(pid)
    want = sorted([sampler] + events + (["smolder_ksym_name"] if ksym else []))
    # the dlopen watch is optional (refused by this kernel); anything else
    # must be exactly the fallback's set
    mine = [p for p in got if p != "smolder_mmap_exec"]
    h.log("BPF programs of the agent: %s" % got)
    if mine != want:
        h.fail("the agent loaded %s; the fallback should load %s" % (got, want))


def user_names(sample):
    return [f.name or "??" for f in sample.frames if not f.is_kernel]


def reach_share(samples):
    total = h.count(samples)
    good = sum(s.count for s in samples if any(n in ROOTS for n in user_names(s)))
    return good, total


def profile_by_pid(smolder, cmd, feature, sampler):
    r = h.run(smolder, cmd, agent_args=pretend(feature), sample_rate=RATE, upload_interval="3s",
              on_sampling=lambda pid: expect_programs(pid, sampler, EVENTS_BTF))
    h.check_output(r, RATE)
    warned = [l for l in r.agent_log if "kernel feature missing" in l and feature in l]
    if len(warned) != 1:
        h.fail("want one warning naming %s, got %d:\n%s" % (feature, len(warned),
                                                             "\n".join(warned)))
    samples = r.samples(os.path.basename(cmd[0]))
    if h.count(samples) < 100:  # ~480 on a quiet machine; shares are what is judged
        h.fail("%s: only %d samples" % (os.path.basename(cmd[0]), h.count(samples)))
    return r, samples


def test_bpf_loop(smolder, fp_workload, nofp_workload):
    _, samples = profile_by_pid(smolder, [fp_workload], "bpf_loop", "smolder_fp")
    good, total = reach_share(samples)
    h.log("frame pointers kept: %d of %d samples reach main" % (good, total))
    if good < 0.95 * total:
        h.fail("with frame pointers, only %d of %d samples reach main: %s"
               % (good, total, h.top_stacks(samples)))

    _, samples = profile_by_pid(smolder, [nofp_workload, "qsort", "5"], "bpf_loop", "smolder_fp")
    good, total = reach_share(samples)
    marked = sum(s.count for s in samples if any((n or "").startswith("[unwind")
                                                for n in user_names(s)))
    h.log("no frame pointers: %d of %d samples reach main, %d end in an unwind error"
          % (good, total, marked))
    if good >= 0.5 * total:
        h.fail("the frame-pointer walk reached main in %d of %d samples of a program "
               "without frame pointers: the CFI walk ran, not the fallback" % (good, total))
    if marked < 0.3 * total:
        h.fail("only %d of %d cut stacks say how they ended ([unwind error: ...]): %s"
               % (marked, total, h.top_stacks(samples)))


def test_task_pt_regs(smolder, nofp_workload):
    _, samples = profile_by_pid(smolder, [nofp_workload, "syscall", "5"], "task_pt_regs",
                                "smolder_cfi_ks")
    in_kernel = [s for s in samples if s.frames and s.frames[0].is_kernel]
    total = h.count(in_kernel)
    if total < 0.3 * h.count(samples):
        h.fail("only %d of %d samples in the kernel" % (total, h.count(samples)))
    good = sum(s.count for s in in_kernel
               if "syscall_burst" in user_names(s) and any(n in ROOTS for n in user_names(s)))
    h.log("samples in the kernel with user stacks to main: %d of %d" % (good, total))
    if good < 0.99 * total:
        h.fail("only %d of %d samples taken in the kernel have user stacks reaching main "
               "through syscall_burst: %s" % (good, total, h.top_stacks(in_kernel)))


def on_start_expect(sampler, events, feature, ksym=True):
    def check(agent):
        expect_programs(agent.proc.pid, sampler, events, ksym)
        warned = [l for l in agent.run.agent_log if "kernel feature missing" in l and feature in l]
        if len(warned) != 1:
            h.fail("want one warning naming %s, got %d" % (feature, len(warned)))
    return check


def test_tp_btf(smolder, shortlib, launcher, nop):
    test_short_lived_lib.test(smolder, shortlib, agent_args=pretend("tp_btf"),
                              on_start=on_start_expect("smolder_cfi", EVENTS_RAW, "tp_btf"))
    storm = sr.Workload([launcher, nop, str(STORM_RATE), str(STORM_S), "2"])
    try:
        storm.event("ready", timeout=30)
        with sr.SystemAgent(smolder, upload_interval="3s", extra_args=pretend("tp_btf")) as agent:
            agent.start()
            expect_programs(agent.proc.pid, "smolder_cfi", EVENTS_RAW)
            agent.next_interval()
            storm.send()
            launched = storm.event("done", timeout=STORM_S + 60, agent=agent)
            storm.finish()
            agent.wait_written()
            r = agent.stop()
    finally:
        storm.kill()
    events = r.total("process_events") + r.total("process_events_dropped")
    h.log("storm: %d processes; process_events + dropped = %d" % (launched["launched"], events))
    if launched["launched"] < 100:
        h.fail("the storm launched only %d processes" % launched["launched"])
    if events < 0.9 * 2 * launched["launched"]:
        h.fail("%d process events for %d processes started and exited: the raw tracepoints "
               "do not report exec and exit" % (events, launched["launched"]))


def test_fentry(smolder, host, module):
    def check(agent):
        on_start_expect("smolder_cfi", EVENTS_BTF, "fentry")(agent)
        if "smolder_mmap_exec" in h.bpf_programs(agent.proc.pid):
            h.fail("the dlopen watch was loaded although fentry was pretended missing")
    test_dlopen.test(smolder, host, module, agent_args=pretend("fentry"), on_start=check)


def perf_event_fds(pid):
    fds = "/proc/%d/fd" % pid
    n = 0
    for fd in os.listdir(fds):
        try:
            n += os.readlink(os.path.join(fds, fd)) == "anon_inode:[perf_event]"
        except OSError:
            pass
    return n


def online_cpus():
    n = 0
    for part in h.read_text("/sys/devices/system/cpu/online").strip().split(","):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def test_mmap2_build_id(smolder, shortlib):
    def check(agent):
        on_start_expect("smolder_cfi", EVENTS_BTF, "mmap2_build_id")(agent)
        n, cpus = perf_event_fds(agent.proc.pid), online_cpus()
        h.log("perf events the agent holds: %d, CPUs: %d" % (n, cpus))
        if n != cpus:
            h.fail("the agent holds %d perf events; without mmap records it should hold one "
                   "per CPU (%d): the CPU clock's" % (n, cpus))
    test_gone_process.test(smolder, shortlib, agent_args=pretend("mmap2_build_id"),
                           named_expected=False, on_start=check)


def test_ksym_bpf(smolder, syscall_loop):
    """Kernel frames named from /proc/kallsyms, read whole, as before the
    kernel could name them itself: test_syscall_stack's checks hold, and
    the agent holds no smolder_ksym_name program."""
    def check(agent_pid):
        expect_programs(agent_pid, "smolder_cfi", EVENTS_BTF, ksym=False)
    r = test_syscall_stack.test(smolder, syscall_loop, agent_args=pretend("ksym_bpf"),
                                on_sampling=check)
    warned = [l for l in r.agent_log if "kernel feature missing" in l and "ksym_bpf" in l]
    if len(warned) != 1:
        h.fail("want one warning naming ksym_bpf, got %d" % len(warned))


def map_flags(pid, prefix):
    """{name: flags} of the BPF maps process pid holds whose names start
    with prefix, from bpftool (not ours)."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        for line in (h.read_text(os.path.join(fdinfo, fd)) or "").splitlines():
            if line.startswith("map_id:"):
                ids.add(line.split()[1])
    flags = {}
    for i in ids:
        out = subprocess.run(["bpftool", "map", "show", "id", i, "-j"], capture_output=True,
                             text=True)
        if out.returncode == 0:
            m = json.loads(out.stdout)
            if m.get("name", "").startswith(prefix):
                flags["%s#%s" % (m["name"], i)] = m.get("flags", 0)
    return flags


def test_hash_no_prealloc(smolder, workload):
    """The count and user-stack maps preallocated, as a kernel before 6.1
    wants them: no BPF_F_NO_PREALLOC (1) in their flags, where this
    kernel's run has it; cpu_shares' stacks still reach main."""
    seen = {}

    def check(pretended):
        def at_sampling(agent_pid):
            flags = {**map_flags(agent_pid, "counts_"), **map_flags(agent_pid, "user_stacks_")}
            h.log("map flags (%s): %s" % ("pretended" if pretended else "this kernel", flags))
            if len(flags) != 4:
                h.fail("want 4 count and user-stack maps, found %s" % flags)
            if any(bool(f & 1) == pretended for f in flags.values()):
                h.fail("BPF_F_NO_PREALLOC %s: %s" % ("set although pretended missing"
                                                     if pretended else "not set", flags))
            seen[pretended] = True
        return at_sampling

    for pretended in (False, True):
        r = h.run(smolder, [workload, "4"], agent_args=pretend("hash_no_prealloc") if pretended
                  else (), sample_rate=RATE, upload_interval="2s", on_sampling=check(pretended))
        samples = r.samples(os.path.basename(workload))
        good, total = reach_share(samples)
        h.log("%s: %d of %d samples reach main" % ("pretended" if pretended else "this kernel",
                                                   good, total))
        if total < 100 or good < 0.95 * total:
            h.fail("only %d of %d samples reach main" % (good, total))
    if len(seen) != 2:
        h.fail("the maps were not looked at in both runs")


def test_attach_cookie(smolder, glibc_workload, jemalloc_workload):
    test_memory.test(smolder, glibc_workload, jemalloc_workload,
                     agent_args=pretend("attach_cookie"),
                     programs="smolder_mi_malloc, smolder_mi_calloc, smolder_mi_realloc, "
                              "smolder_mi_memalign, smolder_mi_posix_ma, smolder_mi_free, "
                              "smolder_mem_ret")


def refused(smolder, features, status, needle):
    p = subprocess.run([smolder, "--http-listen", "off", "--duration", "2s"] + pretend(features),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]
    h.log("--test-pretend-missing %s: status %d, %s" % (features, p.returncode, lines))
    if p.returncode != status or len(lines) != 1 or needle not in lines[0]:
        h.fail("want exit %d with one line naming %r; got %d:\n%s"
               % (status, needle, p.returncode, "\n".join(lines)))


def test_refusals(smolder):
    refused(smolder, "ringbuf", 1, "BPF ring buffer")
    refused(smolder, "tp_btf,raw_tp", 1, "raw tracepoints")
    refused(smolder, "bpf_loop,warp_drive", 2, "--test-pretend-missing: unknown kernel "
            "feature \"warp_drive\"")


MODES = {
    "bpf_loop": test_bpf_loop,
    "task_pt_regs": test_task_pt_regs,
    "tp_btf": test_tp_btf,
    "fentry": test_fentry,
    "mmap2_build_id": test_mmap2_build_id,
    "ksym_bpf": test_ksym_bpf,
    "hash_no_prealloc": test_hash_no_prealloc,
    "attach_cookie": test_attach_cookie,
    "refusals": test_refusals,
}


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in MODES:
        sys.exit("usage: %s {%s} SMOLDER [WORKLOAD]..." % (sys.argv[0], ",".join(MODES)))
    mode = MODES[sys.argv.pop(1)]
    sr.main(mode)
