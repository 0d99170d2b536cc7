"""Integration: what a hosted Pyroscope (Grafana Cloud) or a multi-tenant
server needs to see arrives with every upload, and no secret reaches the
log.

    test_upload_auth.py SMOLDER CPU_SHARES

Three short runs against the fake Pyroscope, each refusing (401) what does
not carry the credentials it was started with:
  1. basic auth: --basic-auth-user and --basic-auth-password-file;
  2. a bearer token from --bearer-token-file, with --tenant-id (sent as
     X-Scope-OrgID) and two --header NAME=VALUE;
  3. a bearer token from $SMOLDER_BEARER_TOKEN, no file.
Checked: every profile of each run was accepted (none refused), carrying
exactly the Authorization, X-Scope-OrgID and extra headers given; and
neither the password nor a token appears anywhere in the agent's log.
"""

import base64
import os

import smolder_harness as h
import upload_harness as u

PASSWORD = "pa55-w0rd-not-for-logs"
TOKEN = "tok-3f9c1e-not-for-logs"


def run_once(r, name, server_args, agent_args, env=None):
    url = r.start_server(server_args, name)
    r.start_agent(url, agent_args, env=env)
    r.wait_intervals(3)
    counters = r.stop_agent()
    got = r.delivered()
    refused = [x for x in r.received() if not x["accepted"]]
    if refused:
        h.fail("the server refused %d uploads: %s" % (len(refused), refused[0].get("error")))
    r.check_every_interval(got, counters)
    log = r.log_text()
    for secret in (PASSWORD, TOKEN):
        if secret in log:
            h.fail("a secret is in the agent's log:\n" + log)
    r.server.stop()
    r.server = None
    return got


def test(r):
    pw = os.path.join(r.tmp, "password")
    tok = os.path.join(r.tmp, "token")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")

    got = run_once(r, "basic", ["--require-basic", "12345:" + PASSWORD],
                   ["--basic-auth-user", "12345", "--basic-auth-password-file", pw])
    want = "Basic " + base64.b64encode(("12345:" + PASSWORD).encode()).decode()
    for rec in got:
        if rec["headers"].get("authorization") != want:
            h.fail("basic auth: Authorization %r" % rec["headers"].get("authorization"))

    got = run_once(r, "bearer", ["--require-bearer", TOKEN],
                   ["--bearer-token-file", tok, "--tenant-id", "team-a",
                    "--header", "X-Team=profiling", "--header", "X-Trace-Sampled=0"])
    for rec in got:
        hd = rec["headers"]
        if hd.get("authorization") != "Bearer " + TOKEN:
            h.fail("bearer: Authorization %r" % hd.get("authorization"))
        if hd.get("x-scope-orgid") != "team-a":
            h.fail("X-Scope-OrgID %r" % hd.get("x-scope-orgid"))
        if hd.get("x-team") != "profiling" or hd.get("x-trace-sampled") != "0":
            h.fail("extra headers %s" % hd)

    got = run_once(r, "env", ["--require-bearer", TOKEN], [], env={"SMOLDER_BEARER_TOKEN": TOKEN})
    for rec in got:
        if rec["headers"].get("authorization") != "Bearer " + TOKEN:
            h.fail("token from the environment: Authorization %r"
                   % rec["headers"].get("authorization"))
        if "x-scope-orgid" in rec["headers"]:
            h.fail("X-Scope-OrgID sent without --tenant-id")
    h.log("basic auth, bearer file, tenant, headers and bearer from the environment all arrived")


if __name__ == "__main__":
    u.main(test)
