"""Integration: a server that takes a request and never answers holds up
neither the sampling nor the intervals after it.

    test_upload_hang.py SMOLDER CPU_SHARES

With --upload-timeout 2s, the fake Pyroscope hangs on one push (it reads the
request and says nothing, for up to 30 s), then behaves. Checked, by
counting intervals and never by timing them:
  - while the request hung, the agent went on closing intervals with
    samples (its run loop does not wait for the network);
  - every interval, the hung one included, reached the server in the end,
    exactly once and in order.
Then the server hangs again and the agent gets SIGTERM: it exits 0 (within
the harness's 30 s) with every profile not delivered, the hung one among
them, in the spool, and a new agent delivers them, first, in order.
"""

import smolder_harness as h
import upload_harness as u


def test(r):
    url = r.start_server()
    r.start_agent(url, ["--upload-timeout", "2s"])
    r.wait_intervals(2)
    r.server.set_mode("hang", count=1, hang_seconds=30)
    r.wait_for("the hung request", lambda: any(x["mode"] == "hang" for x in r.received()), 20)
    hung_at = len(r.counters())
    r.wait_intervals(6)
    during = r.counters()[hung_at:hung_at + 6]
    if any(c.get("samples_profiled", 0) == 0 for c in during):
        h.fail("intervals without samples while the request hung: %s"
               % [c["interval"] for c in during])
    # The spool empty, and in memory at most the profile of the interval
    # just closed: the queue's gauge is read right after that one is
    # handed over, before or after the uploader takes it (in one CI run it
    # was always before). check_every_interval below sees each delivered.
    r.wait_for("everything delivered", lambda: r.counters()[-1].get("spool_files", 1) == 0 and
               r.counters()[-1].get("upload_queue", 2) <= 1, 60)
    r.wait_intervals(1)
    counters = r.stop_agent()
    got = r.delivered()
    r.check_every_interval(got, counters)
    hung = [x for x in r.received() if x["mode"] == "hang"][0]
    if hung["id"] not in {x["id"] for x in got}:
        h.fail("the profile whose upload hung never arrived")
    h.log("%d intervals closed while the request hung; all %d delivered"
          % (len(during), len(got)))

    r.start_agent(url, ["--upload-timeout", "20s"])
    r.wait_intervals(2)
    r.server.set_mode("hang", count=None, hang_seconds=120)
    r.wait_for("the second hung request",
               lambda: sum(x["mode"] == "hang" for x in r.received()) == 2, 20)
    second = r.stop_agent()
    t = r.totals()
    if t["spooled"] < 1 or t["spooled"] != t["queued"] - t["delivered"]:
        h.fail("stopped while a request hung: totals %s, want every profile not delivered "
               "(the hung one among them) in the spool" % t)
    r.server.set_mode("ok")
    r.start_agent(url)
    r.wait_for("the spool to drain", lambda: r.counters() and
               r.counters()[-1].get("spool_files", 1) == 0, 30)
    third = r.stop_agent()
    got = r.delivered()
    r.check_every_interval(got, counters + second + third)
    h.log("stopped during a hang: %d profiles spooled, then delivered" % t["spooled"])


if __name__ == "__main__":
    u.main(test)
