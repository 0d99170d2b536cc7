"""Integration: profiles reach the server over Pyroscope's legacy /ingest
API (--ingest-api legacy).

    test_upload_legacy.py SMOLDER CPU_SHARES

The same run as test_upload_push.py, sent as POST /ingest with the pprof in
a multipart part named "profile". Checked, on what the fake server took:
  - every interval the agent closed with samples arrived exactly once, in
    order;
  - the name is cpu_shares{env=it,host_group=ci} (service_name first, the
    tags in braces), with from/until the interval's whole seconds,
    sampleRate=97, spyName=smolder, and no format= (with a multipart body
    the server would read it as a raw profile);
  - a tag whose value the name syntax cannot hold (a ',') is left out with
    a warning naming it, and the profile still arrives;
  - the profile, decoded by `go tool pprof -raw`, holds the samples the
    agent counted for its interval.
"""

import smolder_harness as h
import upload_harness as u


def test(r):
    url = r.start_server()
    r.start_agent(url, ["--ingest-api", "legacy", "--tag", "env=it", "--tag", "host_group=ci",
                        "--tag", "team=a,b"])
    r.wait_intervals(5)
    counters = r.stop_agent()
    got = r.delivered()
    r.check_every_interval(got, counters)
    by_start = {int(c["interval"].split("-")[0]): c for c in counters}
    for rec in got:
        if rec["api"] != "ingest":
            h.fail("api %s, want ingest" % rec["api"])
        q = rec["labels"]["__query__"]
        labels = {k: v for k, v in rec["labels"].items() if k != "__query__"}
        if labels != {"service_name": u.SERVICE, "env": "it", "host_group": "ci"}:
            h.fail("labels %s from name %r" % (labels, q.get("name")))
        if q.get("name") != "cpu_shares{env=it,host_group=ci}":
            h.fail("name %r" % q.get("name"))
        start = rec["time_nanos"] // 1000000000
        c = by_start[start]
        s, e = map(int, c["interval"].split("-"))
        if q.get("from") != str(s) or q.get("until") != str(e):
            h.fail("from=%s until=%s, want %d and %d" % (q.get("from"), q.get("until"), s, e))
        if q.get("sampleRate") != str(u.RATE) or q.get("spyName") != "smolder":
            h.fail("query %s" % q)
        if "format" in q:
            h.fail("format=%s sent with a multipart body" % q["format"])
        hits = h.count(r.decode(rec).samples)
        if hits != c["samples_profiled"]:
            h.fail("interval %s: %d samples in the profile, %d profiled"
                   % (c["interval"], hits, c["samples_profiled"]))
    warned = [l for l in r.agent_log if "label team" in l and "legacy" in l]
    if len(warned) != 1:
        h.fail("want one warning naming the label team, got %d:\n%s"
               % (len(warned), r.log_text()))
    h.log("%d intervals delivered over /ingest" % len(got))


if __name__ == "__main__":
    u.main(test)
