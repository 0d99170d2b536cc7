"""The DaemonSet's agent container, started the way the kubelet starts it,
with each shape of the server's Secret (which the manifests leave out):

  none                                  profiles written on the node
  {address}                             sent to a server without auth
  {address, user, password, tenant}     sent with basic auth and X-Scope-OrgID

The container's command line and environment come from the rendered
DaemonSet (kubectl kustomize): its args, with $(VAR) expanded as the kubelet
expands them; its env, from the downward API (NODE_NAME, POD_IP=127.0.0.1)
and from the Secret (a secretKeyRef whose key is missing is left out if
optional; if not optional the pod would not start, and the test fails).
The agent runs in a mount namespace where it is the image's
/usr/local/bin/smolder, the node's /var/lib/smolder and /var/cache/smolder
(the hostPaths) are test directories and /tmp an empty tmpfs (the emptyDir).
SMOLDER_UPLOAD_INTERVAL=2s is the one variable the test adds, to be quick.
Checked: the kubelet's probes answer on $(POD_IP):4100 (/healthz 200,
/ready 200 once an interval is written), SIGTERM makes it exit 0, and the
profiles are where the Secret says: decoded by `go tool pprof -raw` on the
node's disk, or taken by the fake Pyroscope of tests/upload with the
credentials asked for, the password never in the log.

    test_daemonset_env.py SMOLDER     (as root; needs BPF)
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import deploy_common as d
from deploy_common import fail, log

sys.path.insert(0, os.path.join(d.ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(d.ROOT, "tests", "upload"))
import fake_pyroscope  # noqa: E402
import smolder_harness as h  # noqa: E402

POD_IP = "127.0.0.1"
PORT = 4100
NODE = "test-node"
RUN_S = 7
DOWNWARD = {"spec.nodeName": NODE, "status.podIP": POD_IP}
PASSWORD = "s3cret-Pa55word-in-a-Secret"


def expand(text, env):
    """$(VAR) as the kubelet expands it: a defined variable's value, an
    undefined one left as it is, $$ for a literal $."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                  text)


def container_env(container, secret):
    env = {}
    for e in container.get("env", []):
        name = e["name"]
        if "value" in e:
            env[name] = expand(e["value"], env)
            continue
        src = e.get("valueFrom", {})
        if "fieldRef" in src:
            env[name] = DOWNWARD[src["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in src:
            ref = src["secretKeyRef"]
            if ref.get("name") != "smolder-server":
                fail("env %s reads Secret %s, not smolder-server" % (name, ref.get("name")))
            if secret is None or ref["key"] not in secret:
                if not ref.get("optional"):
                    fail("env %s: Secret key %s is missing and not optional: the pod would "
                         "not start" % (name, ref["key"]))
                continue
            env[name] = secret[ref["key"]]
        else:
            fail("env %s: a source this test does not know: %s" % (name, src))
    return env


def check_port_free():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as libmicrohttpd does
    try:
        s.bind((POD_IP, PORT))
    except OSError as e:
        fail("%s:%d is taken (%s): the DaemonSet's --http-listen needs it" % (POD_IP, PORT, e))
    finally:
        s.close()


def probe(path):
    try:
        with urllib.request.urlopen("http://%s:%d%s" % (POD_IP, PORT, path), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def run_pod(smolder, container, secret, tmp, name):
    """Runs the container's agent for RUN_S s; (its log, the node's
    /var/lib/smolder as seen from outside)."""
    state = os.path.join(tmp, name, "var-lib-smolder")
    os.makedirs(state)
    cache = os.path.join(tmp, name, "var-cache-smolder")
    os.makedirs(cache, mode=0o700)
    env = container_env(container, secret)
    args = [expand(a, env) for a in container.get("args", [])]
    env = dict(env, PATH="/usr/sbin:/usr/bin:/sbin:/bin", SMOLDER_UPLOAD_INTERVAL="2s")
    # The agent at the image's ENTRYPOINT, bound there before /tmp (where a
    # checkout may be) is covered by the emptyDir.
    script = ("set -e; mount -t tmpfs -o mode=0755 tmpfs /var/lib; mkdir /var/lib/smolder; "
              "mount --bind \"$STATE\" /var/lib/smolder; "
              "mount -t tmpfs -o mode=0755 tmpfs /var/cache; mkdir /var/cache/smolder; "
              "mount --bind \"$CACHE\" /var/cache/smolder; "
              "mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin; touch /usr/local/bin/smolder; "
              "mount --bind \"$AGENT\" /usr/local/bin/smolder; mount -t tmpfs tmpfs /tmp; "
              "unset STATE CACHE AGENT; exec /usr/local/bin/smolder \"$@\"")
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + args
    log_path = os.path.join(tmp, name, "agent.log")
    check_port_free()
    # Something to sample on an idle machine: the DaemonSet profiles all.
    burner = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    agent = subprocess.Popen(cmd, env=dict(env, STATE=state, CACHE=cache, AGENT=smolder),
                             stdin=subprocess.DEVNULL,
                             stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while probe("/healthz") != 200:
            if agent.poll() is not None or time.monotonic() > deadline:
                fail("%s: /healthz never answered 200; the agent's log:\n%s"
                     % (name, open(log_path).read()))
            time.sleep(0.2)
        start = time.monotonic()
        while probe("/ready") != 200:
            if agent.poll() is not None or time.monotonic() > start + 30:
                fail("%s: /ready never answered 200; the agent's log:\n%s"
                     % (name, open(log_path).read()))
            time.sleep(0.2)
        time.sleep(max(0.0, RUN_S - (time.monotonic() - start)))
        agent.terminate()  # what the kubelet sends
        rc = agent.wait(30)
    finally:
        burner.kill()
        burner.wait()
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    text = open(log_path).read()
    if rc != 0:
        fail("%s: the agent exited %d after SIGTERM; its log:\n%s" % (name, rc, text))
    if PASSWORD in text:
        fail("%s: the password is in the agent's log" % name)
    return text, state


def local_profiles(state):
    root = os.path.join(state, "profiles")
    found = []
    for dirpath, _, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files if f.endswith(".pb.gz")]
    return found


def check_no_secret(smolder, container, tmp):
    text, state = run_pod(smolder, container, None, tmp, "no-secret")
    files = local_profiles(state)
    if not files:
        fail("no Secret: no profile in the node's /var/lib/smolder/profiles; the log:\n" + text)
    samples = 0
    for f in files:
        samples += sum(s.count for s in h.decode(f, "", 0, 0).samples)
    log("no Secret: %d profiles, %d samples on the node's disk" % (len(files), samples))
    if samples == 0:
        fail("no Secret: the profiles hold no sample")


def check_with_server(smolder, container, tmp, name, secret, server_args, want_headers):
    server = fake_pyroscope.FakePyroscope(args=server_args)
    server.start(os.path.join(tmp, name, "pyroscope"))
    try:
        secret = dict(secret, address=server.url)
        text, state = run_pod(smolder, container, secret, tmp, name)
        got = server.received()
    finally:
        server.stop()
    taken = [r for r in got if r.get("status") == 200 and r.get("accepted")]
    log("%s: the server took %d of %d profiles" % (name, len(taken), len(got)))
    if not taken:
        fail("%s: the server took no profile (%d requests); the agent's log:\n%s"
             % (name, len(got), text))
    for r in got:
        headers = r.get("headers", {})
        for k, v in want_headers.items():
            if headers.get(k) != v:
                fail("%s: header %s is %r, want %r" % (name, k, headers.get(k), v))
        if not want_headers.get("authorization") and "authorization" in headers:
            fail("%s: an Authorization header with no credentials in the Secret" % name)
    if local_profiles(state):
        fail("%s: profiles written on the node as well as sent" % name)


def test(smolder):
    smolder = os.path.abspath(smolder)
    objs, how = d.render()
    log("rendered by " + how)
    container = d.agent_container(d.find(objs, "DaemonSet", "smolder"))
    tmp = tempfile.mkdtemp(prefix="smolder-ds-env-")
    try:
        check_no_secret(smolder, container, tmp)
        check_with_server(smolder, container, tmp, "address-only", {}, [], {})
        basic = "Basic " + base64.b64encode(("123456:" + PASSWORD).encode()).decode()
        check_with_server(smolder, container, tmp, "basic-auth",
                          {"user": "123456", "password": PASSWORD, "tenant": "team-a"},
                          ["--require-basic", "123456:" + PASSWORD],
                          {"authorization": basic, "x-scope-orgid": "team-a"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    d.main(test, h.Failure)
