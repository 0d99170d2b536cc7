"""Integration: the agent as a pod runs it (issue 7), with nothing but the
environment and the files Kubernetes gives a pod: $KUBERNETES_SERVICE_HOST
and _PORT, $NODE_NAME, and the service account's projected volume at
/var/run/secrets/kubernetes.io/serviceaccount (token and ca.crt, behind
the kubelet's ..data symlink, which it swaps to rotate the token).

    test_kubernetes_in_cluster.py SMOLDER CPU_SHARES

The agent runs in a mount namespace of its own (unshare) where a tmpfs on
/run holds that volume, bind-mounted from a test directory. The fake API
server (fake_kube_api.py) serves HTTPS with a certificate of a test CA
for IP 127.0.0.1, and answers 401 to any token but the current one.
Three runs:
  1. ca.crt is the test CA: the list and watches are made over TLS with the
     token; halfway, the token is rotated (the ..data swap) and the watch
     broken, and the next requests carry the new token and are answered.
     The workload's samples carry its pod's labels.
  2. ca.crt is another CA: the TLS handshake fails, no request reaches the
     server (the token is never sent), the agent logs the certificate
     problem, counts kube_errors, and goes on profiling without pod labels.
  3. The token is one the server does not take: the agent logs the
     server's 401 Status and goes on profiling.
"""

import os
import shutil
import subprocess
import tempfile
import time

import kube_fixture as kf
import smolder_harness as h

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CID = "d" * 64
POD = kf.pod("web-7d4b9c8f5-x2x9z", "shop", "uid-d", 90, "server", CID,
             labels={"app.kubernetes.io/name": "web", "pod-template-hash": "7d4b9c8f5"},
             owner=("ReplicaSet", "web-7d4b9c8f5"))


def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True)
    if p.returncode:
        h.fail("openssl %s: %s" % (" ".join(args), p.stderr.strip()))


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name)
    return key, crt


def make_server_cert(d, ca_key, ca_crt):
    """A certificate for the API server at 127.0.0.1, as a cluster's CA
    signs kube-apiserver's (IP SAN of the service address)."""
    key, csr, crt = (os.path.join(d, "apiserver." + x) for x in ("key", "csr", "crt"))
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


class ServiceAccountVolume:
    """The kubelet's projected volume: ..<timestamp>/ holds the files,
    ..data points at it, and token, ca.crt, namespace point into ..data."""

    def __init__(self, path, ca_crt, token):
        self.path, self.generation = path, 0
        os.makedirs(path)
        for name in ("token", "ca.crt", "namespace"):
            os.symlink(os.path.join("..data", name), os.path.join(path, name))
        self.publish(ca_crt, token)

    def publish(self, ca_crt, token):
        self.generation += 1
        gen = "..2026_12_01_00_00_%02d.%d" % (self.generation, os.getpid())
        d = os.path.join(self.path, gen)
        os.makedirs(d)
        shutil.copy(ca_crt, os.path.join(d, "ca.crt"))
        with open(os.path.join(d, "token"), "w") as f:
            f.write(token)
        with open(os.path.join(d, "namespace"), "w") as f:
            f.write("smolder")
        tmp_link = os.path.join(self.path, "..data_tmp")
        os.symlink(gen, tmp_link)
        os.rename(tmp_link, os.path.join(self.path, "..data"))


def start_agent(smolder, tmp, sa, port, pid, out):
    """The agent in a mount namespace where sa is at SA_DIR, with a pod's
    environment and no Kubernetes flag."""
    script = ("set -e; mount -t tmpfs -o mode=0755 tmpfs /run; mkdir -p %s; "
              "mount --bind \"$SA\" %s; exec \"$@\"" % (SA_DIR, SA_DIR))
    env = dict(os.environ, SA=sa, KUBERNETES_SERVICE_HOST="127.0.0.1",
               KUBERNETES_SERVICE_PORT=str(port), NODE_NAME=kf.NODE)
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
           smolder, "--pid", str(pid), "--upload-interval", "2s", "--output-dir", out,
           "--log-level", "info", "--http-listen", "off"]
    log_path = os.path.join(tmp, "agent-%s.log" % os.path.basename(out))
    agent = subprocess.Popen(cmd, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    kf.wait("sampling started", lambda: "sampling started" in open(log_path).read()
            or agent.poll() is not None, 30)
    if agent.poll() is not None:
        h.fail("the agent exited %d; its log:\n%s" % (agent.returncode, open(log_path).read()))
    return agent, log_path


def stop_agent(agent, log_path):
    agent.send_signal(2)
    if agent.wait(30) != 0:
        h.fail("the agent exited %d; its log:\n%s" % (agent.returncode, open(log_path).read()))
    text = open(log_path).read()
    errors = sum(h.parse_counters(l).get("kube_errors", 0)
                 for l in text.splitlines() if " counters " in l)
    return text, errors


def check_profiled_unlabelled(out, text, what):
    """The agent went on without pods: samples written, none with pod labels."""
    by_service = kf.samples_by_service(out)
    if not by_service:
        h.fail("%s: no profile written; the agent's log:\n%s" % (what, text))
    labelled = [l for v in by_service.values() for _, _, l in v if "pod" in l]
    if labelled:
        h.fail("%s: samples with pod labels: %s" % (what, labelled[0]))


def run_good_ca(smolder, tmp, ca_crt, srv_crt, srv_key, proc):
    """Run 1: TLS verified with ca.crt, the token sent and rotated."""
    d = os.path.join(tmp, "good")
    os.makedirs(d)
    sa = ServiceAccountVolume(os.path.join(d, "sa"), ca_crt, "token-one")
    server, port, state, log = kf.start_api(
        d, {"node": kf.NODE, "rv": 100, "pods": [POD], "events": []},
        "--tls", srv_crt, srv_key, "--token", os.path.join(sa.path, "token"))
    out = os.path.join(d, "profiles")
    try:
        agent, log_path = start_agent(smolder, d, sa.path, port, proc.pid, out)
        kf.wait("a watch with the first token", lambda: any(
            r["query"].get("watch") and r["token"] == "token-one" for r in kf.requests(log)))
        time.sleep(3)
        sa.publish(ca_crt, "token-two")  # the server now takes only this one
        rotated = time.time()
        pod2 = dict(POD, metadata=dict(POD["metadata"], resourceVersion="101"))
        kf.write_state(state, {"node": kf.NODE, "rv": 101, "pods": [pod2],
                               "events": [{"type": "MODIFIED", "object": pod2}],
                               "break": True})
        kf.wait("a watch with the rotated token", lambda: any(
            r["query"].get("watch") and r["token"] == "token-two" and r["time"] > rotated
            for r in kf.requests(log)))
        time.sleep(3)
        text, errors = stop_agent(agent, log_path)
    finally:
        server.kill()
    reqs = kf.requests(log)
    h.log("run 1: %d requests (%d lists), %d after the rotation, kube_errors %d"
          % (len(reqs), sum(1 for r in reqs if not r["query"].get("watch")),
             sum(1 for r in reqs if r["time"] > rotated), errors))
    late = [r for r in reqs if r["time"] > rotated + 1 and r["token"] != "token-two"]
    if late:
        h.fail("a request made after the rotation carried the old token: %s" % late[0])
    if any(r["token"] not in ("token-one", "token-two") for r in reqs):
        h.fail("a request without the service account's token: %s" % reqs)
    if "kubernetes: 1 pod(s) of node %s listed" % kf.NODE not in text:
        h.fail("the agent did not log its first list; its log:\n" + text)
    web = kf.samples_by_service(out).get("web", [])
    if not web:
        h.fail("run 1: no samples of service web; the agent's log:\n" + text)
    for _, _, labels in web:
        want = {"namespace": "shop", "pod": POD["metadata"]["name"], "container": "server",
                "node": kf.NODE}
        wrong = {k: labels.get(k) for k, v in want.items() if labels.get(k) != v}
        if wrong:
            h.fail("run 1: pod labels %s, want %s" % (wrong, want))


def run_refused(smolder, tmp, name, ca_crt, srv_crt, srv_key, proc, token, expect):
    """Runs 2 and 3: the agent cannot get the pods; it must say why, count
    it, and go on profiling."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    sa = ServiceAccountVolume(os.path.join(d, "sa"), ca_crt, token)
    server_token = os.path.join(d, "server-token")
    with open(server_token, "w") as f:
        f.write("token-the-server-takes")
    server, port, _, log = kf.start_api(
        d, {"node": kf.NODE, "rv": 100, "pods": [POD], "events": []},
        "--tls", srv_crt, srv_key, "--token", server_token)
    out = os.path.join(d, "profiles")
    try:
        agent, log_path = start_agent(smolder, d, sa.path, port, proc.pid, out)
        time.sleep(5)
        text, errors = stop_agent(agent, log_path)
    finally:
        server.kill()
    reqs = kf.requests(log)
    warnings = [l for l in text.splitlines() if "kubernetes:" in l and "failed" in l]
    h.log("%s: %d requests reached the server, kube_errors %d; %s"
          % (name, len(reqs), errors, warnings[:1]))
    if not warnings or expect not in warnings[0]:
        h.fail("%s: no warning saying %r; the agent's log:\n%s" % (name, expect, text))
    if errors < 1:
        h.fail("%s: kube_errors not counted" % name)
    check_profiled_unlabelled(out, text, name)
    return reqs


def test(smolder, workload):
    if not shutil.which("unshare") or not shutil.which("openssl"):
        h.fail("unshare (util-linux) and openssl are needed")
    tmp = tempfile.mkdtemp(prefix="smolder-kube-tls-")
    containers = kf.Containers("kube-tls")
    try:
        ca_key, ca_crt = make_ca(tmp, "cluster-ca")
        _, other_crt = make_ca(tmp, "another-ca")
        srv_crt, srv_key = make_server_cert(tmp, ca_key, ca_crt)
        proc = containers.start("d", CID, [workload, "60", "7"])
        containers.go()

        run_good_ca(smolder, tmp, ca_crt, srv_crt, srv_key, proc)
        reqs = run_refused(smolder, tmp, "other-ca", other_crt, srv_crt, srv_key, proc,
                           "token-the-server-takes", "certificate")
        if reqs:
            h.fail("other-ca: %d request(s) reached a server whose certificate the CA did "
                   "not sign: the token was sent" % len(reqs))
        run_refused(smolder, tmp, "bad-token", ca_crt, srv_crt, srv_key, proc, "token-stale",
                    "HTTP 401: Unauthorized")
    finally:
        containers.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
