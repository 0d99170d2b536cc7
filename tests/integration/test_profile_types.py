"""Integration: --profile-types (issue 16): which BPF programs each choice
loads, what each writes and sends, and that the CPU profile stays as it was.

    test_profile_types.py MODE SMOLDER WORKLOAD

MODE is one of
  programs PINGPONG: five short runs of pingpong (bench/pingpong.c as
      smolder_it_pingpong: two threads handing a token over a futex word,
      with work between hand-overs, unpinned; the main thread waits in
      pthread_join), the agent by --pid at --off-cpu-sample=1:
        - default (cpu): no sched_switch program (smolder_off_*) is loaded
          (the agent's programs from the kernel, names from bpftool), only
          CPU profiles are written and the off-CPU counters stay 0;
        - offcpu: smolder_off_cfi (tp_btf);
        - cpu,offcpu with --test-pretend-missing tp_btf: smolder_off_cfi_r
          (raw tracepoint);
        - offcpu,mutex with --test-pretend-missing bpf_loop: smolder_off_fp;
        - mutex with --test-pretend-missing bpf_loop,tp_btf: smolder_off_fp_r;
      exactly one sched_switch program each time, and only the types asked
      for are written. Where offcpu is asked for, its profiles are sane:
      every sample has a state, the time pingpong's two threads spent off
      the CPU (wall less CPU time, measured by pingpong) is the time of the
      stacks through side_run (+-25%), some of it asleep (a futex wait is
      an interruptible sleep), and its split by state agrees with the
      kernel's count of their time runnable (schedstat, read by pingpong:
      state runqueue at most that, +25%; state sleep at least the rest,
      -25%; the wait from a wake-up to running is the kernel's run-queue
      time but a sleep's in the profile). Where mutex
      is, the contentions through side_run are the threads' futex waits
      (their voluntary switches, +-25%). The files add up to the counters
      (the harness's contract, with P = 1).
  push PINGPONG: pingpong (futex, unpinned) profiled by --pid with
      --profile-types cpu,offcpu,mutex in 1 s intervals, sent to the fake
      Pyroscope of test_upload_push (upload_harness): each type arrives as
      its own series, __name__ process_cpu, offcpu and mutex with the same
      other labels (service_name and the tag, nothing else), every interval
      with something of a type exactly once and in order, with the type's
      sample types; decoded, each holds what the agent counted for that
      interval and type (scaled by 1/P), offcpu samples carry a state; the
      agent counted every profile delivered.
  cpu_shares CPU_SHARES: test_cpu_shares' checks with
      --profile-types cpu,offcpu,mutex: the CPU profile is the same with
      the other types on (and the sched_switch program saw cpu_shares
      leave the CPU: offcpu_switches > 0).
"""

import collections
import json
import os
import subprocess
import sys

import smolder_harness as h
import test_cpu_shares
import upload_harness as u

RATE = 97
SERVICE = "smolder_it_pingpong"
OFF_PROGRAMS = ("smolder_off_cfi", "smolder_off_cfi_r", "smolder_off_fp", "smolder_off_fp_r")
RUN_S = 4
# Work between hand-overs: each side burns ~0.1 ms, then waits for the other.
WORK = "100000"


def pingpong_cmd(pingpong, seconds):
    return [pingpong, "-H", "-m", "futex", "-w", WORK, "-t", str(seconds)]


def off_programs(pid):
    got = h.bpf_programs(pid)
    h.log("BPF programs of the agent: %s" % got)
    return [p for p in got if p in OFF_PROGRAMS or p.startswith("smolder_off")]


def by_state(samples):
    out = collections.Counter()
    for s in samples:
        out[s.labels.get("state")] += s.values[0]
    return out


def secs(ns):
    return "%.2f s" % (ns / 1e9)


def state_problems(states, d, what):
    """The offcpu profile's split of pingpong's threads' time off the CPU
    by state, next to the kernel's count of their time runnable in a run
    queue (schedstat, runqueue_s): a block is counted in the state its
    thread left the CPU in, so the wait between a wake-up and running is
    the kernel's run-queue time but the profile's sleep. Hence the profile's
    runqueue is at most the kernel's (+25%), and its sleep at least the
    time neither running nor runnable (-25%)."""
    off_ns = 2 * d["seconds"] * 1e9 - sum(d["cpu_s"]) * 1e9
    rq_ns = sum(d["runqueue_s"]) * 1e9
    asleep_ns = off_ns - rq_ns
    h.log("%s: the kernel counted %s runnable, %s neither running nor runnable"
          % (what, secs(rq_ns), secs(asleep_ns)))
    problems = []
    if min(d["runqueue_s"]) < 0:
        return problems  # no schedstat here
    if states["runqueue"] > 1.25 * rq_ns + 0.05e9:
        problems.append("%s: %s in state runqueue, but the kernel counted only %s runnable"
                        % (what, secs(states["runqueue"]), secs(rq_ns)))
    if states["sleep"] < 0.75 * asleep_ns - 0.05e9:
        problems.append("%s: %s in state sleep, but the threads were neither running nor "
                        "runnable for %s" % (what, secs(states["sleep"]), secs(asleep_ns)))
    return problems


def check_offcpu(r, failures):
    d = r.done
    side = [s for s in r.samples(SERVICE, "offcpu") if "side_run" in s.names]
    states = by_state(side)
    side_ns = sum(states.values())
    want_ns = 2 * d["seconds"] * 1e9 - sum(d["cpu_s"]) * 1e9
    h.log("off the CPU through side_run: %s (%s); pingpong measured %s (wall less CPU)"
          % (secs(side_ns), ", ".join("%s %s" % (k, secs(v)) for k, v in sorted(states.items())),
             secs(want_ns)))
    if not (0.75 * want_ns <= side_ns <= 1.25 * want_ns):
        failures.append("pingpong's threads were off the CPU %s (wall less CPU), the offcpu "
                        "profiles hold %s through side_run" % (secs(want_ns), secs(side_ns)))
    if not states["sleep"]:
        failures.append("pingpong's threads wait in FUTEX_WAIT, yet nothing through side_run "
                        "is in state sleep: %s" % dict(states))
    failures += state_problems(states, d, "pingpong's threads")


def check_mutex(r, failures):
    d = r.done
    side = [s for s in r.samples(SERVICE, "mutex") if "side_run" in s.names]
    contentions = sum(s.values[0] for s in side)
    delay = sum(s.values[1] for s in side)
    h.log("contentions through side_run: %d, delay %s; voluntary switches %d"
          % (contentions, secs(delay), d["voluntary"]))
    if not (0.75 * d["voluntary"] <= contentions <= 1.25 * d["voluntary"]):
        failures.append("pingpong's threads waited on their futex %d times (voluntary "
                        "switches), the mutex profiles count %d contentions through side_run"
                        % (d["voluntary"], contentions))


def one_run(smolder, pingpong, types, pretend, want_program):
    seen = {}

    def at_sampling(pid):
        seen["off"] = off_programs(pid)

    args = ["--off-cpu-sample", "1"] + (["--profile-types", types] if types else [])
    if pretend:
        args += ["--test-pretend-missing", pretend]
    label = "--profile-types %s%s" % (types or "(default)",
                                      " --test-pretend-missing %s" % pretend if pretend else "")
    h.log("\n== %s" % label)
    r = h.run(smolder, pingpong_cmd(pingpong, RUN_S), agent_args=args, sample_rate=RATE,
              upload_interval="2s", on_sampling=at_sampling)
    d = r.done
    h.log("pingpong: %.0f switches/s (%d voluntary), CPU %s s over %.1f s"
          % (d["switches_per_s"], d["voluntary"], d["cpu_s"], d["seconds"]))
    h.check_output(r, RATE, label=label, off_cpu_sample=1)
    failures = []
    want_off = [want_program] if want_program else []
    if seen.get("off") != want_off:
        failures.append("sched_switch programs loaded: %s, want %s" % (seen.get("off"), want_off))
    asked = set((types or "cpu").split(","))
    written = {p.type for p in r.all_profiles if p.service == SERVICE}
    h.log("types written: %s" % sorted(written))
    if written != asked:
        failures.append("profiles written of types %s, asked for %s" % (sorted(written),
                                                                       sorted(asked)))
    if "offcpu" not in asked and "mutex" not in asked:
        seen_switches = r.total("offcpu_switches")
        if seen_switches:
            failures.append("no offcpu or mutex profile asked for, yet offcpu_switches=%d"
                            % seen_switches)
    if "mutex" not in asked and r.total("mutex_waits"):
        failures.append("no mutex profile asked for, yet mutex_waits=%d" % r.total("mutex_waits"))
    if "offcpu" in asked:
        check_offcpu(r, failures)
    if "mutex" in asked:
        check_mutex(r, failures)
    if failures:
        h.fail("%s:\n  %s" % (label, "\n  ".join(failures)))


def test_programs(smolder, pingpong):
    for types, pretend, program in (
            (None, None, None),
            ("offcpu", None, "smolder_off_cfi"),
            ("cpu,offcpu", "tp_btf", "smolder_off_cfi_r"),
            ("offcpu,mutex", "bpf_loop", "smolder_off_fp"),
            ("mutex", "bpf_loop,tp_btf", "smolder_off_fp_r")):
        one_run(smolder, pingpong, types, pretend, program)


# ---------------------------------------------------------------------------
# push

SERIES = {
    "process_cpu": ("cpu", [["cpu", "nanoseconds"]], "samples_profiled"),
    "offcpu": ("offcpu", [["offcpu", "nanoseconds"]], "offcpu_profiled_ns"),
    "mutex": ("mutex", [["contentions", "count"], ["delay", "nanoseconds"]], "mutex_profiled"),
}
P = 0.05  # the default --off-cpu-sample


class PingpongUpload(u.UploadRun):
    """upload_harness's run with pingpong as the workload instead of
    cpu_shares: it waits on its futex, so it has off-CPU time and lock
    waits in every interval."""

    def _workload_cmd(self):
        return pingpong_cmd(self.workload_path, 600)


def push_checks(r, counters, got):
    failures = []
    by_start = {int(c["interval"].split("-")[0]): c for c in counters}
    series = collections.defaultdict(list)
    for rec in got:
        series[rec["labels"].get("__name__")].append(rec)
    h.log("series received: %s" % {k: len(v) for k, v in sorted(series.items())})
    if set(series) != set(SERIES):
        failures.append("series %s, want one each of %s" % (sorted(series), sorted(SERIES)))
    for name, (type, sample_types, key) in sorted(SERIES.items()):
        recs = series.get(name, [])
        want = collections.Counter(int(c["interval"].split("-")[0]) for c in counters
                                   if c.get(key, 0) > 0)
        starts = [rec["time_nanos"] // 10**9 for rec in recs]
        if starts != sorted(starts):
            failures.append("%s: profiles out of order: %s" % (name, starts))
        if collections.Counter(starts) != want:
            failures.append("%s: intervals with %s > 0: %s; profiles received for %s"
                            % (name, key, sorted(want.elements()), starts))
        if len(recs) < 3:
            failures.append("%s: only %d profiles" % (name, len(recs)))
        if recs:
            h.log("%s: %d profiles, intervals %s; the first: labels %s, sample types %s"
                  % (name, len(recs), starts, recs[0]["labels"], recs[0]["sample_types"]))
        for rec in recs:
            labels = {"__name__": name, "service_name": SERVICE, "env": "it"}
            if rec["labels"] != labels:
                failures.append("%s: series labels %s, want %s" % (name, rec["labels"], labels))
            if rec["sample_types"] != sample_types:
                failures.append("%s: sample types %s, want %s" % (name, rec["sample_types"],
                                                                  sample_types))
            start = rec["time_nanos"] // 10**9
            p = h.decode(rec["profile"], SERVICE, start, 0, type)
            c = by_start.get(start)
            if c is None:
                failures.append("%s: a profile of %d, an interval the agent never closed"
                                % (name, start))
                continue
            if type == "cpu":
                got_v, want_v, slack = h.count(p.samples), c[key], 0
            else:
                got_v = p.total_value(0)
                want_v = c[key] / P
                # each entry scaled and rounded on its own
                slack = 1 + 0.5 * len(p.samples) + 1e-6 * want_v
            if abs(got_v - want_v) > slack:
                failures.append("%s, interval %s: the profile holds %d, the agent counted %s=%d "
                                "(%.0f scaled)" % (name, c["interval"], got_v, key, c[key], want_v))
            if type == "offcpu":
                bad = [s.labels for s in p.samples
                       if s.labels.get("state") not in h.OFFCPU_STATES]
                if bad:
                    failures.append("offcpu, interval %s: %d samples without a state: %s"
                                    % (c["interval"], len(bad), bad[:3]))
            if type != "cpu" and not any("side_run" in s.names for s in p.samples):
                failures.append("%s, interval %s: no stack through side_run: %s"
                                % (name, c["interval"], h.top_stacks(p.samples)))
    t = r.totals()
    if t["delivered"] != len(got) or t["queued"] != len(got) or t["refused"] or t["spooled"]:
        failures.append("agent totals %s; the server took %d profiles" % (t, len(got)))
    return failures


def test_push(smolder, pingpong):
    r = PingpongUpload(smolder, pingpong)
    ok = False
    try:
        url = r.start_server()
        r.start_agent(url, ["--tag", "env=it", "--profile-types", "cpu,offcpu,mutex"])
        r.wait_intervals(6)
        counters = r.stop_agent()
        got = r.delivered(service=SERVICE)
        failures = push_checks(r, counters, got)
        if failures:
            h.fail("\n  ".join(failures))
        ok = True
    finally:
        r.cleanup(ok)


# ---------------------------------------------------------------------------
# cpu_shares

def test_cpu_shares_all_types(smolder, workload):
    r = test_cpu_shares.test(smolder, workload,
                             agent_args=["--profile-types", "cpu,offcpu,mutex"])
    types = collections.Counter(p.type for p in r.all_profiles)
    h.log("profiles written by type: %s; offcpu_switches=%d offcpu_sampled=%d mutex_waits=%d"
          % (dict(types), r.total("offcpu_switches"), r.total("offcpu_sampled"),
             r.total("mutex_waits")))
    # cpu_shares burns one thread: it leaves the CPU when preempted, and
    # when it waits for its stdin after its done line (before SIGINT), so
    # at the default P it may have no offcpu profile; but the switches
    # were seen.
    if not r.total("offcpu_switches"):
        h.fail("--profile-types cpu,offcpu,mutex: no switch-out of cpu_shares seen "
               "(offcpu_switches=0)")


MODES = {
    "programs": test_programs,
    "push": test_push,
    "cpu_shares": test_cpu_shares_all_types,
}


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in MODES:
        sys.exit("usage: %s {%s} SMOLDER WORKLOAD" % (sys.argv[0], ",".join(MODES)))
    mode = MODES[sys.argv.pop(1)]
    h.run_test(mode, sys.argv[1:3])
