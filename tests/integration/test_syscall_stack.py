"""Integration: a sample taken inside a system call joins the kernel stack to
the user stack that made the call.

    test_syscall_stack.py SMOLDER SYSCALL_LOOP

syscall_loop calls getrandom(buf, 64 KiB, 0) in a loop, through an inline
`syscall` in getrandom_direct(), for ~10 s; the agent profiles it by --pid at
97 Hz in 4 s intervals. Checked, for >= 80% of its samples, leaf first:
  - kernel frames (in [kernel.kallsyms], at address 0 by default) come first, and
    __x64_sys_getrandom (or __do_sys_getrandom) is among them;
  - the first frame after the kernel frames is getrandom_direct, in a user
    mapping, with main below it.
And in every sample, kernel frames never follow user frames.
"""

import os

import smolder_harness as h

RATE = 97
SECONDS = 10
INTERVAL = "4s"
SYSCALL_FRAMES = ("__x64_sys_getrandom", "__do_sys_getrandom")
USER_FN = "getrandom_direct"
MIN_SHARE = 80.0


def classify(sample):
    """Why a sample does not have the wanted shape, or None if it does."""
    kernel, user = sample.leaf_kernel_split()
    if not kernel:
        return "no kernel frames"
    if not any(f.name in SYSCALL_FRAMES for f in kernel):
        return "kernel frames without %s" % "/".join(SYSCALL_FRAMES)
    if not user:
        return "no user frames after the kernel frames"
    if user[0].name != USER_FN:
        return "first user frame is %s, not %s" % (user[0].name, USER_FN)
    if "main" not in [f.name for f in user[1:]]:
        return "no main below %s" % USER_FN
    return None


def test(smolder, workload, agent_args=(), on_sampling=None):
    r = h.run(smolder, [workload, str(SECONDS)], agent_args=agent_args, sample_rate=RATE,
              upload_interval=INTERVAL, on_sampling=on_sampling)
    h.check_output(r, RATE)

    service = os.path.basename(workload)
    samples = r.samples(service)
    total = h.count(samples)
    d = r.done
    cpu_ns = d["user_ns"] + d["sys_ns"]
    h.log("workload: %d calls, %.2f CPU s, %.1f%% of it in the kernel (getrusage)"
          % (d["calls"], cpu_ns / 1e9, 100.0 * d["sys_ns"] / cpu_ns if cpu_ns else 0))
    expected = h.expected_samples(cpu_ns, RATE)
    h.log("samples: %d (%.0f expected from its CPU time at %d Hz)" % (total, expected, RATE))
    if total < 0.5 * expected or total < 200:
        h.fail("only %d samples of the workload (it used %.2f CPU s: %.0f expected)"
               % (total, cpu_ns / 1e9, expected))

    good = 0
    reasons = {}
    examples = {}
    mixed = []
    for s in samples:
        seen_user = False
        for f in s.frames:
            if not f.is_kernel:
                seen_user = True
            elif seen_user:
                mixed.append(s)
                break
        why = classify(s)
        if why is None:
            good += s.count
        else:
            reasons[why] = reasons.get(why, 0) + s.count
            examples.setdefault(why, s)

    share = 100.0 * good / total
    h.log("kernel %s... then %s ... main: %d of %d samples (%.2f%%, want >= %.0f%%)"
          % ("/".join(SYSCALL_FRAMES), USER_FN, good, total, share, MIN_SHARE))
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        h.log("  %5d  %s, e.g. %s" % (n, why, examples[why].frames))
    best = max(samples, key=lambda s: s.count if classify(s) is None else -1, default=None)
    if best is not None and classify(best) is None:
        h.log("most frequent good stack (%d samples):" % best.count)
        for f in best.frames:
            h.log("    %-40s %#018x %s" % (f.name, f.address,
                                           f.mapping.file if f.mapping else "(no mapping)"))
        kernel_maps = {f.mapping.file if f.mapping else None for f in best.kernel_frames}
        user_maps = {f.mapping.file if f.mapping else None for f in best.user_frames}
        h.log("mappings: kernel frames %s, user frames %s" % (kernel_maps, user_maps))
        if kernel_maps & user_maps:
            h.fail("kernel and user frames share a mapping: %s" % (kernel_maps & user_maps))
        user_leaf = best.user_frames[0]
        if not (user_leaf.mapping and os.path.basename(user_leaf.mapping.file) == service):
            h.fail("%s's location is not in a mapping of %s: %s"
                   % (USER_FN, service, user_leaf.mapping))

    if mixed:
        h.fail("%d samples have kernel frames below user frames, e.g. %s"
               % (len(mixed), mixed[0].frames))
    if share < MIN_SHARE:
        h.fail("only %.2f%% of the samples show the system call under %s, want >= %.0f%%"
               % (share, USER_FN, MIN_SHARE))

    return r


if __name__ == "__main__":
    h.main(test)
