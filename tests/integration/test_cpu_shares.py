"""Integration: the profile's CPU shares agree with what the workload measured.

    test_cpu_shares.py SMOLDER CPU_SHARES

cpu_shares gives hot_alpha, hot_beta and hot_gamma random shares (12/30/58%
+-3, in a random order) and times every call with its own thread CPU clock.
The agent profiles it by --pid for ~20 s at 97 Hz in 6 s intervals (the
last one partial, flushed on SIGINT). Checked:
  - the output keeps the contract (format, per-interval accounting);
  - each hot function's share of the workload's samples, attributed by the
    first hot function found walking from the leaf (a sample whose leaf is in
    the kernel, on a timer tick say, still counts for the function below), is
    within 5 points of the share the workload measured;
  - hot_gamma is seen under both its callers, via_left and via_right, and
    their split agrees with the measurement within 5 points;
  - >= 95% of the samples have a stack that reaches main;
  - the number of samples matches the workload's CPU time at 97 Hz (+-20%),
    and is at least 1000.
"""

import os

import smolder_harness as h

RATE = 97
SECONDS = 20
INTERVAL = "6s"
HOT = ("hot_alpha", "hot_beta", "hot_gamma")
CALLERS = ("via_left", "via_right")
TOLERANCE_PP = 5.0
MIN_SAMPLES = 1000  # one busy CPU for 20 s at 97 Hz: ~1940 reachable


def attribute(sample):
    """(hot function, its caller) for the first hot function found walking
    from the leaf, or (None, None)."""
    names = sample.names
    for i, name in enumerate(names):
        if name in HOT:
            return name, names[i + 1] if i + 1 < len(names) else None
    return None, None


def test(smolder, workload, agent_args=()):
    """The checks above; agent_args are added to the agent's command line
    (test_profile_types: the same checks with every profile type on).
    Returns the Run."""
    r = h.run(smolder, [workload, str(SECONDS)], agent_args=agent_args, sample_rate=RATE,
              upload_interval=INTERVAL)
    h.check_output(r, RATE)

    service = os.path.basename(workload)
    services = h.services(r)
    if services != [service]:
        h.fail("profiled by --pid %s, the output has services %s, want only [%r]"
               % (r.ready["pids"], services, service))

    samples = r.samples(service)
    total = h.count(samples)
    cpu_ns = r.done["process_cpu_ns"]
    expected = h.expected_samples(cpu_ns, RATE)
    h.log("samples: %d; the workload used %.2f CPU s, which at %d Hz is %.0f samples (ratio %.3f)"
          % (total, cpu_ns / 1e9, RATE, expected, total / expected if expected else 0))
    if total < MIN_SAMPLES:
        h.fail("only %d samples of the workload, want >= %d (it used %.2f CPU s)"
               % (total, MIN_SAMPLES, cpu_ns / 1e9))
    if not 0.8 * expected <= total <= 1.2 * expected:
        h.fail("%d samples for %.2f CPU s at %d Hz: expected %.0f +-20%%"
               % (total, cpu_ns / 1e9, RATE, expected))

    # What the workload measured, per function and per caller of hot_gamma.
    m = r.done["measured_ns"]
    measured = {"hot_alpha": m["hot_alpha"], "hot_beta": m["hot_beta"],
                "hot_gamma": m["via_left"] + m["via_right"]}
    measured_sum = sum(measured.values())

    by_hot = dict.fromkeys(HOT, 0)
    by_caller = dict.fromkeys(CALLERS, 0)
    other_callers = {}
    unattributed = {}
    reach_main = 0
    for s in samples:
        if "main" in s.names:
            reach_main += s.count
        hot, caller = attribute(s)
        if hot is None:
            leaf = s.names[0] if s.names else "(empty stack)"
            unattributed[leaf] = unattributed.get(leaf, 0) + s.count
            continue
        by_hot[hot] += s.count
        if hot == "hot_gamma":
            if caller in by_caller:
                by_caller[caller] += s.count
            else:
                other_callers[caller] = other_callers.get(caller, 0) + s.count
    attributed = sum(by_hot.values())

    h.log("\nseed %s; target shares %s" % (r.ready["seed"], r.ready["target_share"]))
    h.log("%-10s %10s %10s %8s" % ("function", "measured", "profile", "diff"))
    failures = []
    for fn in HOT:
        want = 100.0 * measured[fn] / measured_sum
        got = 100.0 * by_hot[fn] / attributed if attributed else 0.0
        h.log("%-10s %9.2f%% %9.2f%% %+7.2fpp  (%d samples)" % (fn, want, got, got - want, by_hot[fn]))
        if abs(got - want) > TOLERANCE_PP:
            failures.append("%s: %.2f%% of the samples, but the workload measured %.2f%% "
                            "(more than %.0f points apart)" % (fn, got, want, TOLERANCE_PP))
    for c in CALLERS:
        want = 100.0 * m[c] / measured_sum
        got = 100.0 * by_caller[c] / attributed if attributed else 0.0
        h.log("%-10s %9.2f%% %9.2f%% %+7.2fpp  (hot_gamma under %s: %d samples)"
              % (c, want, got, got - want, c, by_caller[c]))
        if by_caller[c] == 0:
            failures.append("no sample of hot_gamma called from %s" % c)
        elif abs(got - want) > TOLERANCE_PP:
            failures.append("hot_gamma under %s: %.2f%% of the samples, measured %.2f%%"
                            % (c, got, want))
    h.log("attributed to a hot function: %d of %d samples (%.2f%%)"
          % (attributed, total, 100.0 * attributed / total))
    if unattributed:
        top = sorted(unattributed.items(), key=lambda kv: -kv[1])[:8]
        h.log("not attributed, by leaf: %s" % ", ".join("%s=%d" % kv for kv in top))
    if other_callers:
        h.log("hot_gamma under other callers: %s" % other_callers)
        gamma = by_hot["hot_gamma"]
        if sum(other_callers.values()) > 0.05 * gamma:
            failures.append("hot_gamma's caller is neither via_left nor via_right in %d of its "
                            "%d samples: %s" % (sum(other_callers.values()), gamma, other_callers))
    main_pct = 100.0 * reach_main / total
    h.log("stacks reaching main: %d of %d (%.2f%%)" % (reach_main, total, main_pct))
    if main_pct < 95.0:
        bad = [s for s in samples if "main" not in s.names][:5]
        failures.append("only %.2f%% of the stacks reach main, want >= 95%%; e.g. %s"
                        % (main_pct, [s.frames for s in bad]))
    if attributed < 0.9 * total:
        failures.append("only %d of %d samples have a hot function on their stack"
                        % (attributed, total))
    if failures:
        h.fail("\n  ".join(failures))
    return r


if __name__ == "__main__":
    h.main(test)
