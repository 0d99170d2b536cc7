"""Integration: a profile the server refuses with a 400 is not retried,
and its refusal is told with the server's own message; the uploads after
it go on.

    test_upload_refused.py SMOLDER CPU_SHARES

The fake Pyroscope answers one push with 400 and a Connect error body, then
behaves. Checked: the server saw the refused profile's ID exactly once (no
retry, however long the agent runs after), the agent logged the server's
message and counted one refused upload, and every later interval was
delivered, in order.
"""

import smolder_harness as h
import upload_harness as u


def test(r):
    url = r.start_server()
    r.start_agent(url)
    r.wait_intervals(2)
    r.server.set_mode("400", count=1)
    r.wait_for("the refusal", lambda: any(x["status"] == 400 for x in r.received()), 20)
    r.wait_intervals(5)
    counters = r.stop_agent()

    refused = [x for x in r.received() if x["status"] == 400]
    if len(refused) != 1:
        h.fail("want 1 refused upload, the server saw %d" % len(refused))
    rid = refused[0]["id"]
    tries = [x for x in r.received() if x["id"] == rid]
    if len(tries) != 1:
        h.fail("the refused profile was sent %d times" % len(tries))
    said = [l for l in r.agent_log if "refused (HTTP 400" in l and "fake: refused on purpose" in l]
    if len(said) != 1:
        h.fail("want one log line with the server's message, got %d:\n%s"
               % (len(said), r.log_text()))
    if sum(c.get("uploads_refused", 0) for c in counters) != 1:
        h.fail("uploads_refused counted %d times" % sum(c.get("uploads_refused", 0)
                                                         for c in counters))
    got = r.delivered()
    refused_start = refused[0]["time_nanos"] // 1000000000
    later = [x["time_nanos"] // 1000000000 for x in got
             if x["time_nanos"] // 1000000000 > refused_start]
    want = [s for s in r.profiled_intervals(counters) if s > refused_start]
    if later != want:
        h.fail("after the refusal, delivered %s, want %s" % (later, want))
    if len(want) < 4:
        h.fail("only %d intervals after the refusal" % len(want))
    h.log("one 400, not retried; %d intervals delivered after it" % len(later))


if __name__ == "__main__":
    u.main(test)
