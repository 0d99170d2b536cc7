"""Integration: the mutex (lock contention) profile agrees with the
contentions the workload counted, and holds nothing else.

    test_mutex.py SMOLDER MUTEX_WORKLOAD

mutex_workload (see its header) runs, for SECONDS, two threads taking one
pthread_mutex_t in turn in contend_for_lock (held 0.5..1.5 ms each time),
counting each failed trylock followed by pthread_mutex_lock as a
contention and timing that lock call; a thread taking a lock nobody else
takes in take_free_lock, sleeping between rounds; and a pool of
idle_worker threads in pthread_cond_wait, one woken every 5 ms to wait
again. The agent profiles it by --pid with --profile-types cpu,mutex
--off-cpu-sample 1 in INTERVAL intervals. Checked, in the mutex profiles
(<start>-<end>.mutex.pb.gz, decoded by `go tool pprof -raw`):
  - the output keeps the contract: the CPU profiles' as always, the mutex
    profiles' type (contentions/count and delay/nanoseconds, period type
    contentions/count) and their contentions equal to the mutex_profiled
    counter; no offcpu profile (not asked for);
  - the contentions under contend_for_lock are within TOLERANCE of the
    workload's count, and their delay within TOLERANCE of its measured
    wait;
  - at least STACK_MIN of those contentions have a whole stack: kernel
    frames (futex) first, then glibc's pthread_mutex_lock, contend_for_lock
    and contender_start (the thread's entry) below it;
  - no more than TRACED_MAX of them have a frame of the tracing itself
    (__traceiter_sched_switch, bpf_trace_run...) atop the kernel stack,
    which starts at __schedule;
  - take_free_lock never appears (its lock is never contended, its sleep is
    no lock wait), nor does idle_worker's wait for work (FUTEX_WAIT_BITSET):
    an idle_worker sample is allowed only when its stack shows the
    condition's mutex being taken back (__pthread_mutex_cond_lock, a real
    contention, rare here), and those are reported.
"""

import collections
import os

import smolder_harness as h

RATE = 97
SECONDS = 10
INTERVAL = "4s"
TOLERANCE = 0.10
STACK_MIN = 0.95
TRACED_MAX = 0.005  # of the contentions, with a tracing frame atop the kernel stack
CONTEND = "contend_for_lock"
ENTRY = "contender_start"
FREE = "take_free_lock"
IDLE = "idle_worker"
COND_RELOCK = "__pthread_mutex_cond_lock"
LOCK_FNS = ("pthread_mutex_lock", "___pthread_mutex_lock", "__pthread_mutex_lock")


def stack_problem(sample):
    """Why a contend_for_lock sample's stack is not whole, or None."""
    kernel, user = sample.leaf_kernel_split()
    if any(f.is_kernel for f in user):
        return "kernel frames below user frames"
    if not any(f.name and "futex" in f.name for f in kernel):
        return "no futex frame among the kernel frames"
    names = [f.name or "??" for f in user]
    i = names.index(CONTEND) if CONTEND in names else -1
    if i < 0:
        return "%s not among the user frames" % CONTEND
    if not any(n in LOCK_FNS for n in names[:i]):
        return "no pthread_mutex_lock above %s" % CONTEND
    if ENTRY not in names[i + 1:]:
        return "no %s below %s" % (ENTRY, CONTEND)
    return None


def test(smolder, workload):
    service = os.path.basename(workload)
    links = []
    r = h.run(smolder, [workload, str(SECONDS)],
              agent_args=["--profile-types", "cpu,mutex", "--off-cpu-sample", "1"],
              sample_rate=RATE, upload_interval=INTERVAL,
              on_sampling=lambda pid: links.append(h.sched_switch_links()))
    h.log("BPF links on sched_switch once the agent sampled (its own and any other "
          "tracer's): %s" % links[0])
    h.check_output(r, RATE, off_cpu_sample=1)
    failures = []

    mutex = r.profiles_of_type("mutex")
    h.log("\n%d mutex profiles: %s" % (len(mutex), sorted("%s/%s" % (p.service,
                                                                      os.path.basename(p.path))
                                                           for p in mutex)))
    if r.profiles_of_type("offcpu"):
        failures.append("offcpu profiles written without offcpu in --profile-types: %s"
                        % [os.path.basename(p.path) for p in r.profiles_of_type("offcpu")])
    samples = r.samples(service, type="mutex")
    if not samples:
        h.fail("no mutex samples of %s" % service)

    by_fn = collections.defaultdict(lambda: [0, 0])
    problems = collections.Counter()
    examples = {}
    idle_relock, idle_wait = [], []
    for s in samples:
        names = s.names
        fn = next((n for n in names if n in (CONTEND, FREE, IDLE)), None)
        key = fn or "(other) " + ";".join(f.name or "??" for f in s.user_frames[:6])
        by_fn[key][0] += s.values[0]
        by_fn[key][1] += s.values[1]
        if fn == CONTEND:
            why = stack_problem(s)
            if why:
                problems[why] += s.values[0]
                examples.setdefault(why, s)
        elif fn == IDLE:
            (idle_relock if COND_RELOCK in names else idle_wait).append(s)

    d = r.done[CONTEND]
    got_n, got_ns = by_fn[CONTEND]
    h.log("%s: the workload counted %d contentions (of %d acquisitions; %d lock calls "
          "shorter than 20 us), %.3f s waiting (longest %.1f ms)"
          % (CONTEND, d["contentions"], d["acquisitions"], d["fast_locks"], d["wait_ns"] / 1e9,
             d["max_wait_ns"] / 1e6))
    n_ratio = got_n / d["contentions"] if d["contentions"] else 0.0
    ns_ratio = got_ns / d["wait_ns"] if d["wait_ns"] else 0.0
    h.log("%s: the profile has %d contentions (ratio %.3f) and %.3f s of delay (ratio %.3f); "
          "want both 1 +- %.2f" % (CONTEND, got_n, n_ratio, got_ns / 1e9, ns_ratio, TOLERANCE))
    if abs(n_ratio - 1) > TOLERANCE:
        failures.append("%s: %d contentions in the profile, %d counted by the workload "
                        "(ratio %.3f)" % (CONTEND, got_n, d["contentions"], n_ratio))
    if abs(ns_ratio - 1) > TOLERANCE:
        failures.append("%s: %.3f s of delay in the profile, %.3f s measured by the workload "
                        "(ratio %.3f)" % (CONTEND, got_ns / 1e9, d["wait_ns"] / 1e9, ns_ratio))

    bad = sum(problems.values())
    h.log("%s: whole stacks (futex ... pthread_mutex_lock, %s ... %s): %d of %d"
          % (CONTEND, CONTEND, ENTRY, got_n - bad, got_n))
    for why, n in problems.most_common():
        h.log("  %d: %s, e.g. %s" % (n, why, examples[why].names))
    if got_n and bad > (1 - STACK_MIN) * got_n:
        failures.append("only %d of %d contentions of %s have a whole stack (want >= %.0f%%)"
                        % (got_n - bad, got_n, CONTEND, 100 * STACK_MIN))
    heaviest = max((s for s in samples if CONTEND in s.names), key=lambda s: s.values[0],
                   default=None)
    if heaviest is not None:
        h.log("heaviest stack of %s (%d contentions): %s"
              % (CONTEND, heaviest.values[0], ";".join(heaviest.names)))

    mine = [s for s in samples if CONTEND in s.names]
    leaves = h.kernel_leaves(mine)
    traced = sum(s.values[0] for s in mine if h.tracing_frames(s))
    h.log("kernel leaf frames of %s's contentions: %s"
          % (CONTEND, ", ".join("%s %d" % kv for kv in leaves.most_common(5))))
    if got_n and traced > TRACED_MAX * got_n:
        failures.append("%d of %d contentions of %s have tracing frames atop their kernel stack "
                        "(%s), which must start at __schedule (BPF links on sched_switch as the "
                        "agent began: %s; with another tracer's the tracepoint's iterator is one "
                        "frame more)" % (traced, got_n, CONTEND,
                                         sorted({n for s in mine for n in h.tracing_frames(s)}),
                                         links[0]))

    h.log("everything in the mutex profile of %s, by function (contentions, delay):" % service)
    for k, (n, ns) in sorted(by_fn.items(), key=lambda kv: -kv[1][0]):
        h.log("  %8d %10.3f s  %s" % (n, ns / 1e9, k))
    if FREE in by_fn:
        failures.append("%s appears in the mutex profile (%d contentions, %.3f s): its lock is "
                        "never contended; e.g. %s"
                        % (FREE, by_fn[FREE][0], by_fn[FREE][1] / 1e9,
                           [s.names for s in samples if FREE in s.names][:1]))
    i = r.done[IDLE]
    h.log("%s: %d threads woken %d times; in the profile: %d contentions taking the "
          "condition's mutex back (%s), %d others"
          % (IDLE, i["threads"], i["wakeups"], sum(s.values[0] for s in idle_relock), COND_RELOCK,
             sum(s.values[0] for s in idle_wait)))
    if idle_wait:
        failures.append("%s's wait for work (pthread_cond_wait) counted as %d contentions: "
                        "FUTEX_WAIT_BITSET is no lock; e.g. %s"
                        % (IDLE, sum(s.values[0] for s in idle_wait), idle_wait[0].names))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
