"""Integration: the off-CPU profile agrees with what the workload measured of
its own time off the CPU, and says why it was off.

    test_offcpu.py SMOLDER OFFCPU_WORKLOAD

offcpu_workload (see its header) runs, for SECONDS, one thread each in
sleep_in_nanosleep (nanosleep: asleep), read_slow_pipe (a pipe another
process fills slowly: asleep), wait_for_disk (O_DIRECT reads of a file on a
real disk: uninterruptible I/O), two in spin_on_shared_cpu (pinned to one
CPU: each waits in the run queue about half the time) and one in
sleep_through_intervals (one nanosleep of SECONDS - 1 s); each measures its
time off the CPU as its wall time less its thread CPU time. The disk's
file goes in a directory on a block device (not tmpfs): $SMOLDER_IT_DISK_DIR,
else the first of the working directory, /var/tmp, /tmp and the workload's
directory that is on one.

The agent profiles it by --pid with --profile-types cpu,offcpu in INTERVAL
intervals, twice: with --off-cpu-sample 1 (every switch-out recorded) and
with the default sampling (values scaled by 1/P). Each run's offcpu
profiles (<start>-<end>.offcpu.pb.gz, decoded by `go tool pprof -raw`) are
checked:
  - the output keeps the contract: the CPU profiles' as always, the offcpu
    profiles' type (offcpu/nanoseconds, period 1), a state label on every
    sample, and their totals equal the offcpu_profiled_ns counter / P;
  - each of the four functions' share of the four's off-CPU time (a sample
    counts for the function on its stack) is within SHARE_PP points of the
    share the workload measured;
  - at least STATE_MIN of each function's time has the state it must
    have: sleep (nanosleep, pipe), io (disk), runqueue (spinners);
  - the total of the measured functions is within TOTAL_TOLERANCE of what
    the workload measured (with P = 1, the long sleep included);
  - at least STACK_MIN of that time has a whole stack: kernel frames first,
    __schedule among them, then user frames, the function, and thread_start
    (the workload's thread entry) below it;
  - no more than TRACED_MAX of it has a frame of the tracing itself
    (__traceiter_sched_switch, bpf_trace_run...) atop its kernel stack,
    which starts at __schedule;
  - no time is counted for threads that have exited (do_task_dead on the
    stack: a thread's last switch is no block);
  - with P = 1: sleep_through_intervals, one block spanning several
    intervals, is in the offcpu profile of each interval it overlaps by
    more than a second, with about its overlap, and its pieces add up to
    its measured sleep.
"""

import collections
import os
import re
import shutil
import subprocess
import tempfile

import smolder_harness as h

RATE = 97
SECONDS = 12
INTERVAL = "4s"
FUNCS = ("sleep_in_nanosleep", "read_slow_pipe", "wait_for_disk", "spin_on_shared_cpu")
STATES = {"sleep_in_nanosleep": "sleep", "read_slow_pipe": "sleep", "wait_for_disk": "io",
          "spin_on_shared_cpu": "runqueue"}
LONG = "sleep_through_intervals"
THREAD_ENTRY = "thread_start"
SHARE_PP = 5.0
TOTAL_TOLERANCE = 0.10
STATE_MIN = 0.90
STACK_MIN = 0.95
TRACED_MAX = 0.005  # of the time, with a tracing frame atop the kernel stack
# A piece of the long sleep in an interval: its overlap with the interval
# named in whole seconds, give or take this much (the name rounds the cut).
PIECE_SLACK_S = 1.0
NOT_ON_DISK = ("tmpfs", "ramfs", "devtmpfs", "proc", "sysfs")


def fs_type(path):
    """The file system type of the mount path is on (/proc/self/mountinfo)."""
    path = os.path.realpath(path)
    best, best_type = "", None
    for line in h.read_text("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        mount = left.split()[4].replace("\\040", " ")
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, best_type = mount, right.split()[0]
    return best_type


def disk_dir(workload):
    """A writable directory on a block device for the disk thread's file."""
    given = os.environ.get("SMOLDER_IT_DISK_DIR")
    candidates = [given] if given else [os.getcwd(), "/var/tmp", "/tmp", os.path.dirname(workload)]
    seen = []
    for d in candidates:
        t = fs_type(d) if d and os.path.isdir(d) else None
        seen.append("%s (%s)" % (d, t))
        if t and t not in NOT_ON_DISK and os.access(d, os.W_OK):
            return d, t
    h.fail("no directory on a block device for the disk thread: %s; set SMOLDER_IT_DISK_DIR"
           % ", ".join(seen))


def default_sample_probability(smolder):
    """--off-cpu-sample's default, from the agent's --help."""
    out = subprocess.run([smolder, "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--off-cpu-sample P\n(?:.*\n)*?\s+env SMOLDER_OFF_CPU_SAMPLE, default ([0-9.]+)",
                  out)
    return float(m.group(1)) if m else None


def function_of(sample):
    """The measured function on a sample's stack (the one nearest the
    leaf), or None."""
    for name in sample.names:
        if name in FUNCS or name == LONG:
            return name
    return None


def stack_problem(sample, fn):
    """Why a sample's stack is not whole, or None."""
    kernel, user = sample.leaf_kernel_split()
    if any(f.is_kernel for f in user):
        return "kernel frames below user frames"
    if "__schedule" not in [f.name for f in kernel]:
        return "no __schedule in the kernel frames"
    names = [f.name for f in user]
    if fn not in names:
        return "%s not among the user frames" % fn
    if THREAD_ENTRY not in names[names.index(fn) + 1:]:
        return "no %s below %s" % (THREAD_ENTRY, fn)
    return None


def check_run(r, service, p, label, links):
    """The checks of one run; returns the failures."""
    failures = []
    h.check_output(r, RATE, label=label, off_cpu_sample=p)
    offcpu = r.profiles_of_type("offcpu")
    h.log("\n[%s] %d offcpu profiles: %s" % (label, len(offcpu),
                                              sorted({"%s/%s" % (q.service, os.path.basename(q.path))
                                                      for q in offcpu})))
    others = sorted({q.service for q in offcpu} - {service})
    if others:
        h.log("[%s] offcpu profiles of other services too: %s" % (label, others))
    samples = r.samples(service, type="offcpu")
    if not samples:
        return failures + ["no offcpu samples of %s" % service]

    measured = {fn: 0 for fn in FUNCS + (LONG,)}
    for w in r.done["workers"]:
        measured[w["function"]] += w["offcpu_ns"]
    by_fn = collections.Counter()
    by_state = collections.defaultdict(collections.Counter)
    problems = collections.Counter()
    examples = {}
    dead = 0
    for s in samples:
        ns = s.values[0]
        if "do_task_dead" in [f.name for f in s.kernel_frames]:
            dead += ns
        fn = function_of(s)
        if fn is None:
            continue
        by_fn[fn] += ns
        by_state[fn][s.labels.get("state")] += ns
        why = stack_problem(s, fn)
        if why:
            problems[why] += ns
            examples.setdefault(why, s)
    service_total = sum(s.values[0] for s in samples)
    h.log("[%s] offcpu time of %s: %.3f s in all, %.3f s under the measured functions"
          % (label, service, service_total / 1e9, sum(by_fn.values()) / 1e9))

    # Shares among the four.
    m4 = sum(measured[f] for f in FUNCS)
    p4 = sum(by_fn[f] for f in FUNCS)
    h.log("[%s] %-20s %9s %9s %8s %8s %7s  states in the profile"
          % (label, "function", "measured", "profile", "meas.%", "prof.%", "diff"))
    for fn in FUNCS:
        want = 100.0 * measured[fn] / m4 if m4 else 0.0
        got = 100.0 * by_fn[fn] / p4 if p4 else 0.0
        states = ", ".join("%s %.3f s" % (st, v / 1e9) for st, v in by_state[fn].most_common())
        h.log("[%s] %-20s %8.3fs %8.3fs %7.2f%% %7.2f%% %+6.2fpp  %s"
              % (label, fn, measured[fn] / 1e9, by_fn[fn] / 1e9, want, got, got - want, states))
        if abs(got - want) > SHARE_PP:
            failures.append("%s: %.2f%% of the four functions' off-CPU time in the profile, "
                            "%.2f%% measured (more than %.0f points apart)"
                            % (fn, got, want, SHARE_PP))
        st = STATES[fn]
        share = by_state[fn][st] / by_fn[fn] if by_fn[fn] else 0.0
        if share < STATE_MIN:
            failures.append("%s: only %.1f%% of its off-CPU time has state %s (want >= %.0f%%): %s"
                            % (fn, 100 * share, st, 100 * STATE_MIN, dict(by_state[fn])))
    if LONG in by_fn:
        h.log("[%s] %-20s %8.3fs %8.3fs  states %s" % (label, LONG, measured[LONG] / 1e9,
                                                     by_fn[LONG] / 1e9, dict(by_state[LONG])))

    # The total.
    counted = FUNCS + ((LONG,) if p == 1 else ())
    m_total = sum(measured[f] for f in counted)
    p_total = sum(by_fn[f] for f in counted)
    ratio = p_total / m_total if m_total else 0.0
    h.log("[%s] total of %s: profile %.3f s, measured %.3f s (ratio %.3f, want 1 +- %.2f)"
          % (label, "the five functions" if p == 1 else "the four functions",
             p_total / 1e9, m_total / 1e9, ratio, TOTAL_TOLERANCE))
    if abs(ratio - 1) > TOTAL_TOLERANCE:
        failures.append("the measured functions' off-CPU time is %.3f s in the profile, %.3f s "
                        "measured (ratio %.3f)" % (p_total / 1e9, m_total / 1e9, ratio))

    # Whole stacks.
    attributed = sum(by_fn.values())
    bad = sum(problems.values())
    h.log("[%s] whole stacks (kernel ... __schedule ..., then the function ... %s): %.2f%%"
          % (label, THREAD_ENTRY, 100.0 * (attributed - bad) / attributed if attributed else 0))
    for why, ns in problems.most_common():
        h.log("[%s]   %.3f s: %s, e.g. %s" % (label, ns / 1e9, why, examples[why].names))
    if attributed and bad > (1 - STACK_MIN) * attributed:
        failures.append("only %.2f%% of the measured functions' off-CPU time has a whole stack "
                        "(want >= %.0f%%)" % (100.0 * (attributed - bad) / attributed,
                                              100 * STACK_MIN))
    for fn in FUNCS:
        heaviest = max((s for s in samples if function_of(s) == fn), key=lambda s: s.values[0],
                       default=None)
        if heaviest is not None:
            h.log("[%s] heaviest stack of %s (%s, %.3f s): %s"
                  % (label, fn, heaviest.labels.get("state"), heaviest.values[0] / 1e9,
                     ";".join(heaviest.names)))
    leaves = h.kernel_leaves([s for s in samples if function_of(s)])
    traced = sum(s.values[0] for s in samples if function_of(s) and h.tracing_frames(s))
    h.log("[%s] kernel leaf frames of the measured functions' time: %s"
          % (label, ", ".join("%s %.1f%%" % (n, 100.0 * v / attributed)
                              for n, v in leaves.most_common(5))))
    if attributed and traced > TRACED_MAX * attributed:
        failures.append("%.1f%% of the measured functions' off-CPU time has tracing frames atop "
                        "its kernel stack (%s), which must start at __schedule (BPF links on "
                        "sched_switch as the agent began: %s; with another tracer's the "
                        "tracepoint's iterator is one frame more)"
                        % (100.0 * traced / attributed,
                           sorted({n for s in samples for n in h.tracing_frames(s)}), links))
    if dead:
        failures.append("%.3f s off the CPU counted for exited threads (do_task_dead on the "
                        "stack): a thread's last switch is not a block" % (dead / 1e9))
        h.log("[%s] exited threads' stacks: %s" % (label, h.top_stacks(
            [s for s in samples if "do_task_dead" in s.names], 3)))

    if p == 1:
        failures += check_long_sleep(r, service, label)
    return failures


def check_long_sleep(r, service, label):
    """The long sleep in each interval it overlaps, with about its overlap."""
    failures = []
    w = [w for w in r.done["workers"] if w["function"] == LONG][0]
    s0, s1 = w["start_real_ns"] / 1e9, w["end_real_ns"] / 1e9
    pieces = []
    for q in sorted((q for q in r.profiles_of_type("offcpu") if q.service == service),
                    key=lambda q: q.start):
        ns = sum(s.values[0] for s in q.samples if function_of(s) == LONG)
        overlap = max(0.0, min(s1, q.end) - max(s0, q.start))
        pieces.append((q.interval, ns / 1e9, overlap))
    h.log("[%s] %s slept %.3f-%.3f (%.3f s); by interval (piece, overlap): %s"
          % (label, LONG, s0, s1, s1 - s0,
             ", ".join("%s %.3f/%.3f" % pc for pc in pieces)))
    spanned = [pc for pc in pieces if pc[2] > PIECE_SLACK_S]
    if len(spanned) < 2:
        failures.append("%s spans %d intervals by more than %.0f s, want >= 2 (intervals %s)"
                        % (LONG, len(spanned), PIECE_SLACK_S, [pc[0] for pc in pieces]))
    for iv, got, overlap in pieces:
        if abs(got - overlap) > PIECE_SLACK_S:
            failures.append("%s in interval %s: %.3f s, but it slept %.3f s of that interval"
                            % (LONG, iv, got, overlap))
    total = sum(pc[1] for pc in pieces)
    if abs(total - (s1 - s0)) > 0.01 * (s1 - s0):
        failures.append("%s's pieces add up to %.3f s, it slept %.3f s" % (LONG, total, s1 - s0))
    return failures


def test(smolder, workload):
    service = os.path.basename(workload)
    where, fstype = disk_dir(workload)
    tmp = tempfile.mkdtemp(prefix="smolder-offcpu-", dir=where)
    failures = []
    try:
        h.log("the disk thread's file goes in %s (%s)" % (tmp, fstype))
        default_p = default_sample_probability(smolder)
        for p, args in ((1.0, ["--off-cpu-sample", "1"]), (default_p, [])):
            label = "--off-cpu-sample %s" % (p if args else "default (%s)" % p)
            links = []
            r = h.run(smolder, [workload, str(SECONDS), tmp],
                      agent_args=["--profile-types", "cpu,offcpu"] + args, sample_rate=RATE,
                      upload_interval=INTERVAL,
                      on_sampling=lambda pid: links.append(h.sched_switch_links()))
            h.log("[%s] BPF links on sched_switch once the agent sampled (its own and any "
                  "other tracer's): %s" % (label, links[0]))
            disk = [w for w in r.done["workers"] if w["function"] == "wait_for_disk"][0]
            h.log("[%s] the workload's own look at /proc: disk thread states %s"
                  % (label, disk["proc_states"]))
            if not disk["proc_states"].get("D"):
                h.fail("the workload's disk thread was never seen in D state (%s on %s): "
                       "its reads do not wait for a disk" % (tmp, fstype))
            failures += ["%s: %s" % (label, f) for f in check_run(r, service, p, label, links[0])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
