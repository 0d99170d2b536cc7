"""Integration: whole user stacks for code built without frame pointers,
walked in BPF from the code's CFI (issue 6).

    test_unwind.py SMOLDER GCC_PIE GCC_NOPIE CLANG_PIE CLANG_NOPIE

Each argument after the agent is unwind_work.c built at -O2 with
-fomit-frame-pointer (by gcc or clang, PIE or not). The agent profiles one
run of each case by --pid; profiles are decoded by `go tool pprof -raw`.
Checked, on the workload's samples (kernel frames set aside):
  - chain (every build): >= 99% of the samples have stacks that reach main
    (then libc's start and _start), and those in the hot leaf hold the 20
    links chain_1 .. chain_20 in order between it and main;
  - qsort: >= 99% reach main, and the comparator's samples pass through
    libc's qsort (built without frame pointers) to run_qsort;
  - syscall: samples taken in the kernel (getppid) have user stacks that
    reach main through libc's wrapper and syscall_burst: >= 99%;
  - signal: the samples in the signal handler reach main through the
    kernel's signal frame (__restore_rt) and raise_loop: >= 99%;
  - threads: 8 threads, each chain 4 + 2k deep: >= 99% of the samples
    reach the thread's start (start_thread, clone3);
  - recurse: recursion 300 deep: the stacks end in "[truncated]" after
    exactly 127 frames, hot_leaf then 126 of recurse;
  - vdso: clock_gettime in a loop: >= 99% of the samples reach main,
    those in the vDSO through clock_loop;
  - dlopen: a library (MODULE, also without frame pointers) loaded after
    the agent started: its chain mod_hot, mod_link_1..3 then call_module
    and main, in >= 99% of the samples in it;
  - Debian's own /usr/bin/python3 running a CPU-bound script: >= 99% of
    its samples reach main;
and the agent counted the truncations (unwind_truncated).
"""

import os
import shutil
import tempfile

import smolder_harness as h

RATE = 97
SECONDS = "5"
SHARE = 0.99
ROOTS = ("main", "_start", "start_thread", "clone3", "clone")


def user_names(sample):
    return [f.name or "??" for f in sample.frames if not f.is_kernel]


def reaches_root(names):
    return any(n in ROOTS for n in names)


def profile(smolder, binary, mode, extra=()):
    r = h.run(smolder, [binary, mode, SECONDS] + list(extra), sample_rate=RATE,
              upload_interval="3s")
    h.check_output(r, RATE)
    samples = r.samples(os.path.basename(binary))
    total = h.count(samples)
    if total < 200:
        h.fail("%s %s: only %d samples" % (os.path.basename(binary), mode, total))
    return r, samples, total


def share(samples, total, ok, label):
    good = sum(s.count for s in samples if ok(s))
    bad = [s for s in samples if not ok(s)]
    h.log("%s: %d of %d samples (%.2f%%)" % (label, good, total, 100.0 * good / total))
    if good < SHARE * total:
        worst = sorted(bad, key=lambda s: -s.count)[:5]
        h.fail("%s: only %d of %d samples (%.2f%%, want >= %.0f%%); stacks that fail:\n    %s"
               % (label, good, total, 100.0 * good / total, 100 * SHARE,
                  "\n    ".join("%d %s" % (s.count, user_names(s)) for s in worst)))


def check_chain(smolder, binary):
    _, samples, total = profile(smolder, binary, "chain")
    name = os.path.basename(binary)
    share(samples, total, lambda s: reaches_root(user_names(s)), name + " chain: reach main")
    want = ["hot_leaf"] + ["chain_%d" % i for i in range(1, 21)] + ["run_chain", "main"]

    def whole_chain(s):
        names = user_names(s)
        if "hot_leaf" not in names:
            return True  # the loop in run_chain, between calls
        i = names.index("hot_leaf")
        got = [n for n in names[i:] if n != "run_chain"]
        return got[:len(want) - 1] == [n for n in want if n != "run_chain"]
    share(samples, total, whole_chain, name + " chain: hot_leaf, chain_1..chain_20, main")


def check_qsort(smolder, binary):
    _, samples, total = profile(smolder, binary, "qsort")
    share(samples, total, lambda s: reaches_root(user_names(s)), "qsort: reach main")
    in_cmp = [s for s in samples if "compare_hot" in user_names(s)]
    if h.count(in_cmp) < 0.5 * total:
        h.fail("only %d of %d samples in the comparator" % (h.count(in_cmp), total))

    def through_qsort(s):
        names = user_names(s)
        i = names.index("compare_hot")
        rest = names[i + 1:]
        return "run_qsort" in rest and any("qsort" in n or "msort" in n for n in
                                           rest[:rest.index("run_qsort")])
    share(in_cmp, h.count(in_cmp), through_qsort, "qsort: comparator under libc's qsort")


def check_syscall(smolder, binary):
    _, samples, total = profile(smolder, binary, "syscall")
    in_kernel = [s for s in samples if s.frames and s.frames[0].is_kernel]
    if h.count(in_kernel) < 0.3 * total:
        h.fail("only %d of %d samples in the kernel" % (h.count(in_kernel), total))

    def whole(s):
        names = user_names(s)
        return "syscall_burst" in names and reaches_root(names)
    share(in_kernel, h.count(in_kernel), whole, "syscall: kernel samples, user stack to main")


def check_signal(smolder, binary):
    _, samples, total = profile(smolder, binary, "signal")
    in_handler = [s for s in samples if "in_handler" in user_names(s)]
    if h.count(in_handler) < 0.5 * total:
        h.fail("only %d of %d samples in the signal handler" % (h.count(in_handler), total))

    def whole(s):
        names = user_names(s)
        return "raise_loop" in names and reaches_root(names)
    share(in_handler, h.count(in_handler), whole, "signal: handler through the signal frame to main")


def check_threads(smolder, binary):
    _, samples, total = profile(smolder, binary, "threads")
    share(samples, total, lambda s: reaches_root(user_names(s)), "threads: reach the thread's start")
    depths = set()
    for s in samples:
        names = user_names(s)
        if "hot_leaf" in names and "thread_main" in names:
            depths.add(sum(1 for n in names if n.startswith("chain_")))
    want = {4 + 2 * k for k in range(8)}
    if not want <= depths:
        h.fail("thread chains of depths %s seen, want all of %s" % (sorted(depths), sorted(want)))


def user_locations(sample):
    """One name a Location (its outermost function: the frame's), user only."""
    return [loc[-1].name or "??" for loc in sample.locations if not loc[-1].is_kernel]


def check_recurse(smolder, binary):
    r, samples, total = profile(smolder, binary, "recurse")
    deep = [s for s in samples if "hot_leaf" in user_names(s)]

    def truncated_right(s):
        names = user_locations(s)
        return (len(names) == 128 and names[-1] == "[truncated]" and names[0] == "hot_leaf" and
                all(n == "recurse" for n in names[1:127]))
    share(deep, h.count(deep), truncated_right, "recurse: 127 frames then [truncated]")
    counted = sum(c.get("unwind_truncated", 0) for c in r.counters)
    if counted < h.count(deep):
        h.fail("unwind_truncated counted %d, the profile has %d truncated samples"
               % (counted, h.count(deep)))


def check_vdso(smolder, binary):
    _, samples, total = profile(smolder, binary, "vdso")
    share(samples, total, lambda s: reaches_root(user_names(s)), "vdso: reach main")
    in_vdso = [s for s in samples for f in s.frames[:1]
               if f.mapping is not None and f.mapping.file == "[vdso]"]
    if h.count(in_vdso) < 0.2 * total:
        h.fail("only %d of %d samples in the vDSO" % (h.count(in_vdso), total))
    share(in_vdso, h.count(in_vdso), lambda s: "clock_loop" in user_names(s),
          "vdso: samples in the vDSO under clock_loop")


def check_dlopen(smolder, binary, module):
    _, samples, total = profile(smolder, binary, "dlopen", [module])
    in_mod = [s for s in samples if "mod_hot" in user_names(s)]
    if h.count(in_mod) < 0.5 * total:
        h.fail("only %d of %d samples in the dlopen'ed library" % (h.count(in_mod), total))
    want = ["mod_hot", "mod_link_1", "mod_link_2", "mod_link_3", "call_module", "main"]

    def whole(s):
        names = [n for n in user_locations(s) if n in want]
        return names == want
    share(in_mod, h.count(in_mod), whole, "dlopen: the library's chain to main")


PYTHON_SCRIPT = r"""
import json, os, sys, time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(json.dumps({"event": "ready", "pids": [os.getpid()]}), flush=True)
sys.stdin.readline()
end = time.time() + %s
while time.time() < end:
    fib(18)
print(json.dumps({"event": "done", "pid": os.getpid()}), flush=True)
sys.stdin.read()
"""


def check_python(smolder, tmpdir):
    script = os.path.join(tmpdir, "burn.py")
    with open(script, "w") as f:
        f.write(PYTHON_SCRIPT % SECONDS)
    r = h.run(smolder, ["/usr/bin/python3", script], sample_rate=RATE, upload_interval="3s")
    h.check_output(r, RATE)
    service = os.path.basename(os.path.realpath("/usr/bin/python3"))
    samples = r.samples(service)
    total = h.count(samples)
    if total < 200:
        h.fail("python3: only %d samples of service %s" % (total, service))
    share(samples, total, lambda s: reaches_root(user_names(s)), "python3: reach main")


def test(smolder, gcc_pie, gcc_nopie, clang_pie, clang_nopie, module):
    for b in (gcc_pie, gcc_nopie, clang_pie, clang_nopie):
        check_chain(smolder, b)
    check_qsort(smolder, gcc_pie)
    check_syscall(smolder, gcc_pie)
    check_signal(smolder, gcc_pie)
    check_threads(smolder, clang_pie)
    check_recurse(smolder, gcc_pie)
    check_vdso(smolder, gcc_pie)
    check_dlopen(smolder, gcc_pie, module)
    tmp = tempfile.mkdtemp(prefix="smolder-unwind-")
    try:
        check_python(smolder, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys
    if len(sys.argv) < 7:
        sys.exit("usage: test_unwind.py SMOLDER GCC_PIE GCC_NOPIE CLANG_PIE CLANG_NOPIE MODULE")
    h.run_test(test, sys.argv[1:7])
