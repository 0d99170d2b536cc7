"""Shared by the Kubernetes integration tests: pods in the API server's
shape, the fake API server (fake_kube_api.py) and its request log, test
processes in containerd-style cgroups, and the labels of a profile's
samples as `go tool pprof -raw` prints them."""

import json
import os
import re
import subprocess
import sys
import time

import smolder_harness as h

CG_ROOT = "/sys/fs/cgroup/unified"
NODE = "test-node"


def pod(name, ns, uid, rv, container, cid, labels=None, annotations=None, owner=None):
    meta = {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
            "labels": labels or {}, "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                    "uid": uid + "-owner", "controller": True}]
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"nodeName": NODE, "containers": [{"name": container}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": container, "containerID": "containerd://" + cid, "ready": True}]}}


def write_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.rename(tmp, path)


def requests(log):
    """The fake server's log: one dict per request, oldest first."""
    if not os.path.exists(log):
        return []
    return [json.loads(l) for l in open(log) if l.strip()]


def wait(what, cond, timeout=30):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            h.fail("timed out waiting for " + what)
        time.sleep(0.2)


def start_api(tmp, state, *args):
    """Starts fake_kube_api.py on a free loopback port, serving STATE (a
    dict, written to tmp/state.json); (process, port, state path, log path)."""
    state_path = os.path.join(tmp, "state.json")
    log = os.path.join(tmp, "requests.jsonl")
    port_file = os.path.join(tmp, "port")
    write_state(state_path, state)
    server = subprocess.Popen([sys.executable, os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "fake_kube_api.py"),
        port_file, state_path, log] + list(args))
    wait("the fake API server", lambda: os.path.exists(port_file) or server.poll() is not None,
         10)
    if server.poll() is not None:
        h.fail("the fake API server exited %d" % server.returncode)
    return server, int(open(port_file).read()), state_path, log


class Containers:
    """Workload processes, each in a cgroup named as containerd names a
    container's (cri-containerd-<id>.scope), removed on exit."""

    def __init__(self, tag):
        self.base = os.path.join(CG_ROOT, "smolder-it-%s-%d" % (tag, os.getpid()))
        self.dirs, self.procs = [], {}

    def start(self, key, cid, argv):
        d = os.path.join(self.base, "cri-containerd-%s.scope" % cid)
        os.makedirs(d)
        self.dirs.append(d)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs[key] = p
        json.loads(p.stdout.readline())  # ready
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(p.pid))
        return p

    def go(self, *keys):
        """Lets the workloads named (all, if none is) burn CPU."""
        for key in keys or self.procs:
            self.procs[key].stdin.write("go\n")
            self.procs[key].stdin.flush()

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        for d in self.dirs + [self.base]:
            try:
                os.rmdir(d)
            except OSError:
                pass


def labelled_samples(path):
    """(count, {label: value}) for each sample of a profile, from
    `go tool pprof -raw`'s label lines."""
    p = subprocess.run([h.go_binary(), "tool", "pprof", "-raw", "-symbolize=none", path],
                       capture_output=True, text=True, check=True)
    out, cur = [], None
    in_samples = False
    for line in p.stdout.splitlines():
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if line.startswith("Locations"):
            break
        if not in_samples:
            continue
        m = re.match(r"^\s+(\d+): ", line)
        if m:
            cur = [int(m.group(1)), {}]
            out.append(cur)
        elif cur is not None and ":[" in line:
            for k, v in re.findall(r"(\S+?):\[([^\]]*)\]", line):
                cur[1][k] = v
    return out


def samples_by_service(out_dir):
    """{service_name: [(interval start, count, labels)]} over every profile
    the agent wrote in out_dir."""
    by_service = {}
    if not os.path.isdir(out_dir):
        return by_service
    for service in os.listdir(out_dir):
        for name in os.listdir(os.path.join(out_dir, service)):
            start = int(name.split("-")[0])
            for count, labels in labelled_samples(os.path.join(out_dir, service, name)):
                by_service.setdefault(labels.get("service_name"), []).append(
                    (start, count, labels))
    return by_service
