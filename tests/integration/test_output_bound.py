"""Integration: with no server, the local output stays within
--output-max-bytes, as an always-on agent on a host must (the systemd
unit's and the DaemonSet's /var/lib/smolder/profiles).

    test_output_bound.py SMOLDER CPU_SHARES

The agent profiles cpu_shares in 1 s intervals for 12 s with a bound of a
few intervals' worth of files. Checked, on the directory the run leaves:
  - its files hold at most the bound;
  - profiles were removed, and counted: written less removed is what is
    left;
  - what is left is the newest: exactly the last intervals that wrote a
    profile, up to the last one, each decoded by `go tool pprof -raw`.
"""

import os
import shutil

import smolder_harness as h

BOUND = 12 * 1024
SECONDS = 12


def test(smolder, workload):
    r = h.run(smolder, [workload, str(SECONDS)], upload_interval="1s",
              agent_args=["--output-max-bytes", str(BOUND)], keep_output=True)
    try:
        check(r)
    finally:
        shutil.rmtree(r.outdir, ignore_errors=True)


def check(r):
    left = sum(os.path.getsize(p.path) for p in r.profiles)
    written = sum(c.get("profiles_written", 0) for c in r.counters)
    removed = sum(c.get("output_removed", 0) for c in r.counters)
    h.log("%d profiles written, %d removed, %d left holding %d bytes (bound %d)"
          % (written, removed, len(r.profiles), left, BOUND))
    if left > BOUND:
        h.fail("the output holds %d bytes, past the bound of %d" % (left, BOUND))
    if removed == 0:
        h.fail("no profile was removed: the bound was never reached (%d written)" % written)
    if written - removed != len(r.profiles):
        h.fail("%d written less %d removed is not the %d left" % (written, removed,
                                                                len(r.profiles)))
    ends = [int(c["interval"].split("-")[1]) for c in r.counters if c.get("profiles_written")]
    kept = sorted(p.end for p in r.profiles)
    if kept != ends[len(ends) - len(kept):]:
        h.fail("what is left is not the newest intervals: kept %s, written %s" % (kept, ends))
    if r.stray_files:
        h.fail("files the agent did not name: %s" % r.stray_files)


if __name__ == "__main__":
    h.main(test)
