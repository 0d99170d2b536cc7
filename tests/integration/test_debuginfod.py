"""Integration: a stripped binary whose debug info exists only on a
debuginfod server is named in a later interval, fetched off the hot path.

    test_debuginfod.py SMOLDER SMOLDER_IT_DBGD

The test serves a directory holding an unstripped copy of the workload (the
only copy the agent could use: the running one is stripped, with no
debuglink, and no --debug-dir is given) with Debian's own `debuginfod -F -v`
on a free loopback port, and waits until the server answers 200 for
/buildid/BUILDID/debuginfo. The stripped copy runs for ~10 s, profiled by
--pid in 2 s intervals, with --debuginfod-url http://127.0.0.1:PORT and
--debuginfod-cache-dir set to an empty directory (DEBUGINFOD_URLS unset).
Decoded with `go tool pprof -raw -symbolize=none`. Checked:
  - the output keeps the contract, and the intervals tile the run (nothing
    waited for the network long enough to leave a gap);
  - an interval has stripped_hot with stripped_hot.c:LINE (between the
    STRIPPED_HOT_* markers) in the leaf Location of >= 80% of its samples,
    and so has every later interval of >= 20 samples (an earlier one may
    show the frame unnamed, by address and build-id);
  - the server's log, after the test's own requests, shows a request for
    that build-id; debuginfod_fetched >= 1; the agent's cache directory
    holds a file under that build-id.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = 10
INTERVAL = "2s"
INDEX_TIMEOUT_S = 30
MIN_INTERVAL_SAMPLES = 20


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_indexed(server, url, log_path):
    """Polls url until 200; fails if the server exits or the deadline passes."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            h.fail("debuginfod exited with status %s; its log:\n%s"
                   % (server.returncode, read_log(log_path)))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = resp.status
        except urllib.error.HTTPError as e:
            last = e.code
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.3)
    h.fail("debuginfod did not serve %s within %d s (last answer: %s); its log:\n%s"
           % (url, INDEX_TIMEOUT_S, last, read_log(log_path)))


def read_log(path, offset=0):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read()


def hot_named(leaf, lines):
    return any(f.name == "stripped_hot" and os.path.basename(f.file or "") == "stripped_hot.c"
               and f.line is not None and lines[0] <= f.line <= lines[1] for f in leaf)


def test(smolder, workload):
    et.no_debuginfod_env()
    source = os.path.join(et.source_dir(), "stripped_hot.c")
    lines = et.marker_range(source, "/* STRIPPED_HOT_BEGIN */", "/* STRIPPED_HOT_END */")
    bid = et.build_id(workload)
    if not bid:
        h.fail("%s has no build-id note (readelf -n)" % workload)
    if shutil.which("debuginfod") is None:
        h.fail("`debuginfod` not found (Debian package debuginfod)")

    tmp = tempfile.mkdtemp(prefix="smolder-it-dbgd-")
    server = None
    try:
        srv, bin_dir, cache = (os.path.join(tmp, d) for d in ("srv", "bin", "cache"))
        for d in (srv, bin_dir, cache):
            os.makedirs(d)
        shutil.copy2(workload, os.path.join(srv, os.path.basename(workload) + ".unstripped"))
        stripped = os.path.join(bin_dir, os.path.basename(workload))
        subprocess.run(["strip", "--strip-all", "-o", stripped, workload], check=True)
        left = et.section_names(stripped) & {".symtab", ".debug_info", ".gnu_debuglink"}
        if left or et.build_id(stripped) != bid:
            h.fail("the stripped copy keeps %s, build-id %s (want none of them, and %s)"
                   % (sorted(left), et.build_id(stripped), bid))

        port = free_port()
        log_path = os.path.join(tmp, "debuginfod.log")
        with open(log_path, "w") as log_file:
            server = subprocess.Popen(["debuginfod", "-F", "-v", "-p", str(port),
                                       "-d", os.path.join(tmp, "index.sqlite"),
                                       "-t", "0", "-g", "0", srv],
                                      stdin=subprocess.DEVNULL, stdout=log_file,
                                      stderr=subprocess.STDOUT, cwd=tmp)
        url = "http://127.0.0.1:%d" % port
        wait_indexed(server, "%s/buildid/%s/debuginfo" % (url, bid), log_path)
        log_offset = os.path.getsize(log_path)
        h.log("debuginfod serves %s on %s (build-id %s); agent cache %s"
              % (srv, url, bid, cache))

        r = h.run(smolder, [stripped, str(SECONDS)], sample_rate=RATE, upload_interval=INTERVAL,
                  agent_args=["--debuginfod-url", url, "--debuginfod-cache-dir", cache])
        h.check_output(r, RATE)
        server_log = read_log(log_path, log_offset)
        cached = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs]
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    failures = ["intervals: %s" % p for p in h.tiling_problems(r)]
    service = os.path.basename(stripped)
    per = []  # (interval, samples, named)
    for p in sorted((p for p in r.profiles if p.service == service), key=lambda p: p.start):
        total = sum(s.count for s in p.samples)
        named = sum(s.count for s in p.samples
                    if et.user_leaf(s) is not None and hot_named(et.user_leaf(s), lines))
        per.append((p, total, named))
        h.log("interval %s: %d samples, %d name stripped_hot stripped_hot.c:%d..%d"
              % (p.interval, total, named, lines[0], lines[1]))
    first = next((i for i, (_, t, n) in enumerate(per)
                  if t >= MIN_INTERVAL_SAMPLES and n >= 0.8 * t), None)
    if first is None:
        failures.append("no interval names stripped_hot stripped_hot.c:%d..%d in >= 80%% of its "
                        "samples; heaviest stacks of the last one:\n    %s"
                        % (lines[0], lines[1],
                           "\n    ".join(h.top_stacks(per[-1][0].samples)) if per else
                           "(no profile of %s; services %s)" % (service, h.services(r))))
    else:
        for p, t, n in per[first + 1:]:
            if t >= MIN_INTERVAL_SAMPLES and n < 0.8 * t:
                failures.append("interval %s: only %d of %d samples name stripped_hot, after "
                                "interval %s named it" % (p.interval, n, t, per[first][0].interval))
        h.log("first named interval: %s (%d earlier)" % (per[first][0].interval, first))

    requests = [l for l in server_log.splitlines() if "/buildid/%s/" % bid in l]
    h.log("server requests for %s during the run:\n  %s" % (bid, "\n  ".join(requests) or "none"))
    fetched = r.total("debuginfod_fetched")
    h.log("debuginfod_fetched=%d; agent cache holds %s" % (fetched, cached))
    if not requests:
        failures.append("the server's log shows no request for build-id %s during the run; "
                        "its log then:\n%s" % (bid, server_log[-3000:]))
    if not any(c.get("debuginfod_fetched") is not None for c in r.counters):
        failures.append("no debuginfod_fetched in the agent's counters lines")
    elif fetched < 1:
        failures.append("debuginfod_fetched is %d over the run" % fetched)
    if not any(bid in c for c in cached):
        failures.append("the agent's --debuginfod-cache-dir holds nothing under %s: %s"
                        % (bid, cached))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
