"""The debuginfod worker against Debian's real debuginfod server.

    test_debuginfod.py TEST_SYM_DEBUGINFOD DBGD_FIXTURE

Starts `debuginfod` (the server, never skipped: a missing one fails the
test) on a free port, serving a directory with a copy of DBGD_FIXTURE (built
with -g), waits until it serves the fixture's debuginfo (HTTP 200, with a
deadline), then runs the C test (test_debuginfod.c says what it checks)
with the server's URL and pid, a URL where nothing listens, the fixture's
build-id as readelf prints it, and a build-id the server does not have.
Then, in what the server logged (-v) while the C test ran, the requests of
libdebuginfod (User-Agent elfutils/...) must be there: the fixture's
debuginfo served (200), and the unknown build-id asked exactly twice (once,
then once more after the retry time; never in between) and answered 404.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

READY_DEADLINE_S = 60
TEST_DEADLINE_S = 240


def fail(msg):
    print("test_debuginfod: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    """A port nothing listens on now (the kernel's choice, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    if not m:
        fail("readelf -n %s shows no build-id" % path)
    return m.group(1)


def wait_served(server, url, log_path):
    """Until the server answers 200 for the debuginfo, or the deadline."""
    end = time.monotonic() + READY_DEADLINE_S
    last = None
    while time.monotonic() < end:
        if server.poll() is not None:
            fail("debuginfod exited (%d) before serving; its log:\n%s"
                 % (server.returncode, open(log_path).read()))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
                last = r.status
        except urllib.error.HTTPError as e:
            last = e.code
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.2)
    fail("%s not served within %d s (last: %s); server log:\n%s"
         % (url, READY_DEADLINE_S, last, open(log_path).read()))


def stop(server):
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGCONT)  # the C test may have left it stopped
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def client_requests(log, build_id):
    """(status, line) of each request libdebuginfod made for build_id."""
    pat = re.compile(r"UA:elfutils/\S* .*GET /buildid/%s/debuginfo (\d{3}) " % build_id)
    return [(m.group(1), line) for line in log.splitlines() if (m := pat.search(line))]


def main(test_exe, fixture):
    daemon = shutil.which("debuginfod")
    if not daemon:
        fail("no debuginfod in PATH (Debian's package debuginfod; deploy/install-deps.sh)")
    for tool in ("readelf",):
        if not shutil.which(tool):
            fail("no %s in PATH" % tool)

    tmp = tempfile.mkdtemp(prefix="smolder-dbgd.")
    server = None
    try:
        served = os.path.join(tmp, "served")
        os.mkdir(served)
        shutil.copy(fixture, served)
        bid = build_id(fixture)
        unknown = secrets.token_hex(20)
        port, dead_port = free_port(), free_port()
        url = "http://127.0.0.1:%d" % port
        log_path = os.path.join(tmp, "server.log")

        with open(log_path, "w") as log:
            server = subprocess.Popen(
                [daemon, "-F", served, "-p", str(port), "-d", os.path.join(tmp, "db.sqlite"),
                 "-v"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        wait_served(server, "%s/buildid/%s/debuginfo" % (url, bid), log_path)
        log_from = os.path.getsize(log_path)

        env = dict(os.environ,
                   DBGD_URL=url,
                   DBGD_DEAD_URL="http://127.0.0.1:%d" % dead_port,
                   DBGD_PID=str(server.pid),
                   DBGD_BUILD_ID=bid,
                   DBGD_UNKNOWN_ID=unknown)
        env.pop("DEBUGINFOD_VERBOSE", None)
        env.pop("DEBUGINFOD_PROGRESS", None)
        try:
            rc = subprocess.run([test_exe], env=env, timeout=TEST_DEADLINE_S).returncode
        except subprocess.TimeoutExpired:
            fail("%s did not end within %d s" % (test_exe, TEST_DEADLINE_S))
        if server.poll() is not None:
            fail("debuginfod exited (%d) during the test" % server.returncode)
        server.send_signal(signal.SIGCONT)
        time.sleep(0.5)  # its log of the last requests
        with open(log_path) as f:
            f.seek(log_from)
            log = f.read()

        errors = []
        fetched = client_requests(log, bid)
        if not any(status == "200" for status, _ in fetched):
            errors.append("no request of libdebuginfod for %s served 200" % bid)
        asked = client_requests(log, unknown)
        if len(asked) != 2 or any(status != "404" for status, _ in asked):
            errors.append("unknown build-id %s: %d requests, want 2 answered 404:\n%s"
                          % (unknown, len(asked), "\n".join(line for _, line in asked)))
        if rc:
            errors.append("%s exited %d" % (test_exe, rc))
        if errors:
            print("server log during the test:\n" + log, file=sys.stderr)
            fail("; ".join(errors))
        print("test_debuginfod: server log shows %d request(s) for the fixture, %d for "
              "the unknown build-id" % (len(fetched), len(asked)))
    finally:
        if server:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: test_debuginfod.py TEST_SYM_DEBUGINFOD DBGD_FIXTURE")
    main(sys.argv[1], sys.argv[2])
