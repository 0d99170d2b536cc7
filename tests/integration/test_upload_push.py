"""Integration: profiles reach a Pyroscope-compatible server over the push
API, with the right labels and the right content.

    test_upload_push.py SMOLDER CPU_SHARES

The agent profiles cpu_shares in 1 s intervals and pushes each interval's
profile to the fake Pyroscope (which validates as Pyroscope does) with two
tags. Checked, on what the server took:
  - every interval the agent closed with samples arrived exactly once, in
    order, under Content-Type application/proto and smolder's User-Agent;
  - the series labels are __name__=process_cpu, service_name=cpu_shares and
    the tags, sorted, nothing else, each sample with a UUID of its own;
  - decoded by `go tool pprof -raw`, each profile is cpu/nanoseconds at the
    agent's period, its samples add up to what the agent counted for that
    interval, and the workload's hot functions are in stacks reaching main;
  - the agent counted every profile as delivered, and nothing went to the
    spool.
"""

import re

import smolder_harness as h
import upload_harness as u

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HOT = ("hot_alpha", "hot_beta", "hot_gamma")


def check_labels(rec):
    want = {"__name__": "process_cpu", "service_name": u.SERVICE, "env": "it",
            "host_group": "ci"}
    if rec["labels"] != want:
        h.fail("series labels %s, want %s" % (rec["labels"], want))
    if not UUID_RE.match(rec["id"] or ""):
        h.fail("sample ID %r is not a version 4 UUID" % rec["id"])
    hdr = rec["headers"]
    if hdr.get("content-type") != "application/proto":
        h.fail("Content-Type %r" % hdr.get("content-type"))
    if not hdr.get("user-agent", "").startswith("smolder/"):
        h.fail("User-Agent %r" % hdr.get("user-agent"))


def check_content(r, rec, counters_by_start):
    if rec["sample_types"] != [["cpu", "nanoseconds"]]:
        h.fail("sample types %s" % rec["sample_types"])
    if rec["period"] != 1000000000 // u.RATE:
        h.fail("period %s, want %d" % (rec["period"], 1000000000 // u.RATE))
    start = rec["time_nanos"] // 1000000000
    c = counters_by_start[start]
    p = r.decode(rec)
    hits = h.count(p.samples)
    if hits != c["samples_profiled"]:
        h.fail("interval %s: the profile holds %d samples, the agent profiled %d"
               % (c["interval"], hits, c["samples_profiled"]))
    return p


def test(r):
    url = r.start_server()
    r.start_agent(url, ["--tag", "env=it", "--tag", "host_group=ci"])
    r.wait_intervals(6)
    counters = r.stop_agent()
    got = r.delivered()
    starts = r.check_every_interval(got, counters)
    if len(starts) < 5:
        h.fail("only %d intervals delivered" % len(starts))
    by_start = {int(c["interval"].split("-")[0]): c for c in counters}
    ids = set()
    hot_samples = total = reach_main = 0
    for rec in got:
        check_labels(rec)
        ids.add(rec["id"])
        p = check_content(r, rec, by_start)
        for s in p.samples:
            names = s.names
            total += s.count
            if any(n in HOT for n in names):
                hot_samples += s.count
                if "main" in names:
                    reach_main += s.count
    if len(ids) != len(got):
        h.fail("%d profiles share %d IDs" % (len(got), len(ids)))
    if total == 0 or hot_samples < 0.9 * total:
        h.fail("only %d of %d samples in the hot functions %s" % (hot_samples, total, HOT))
    if reach_main < 0.99 * hot_samples:
        h.fail("only %d of %d hot samples have stacks reaching main" % (reach_main, hot_samples))
    t = r.totals()
    if t["delivered"] != len(got) or t["queued"] != len(got) or t["refused"] or t["spooled"]:
        h.fail("agent totals %s; the server took %d profiles" % (t, len(got)))
    if any(c.get("spool_files", 0) for c in counters):
        h.fail("profiles went to the spool while the server was up")
    h.log("%d intervals delivered, %d samples, %d in the hot functions"
          % (len(got), total, hot_samples))


if __name__ == "__main__":
    u.main(test)
