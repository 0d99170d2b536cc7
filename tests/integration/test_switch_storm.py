"""Integration: the agent with every profile type through a storm of
context switches (issue 16).

    test_switch_storm.py SMOLDER PINGPONG

PINGPONG (bench/pingpong.c, built here as smolder_it_pingpong) runs for
STORM_S seconds as two threads pinned to one CPU, handing a token over a
futex word as fast as they can (-m futex -w 0: a few hundred thousand
switches a second on an idle 2-CPU VM; each hand-over is a FUTEX_WAIT, a
lock wait to the agent); the agent profiles it by --pid with
--profile-types cpu,offcpu,mutex at the default --off-cpu-sample in 3 s
intervals. Checked:
  - the storm happened: pingpong measured >= MIN_RATE switches a second
    (getrusage of each thread);
  - the agent survives it: it never exits while pingpong runs, exits 0 on
    SIGINT, its intervals tile with no gap, each lasting about the
    interval (file names and counters lines), and each counters line is
    logged soon after its interval ends (the log's timestamps);
  - the books add up, interval by interval: the CPU samples and the
    offcpu and mutex totals of the files against the counters (the
    harness's contract, with P); drawn == stored + each loss; drained ==
    profiled + dropped + lost, for off-CPU nanoseconds and for
    contentions; nothing drawn that was not seen;
  - nothing went unseen: the switch-outs the agent counted (offcpu_switches)
    are pingpong's own count of its switches (+5%, -2%), those it counted
    as lock waits (mutex_waits) its voluntary ones (+-10%), and it drew
    about P of them (+-10% relative);
  - the values mean what they say: scaled by 1/P, the off-CPU time of the
    stacks through side_run (pingpong's threads) is what its two threads
    measured off the CPU (their wall time less their CPU time, -25% to
    +60%: blocks as short as the program's own walk read longer), split
    by state as the kernel's run-queue time allows (test_profile_types.
    state_problems), and the contentions are their voluntary switches
    (+-25%);
  - each type was written: a cpu, an offcpu and a mutex profile of
    smolder_it_pingpong in every interval the storm filled.
Whatever was lost is reported with the counters; a loss is no failure as
long as it is counted.
"""

import calendar
import os
import sys
import time

import smolder_harness as h
import test_profile_types

RATE = 97
STORM_S = 15
INTERVAL_S = 3
P = 0.05  # the agent's default --off-cpu-sample
TYPES = "cpu,offcpu,mutex"
MIN_RATE = 50000  # switches a second below which this is no storm
SERVICE = "smolder_it_pingpong"
ON_TIME_S = 3.0  # a counters line this long after its interval's end at most


def log_time(line):
    """Unix seconds of a log line's "2026-12-06T21:49:14.025Z" stamp."""
    stamp = line.split(" ", 1)[0]
    t = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) + float("0" + stamp[19:].rstrip("Z"))


def schedule_problems(r):
    problems = h.tiling_problems(r)
    iv = h.intervals(r)
    if len(iv) < STORM_S // INTERVAL_S:
        problems.append("only %d intervals for a storm of %d s in %d s intervals: %s"
                        % (len(iv), STORM_S, INTERVAL_S, iv))
    for i, (a, b) in enumerate(iv):
        last = i == len(iv) - 1
        # the first is aligned to the clock, the last cut by SIGINT
        if not (0 <= b - a <= 2 * INTERVAL_S if last or i == 0 else
                INTERVAL_S - 1 <= b - a <= INTERVAL_S + 1):
            problems.append("interval %d-%d lasts %d s (--upload-interval %ds)"
                            % (a, b, b - a, INTERVAL_S))
    lines = [l for l in r.agent_log if " counters " in l]
    for line, (a, b) in zip(lines, iv):
        late = log_time(line) - b
        if late > ON_TIME_S:
            problems.append("interval %d-%d closed %.1f s after its end" % (a, b, late))
    return problems


def books_problems(r):
    problems = []
    for c in r.counters:
        iv = c["interval"]
        drawn = c["offcpu_sampled"]
        kept = (c["offcpu_stored"] + c["offcpu_lost_pending_full"] +
                c["offcpu_lost_stack_collision"] + c["offcpu_lost_stack_read"])
        if drawn != kept:
            problems.append("interval %s: offcpu_sampled %d != stored + losses %d"
                            % (iv, drawn, kept))
        if drawn > c["offcpu_switches"] or c["mutex_sampled"] > c["mutex_waits"] or \
                c["mutex_waits"] > c["offcpu_switches"] or c["mutex_sampled"] > drawn:
            problems.append("interval %s: more drawn than seen: %s"
                            % (iv, {k: c[k] for k in ("offcpu_switches", "offcpu_sampled",
                                                     "mutex_waits", "mutex_sampled")}))
        ns = c["offcpu_profiled_ns"] + c["offcpu_dropped_ns"] + c["offcpu_lost_ns"]
        if c["offcpu_ns"] != ns:
            problems.append("interval %s: offcpu_ns %d != profiled + dropped + lost %d"
                            % (iv, c["offcpu_ns"], ns))
        n = c["mutex_profiled"] + c["mutex_dropped"] + c["mutex_lost"] + c["mutex_not_lock"]
        if c["mutex_contentions"] != n:
            problems.append("interval %s: mutex_contentions %d != profiled + dropped + lost + "
                            "not_lock %d" % (iv, c["mutex_contentions"], n))
    return problems


def within(got, want, lo, hi):
    return want > 0 and lo * want <= got <= hi * want


def test(smolder, pingpong):
    cpu = min(os.sched_getaffinity(0))
    cmd = [pingpong, "-H", "-m", "futex", "-c", str(cpu), "-w", "0", "-t", str(STORM_S)]
    r = h.run(smolder, cmd, agent_args=["--profile-types", TYPES], sample_rate=RATE,
              upload_interval="%ds" % INTERVAL_S, done_timeout=STORM_S + 60)
    d = r.done
    h.log("pingpong: %.0f switches/s (%d voluntary, %d involuntary), %.0f round trips/s, "
          "on CPU %d for %.1f s, CPU %s s"
          % (d["switches_per_s"], d["voluntary"], d["involuntary"], d["round_trips_per_s"],
             cpu, d["seconds"], d["cpu_s"]))
    h.check_output(r, RATE, off_cpu_sample=P)

    failures = []
    if d["switches_per_s"] < MIN_RATE:
        failures.append("pingpong switched only %.0f times a second (want >= %d): no storm"
                        % (d["switches_per_s"], MIN_RATE))
    failures += schedule_problems(r)
    failures += books_problems(r)

    keys = ("offcpu_switches", "offcpu_sampled", "offcpu_stored", "offcpu_lost_pending_full",
            "offcpu_lost_stack_collision", "offcpu_lost_stack_read", "offcpu_ended",
            "offcpu_short", "offcpu_lost_wait_map_full", "offcpu_cut", "offcpu_cut_lost",
            "offcpu_ns", "offcpu_profiled_ns", "offcpu_lost_ns", "mutex_waits",
            "mutex_sampled", "mutex_contentions", "mutex_profiled", "mutex_lost",
            "samples_taken", "samples_profiled")
    tot = {k: r.total(k) for k in keys}
    h.log("totals: " + " ".join("%s=%d" % (k, tot[k]) for k in keys) +
          " lost_*=%d" % sum(h.losses(c) for c in r.counters))

    switches = d["voluntary"] + d["involuntary"]
    seen = tot["offcpu_switches"]
    h.log("switch-outs: pingpong counted %d, the agent %d (%.3f)" % (switches, seen,
                                                                     seen / switches))
    if not within(seen, switches, 0.98, 1.05):
        failures.append("the agent saw %d switch-outs of pingpong, which counted %d of its own"
                        % (seen, switches))
    if not within(tot["mutex_waits"], d["voluntary"], 0.9, 1.1):
        failures.append("the agent counted %d lock waits; pingpong's threads waited on their "
                        "futex %d times (their voluntary switches)"
                        % (tot["mutex_waits"], d["voluntary"]))
    drawn = tot["offcpu_sampled"] / seen if seen else 0
    h.log("drawn: %.4f of the switch-outs (P = %g)" % (drawn, P))
    if not 0.9 * P <= drawn <= 1.1 * P:
        failures.append("%.4f of the switch-outs drawn, want P = %g (+-10%%)" % (drawn, P))

    # The values, scaled, against what pingpong measured.
    off = [s for p in r.profiles_of_type("offcpu") if p.service == SERVICE for s in p.samples
           if "side_run" in s.names]
    off_ns = sum(s.values[0] for s in off)
    want_ns = 2 * d["seconds"] * 1e9 - sum(d["cpu_s"]) * 1e9
    states = test_profile_types.by_state(off)
    h.log("off the CPU through side_run: %.2f s in the profiles (%s), %.2f s measured"
          % (off_ns / 1e9, ", ".join("%s %.2f s" % (k, v / 1e9) for k, v in sorted(states.items())),
             want_ns / 1e9))
    # Blocks here last about 5 us, as long as the walk of a drawn
    # switch-out's stacks (about 4.5 us, with the scheduler's lock held):
    # measured on this machine, a drawn block of this storm reads about one
    # walk longer than the kernel's sleep time says (+24% to +42% in all at
    # P = 0.05; BENCHMARKS.md, issue 16). Blocks of a millisecond
    # (test_offcpu) are within 3%. This bounds the distortion, not the
    # accuracy.
    if not within(off_ns, want_ns, 0.75, 1.6):
        failures.append("pingpong's threads were off the CPU %.2f s (wall less CPU), the "
                        "offcpu profiles say %.2f s" % (want_ns / 1e9, off_ns / 1e9))
    failures += test_profile_types.state_problems(states, d, "pingpong's threads")
    mutex = [s for p in r.profiles_of_type("mutex") if p.service == SERVICE for s in p.samples
             if "side_run" in s.names]
    contentions = sum(s.values[0] for s in mutex)
    delay = sum(s.values[1] for s in mutex)
    h.log("contentions through side_run: %d (delay %.2f s); voluntary switches %d"
          % (contentions, delay / 1e9, d["voluntary"]))
    if not within(contentions, d["voluntary"], 0.75, 1.25):
        failures.append("the mutex profiles count %d contentions; pingpong's threads waited "
                        "on their futex %d times" % (contentions, d["voluntary"]))
    if delay > 1.1 * want_ns:
        failures.append("the mutex profiles' delay %.2f s is more than the time pingpong's "
                        "threads were off the CPU, %.2f s" % (delay / 1e9, want_ns / 1e9))

    # Each type written in every interval the storm filled (not the first
    # or the last, which it may only have touched).
    by_type = {t: {p.interval for p in r.profiles_of_type(t) if p.service == SERVICE}
               for t in ("cpu", "offcpu", "mutex")}
    inner = [c["interval"] for c in r.counters[1:-1]]
    for t, ivs in sorted(by_type.items()):
        h.log("%s profiles of %s: %d (%s)" % (t, SERVICE, len(ivs), " ".join(sorted(ivs))))
        missing = [iv for iv in inner if iv not in ivs]
        if not ivs or missing:
            failures.append("no %s profile of %s in intervals %s" % (t, SERVICE,
                                                                    missing or "any"))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: %s SMOLDER PINGPONG" % sys.argv[0])
    h.run_test(test, sys.argv[1:3])
