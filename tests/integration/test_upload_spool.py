"""Integration: the spool across a restart, and its bound.

    test_upload_spool.py SMOLDER CPU_SHARES

1. Restart with a non-empty spool. The agent runs with no server listening
   at its address: each interval's profile goes to the spool; it is stopped
   (SIGTERM) and reports them spooled. A corrupt file is added to the spool
   by hand. A new agent is started with the same spool and a server that
   works. Checked: every profile of the first run arrives (with the ID it
   was spooled with, before any of the second run's), then the second
   run's, all in order; the corrupt file is counted, removed, and survived.
2. The bound. With no server and --spool-max-bytes a few profiles large,
   the agent runs for many intervals. Checked: the spool never grew past
   its bound, the oldest profiles were dropped and counted
   (spool_dropped_full), and when a server comes up, what arrives is the
   newest profiles, in order.
"""

import os
import socket

import smolder_harness as h
import upload_harness as u


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spool_files(r):
    return sorted(f for f in os.listdir(r.spool) if f.endswith(".spool"))


def restart_with_spool(r):
    dead = "http://127.0.0.1:%d" % free_port()
    r.start_agent(dead)
    r.wait_intervals(4)
    first = r.stop_agent()
    first_starts = r.profiled_intervals(first)
    t = r.totals()
    if t["delivered"] or t["spooled"] != t["queued"] or t["spooled"] < len(first_starts):
        h.fail("with no server: totals %s for %d intervals" % (t, len(first_starts)))
    files = spool_files(r)
    if len(files) != t["spooled"]:
        h.fail("%d files in the spool, the agent said %d" % (len(files), t["spooled"]))
    # Named (queued 1 ns before the oldest) to be met first, and skipped.
    oldest = int(files[0].split(".")[0])
    with open(os.path.join(r.spool, "%020d.spool" % (oldest - 1)), "wb") as f:
        f.write(b"SMOLDSP1 this is not a zstd frame")

    url = r.start_server()
    r.start_agent(url)
    r.wait_for("the spool to drain", lambda: not spool_files(r), 30)
    r.wait_intervals(3)
    second = r.stop_agent()
    got = r.delivered()
    starts = [x["time_nanos"] // 1000000000 for x in got]
    want = first_starts + r.profiled_intervals(second)
    if starts != want:
        h.fail("delivered %s, want the first run's %s then the second's %s"
               % (starts, first_starts, r.profiled_intervals(second)))
    corrupt = sum(c.get("spool_corrupt", 0) for c in second)
    if corrupt != 1:
        h.fail("spool_corrupt counted %d, want 1" % corrupt)
    h.log("restart: %d spooled profiles delivered before %d new ones; corrupt file skipped"
          % (len(first_starts), len(want) - len(first_starts)))
    r.server.stop()
    r.server = None


def bounded(r):
    dead = "http://127.0.0.1:%d" % free_port()
    bound = 12 * 1024
    r.start_agent(dead, ["--spool-max-bytes", str(bound)])
    r.wait_intervals(12)
    counters = r.stop_agent()
    dropped = sum(c.get("spool_dropped_full", 0) for c in counters)
    peak = max(c.get("spool_bytes", 0) for c in counters)
    if peak > bound:
        h.fail("the spool held %d bytes, over its bound of %d" % (peak, bound))
    if dropped == 0:
        h.fail("12 intervals into a %d-byte spool dropped nothing (peak %d bytes)"
               % (bound, peak))
    kept = spool_files(r)
    starts = r.profiled_intervals(counters)
    url = r.start_server(name="server-bounded")
    r.start_agent(url)
    r.wait_for("the spool to drain", lambda: not spool_files(r), 30)
    r.stop_agent()
    got = [x["time_nanos"] // 1000000000 for x in r.delivered()][:len(kept)]
    if got != starts[len(starts) - len(kept):]:
        h.fail("from the bounded spool arrived %s, want the newest %d of %s"
               % (got, len(kept), starts))
    h.log("bound: %d dropped, %d kept (the newest), peak %d of %d bytes"
          % (dropped, len(kept), peak, bound))


def test(r):
    restart_with_spool(r)
    bounded(r)


if __name__ == "__main__":
    u.main(test)
