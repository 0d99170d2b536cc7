"""Integration: secrets given in the environment are used, then gone from
/proc/PID/environ while the agent runs (overwritten in place: unsetenv
alone leaves the bytes in the block exec copied).

    test_secret_env.py SMOLDER CPU_SHARES

Two runs against the fake Pyroscope, which refuses (401) uploads without the
credentials it was started with:
  1. SMOLDER_SERVER_ADDRESS=http://USER:PASSWORD@127.0.0.1:PORT (the
     Kubernetes Secret's form) and SMOLDER_HEADER=X-Api-Key=KEY;
  2. SMOLDER_BASIC_AUTH_USER and SMOLDER_BASIC_AUTH_PASSWORD.
Checked in each: every upload was accepted with the Authorization (and
header) the secrets make; /proc/PID/environ, read while the agent runs,
holds none of the secrets, and the variables that carried them have zeros
for values, while a variable that is no secret (SMOLDER_LOG_LEVEL) is still
there.
"""

import base64

import smolder_harness as h
import upload_harness as u

USER = "12345"
PASSWORD = "pa55-in-env-not-in-environ"
KEY = "key-9d2e-not-in-environ"


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return f.read()


def run_once(r, name, server_args, env, secrets, secret_vars, url_by_env):
    url = r.start_server(server_args, name)
    env = dict(env, SMOLDER_LOG_LEVEL="info")
    if url_by_env:
        env["SMOLDER_SERVER_ADDRESS"] = url.replace("://", "://%s:%s@" % (USER, PASSWORD), 1)
    r.start_agent(None if url_by_env else url, [], env=env)
    r.wait_intervals(2)
    environ = environ_of(r.agent.pid)
    r.wait_intervals(1)
    counters = r.stop_agent()
    for s in secrets:
        if s.encode() in environ:
            h.fail("%s: %r is in /proc/PID/environ while the agent runs" % (name, s))
    # Overwritten where it lies: the name may stay, its value is zeros.
    for var in secret_vars:
        at = environ.find((var + "=").encode())
        if at >= 0 and environ[at + len(var) + 1:at + len(var) + 2] != b"\0":
            h.fail("%s: %s still has a value in /proc/PID/environ" % (name, var))
    if b"SMOLDER_LOG_LEVEL=info" not in environ:
        h.fail("%s: /proc/PID/environ lost SMOLDER_LOG_LEVEL (read the wrong process?)" % name)
    got = r.delivered()
    refused = [x for x in r.received() if not x["accepted"]]
    if refused:
        h.fail("%s: the server refused %d uploads: %s"
               % (name, len(refused), refused[0].get("error")))
    r.check_every_interval(got, counters)
    r.server.stop()
    r.server = None
    h.log("%s: %d uploads accepted; /proc/PID/environ (%d bytes) holds no secret"
          % (name, len(got), len(environ)))
    return got


def test(r):
    basic = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()

    got = run_once(r, "url", ["--require-basic", "%s:%s" % (USER, PASSWORD)],
                   {"SMOLDER_HEADER": "X-Api-Key=" + KEY}, [PASSWORD, KEY],
                   ["SMOLDER_SERVER_ADDRESS", "SMOLDER_HEADER"], url_by_env=True)
    for rec in got:
        hd = rec["headers"]
        if hd.get("authorization") != basic or hd.get("x-api-key") != KEY:
            h.fail("url: Authorization %r, X-Api-Key %r"
                   % (hd.get("authorization"), hd.get("x-api-key")))

    got = run_once(r, "password", ["--require-basic", "%s:%s" % (USER, PASSWORD)],
                   {"SMOLDER_BASIC_AUTH_USER": USER, "SMOLDER_BASIC_AUTH_PASSWORD": PASSWORD},
                   [PASSWORD], ["SMOLDER_BASIC_AUTH_PASSWORD"], url_by_env=False)
    for rec in got:
        if rec["headers"].get("authorization") != basic:
            h.fail("password: Authorization %r" % rec["headers"].get("authorization"))


if __name__ == "__main__":
    u.main(test)
