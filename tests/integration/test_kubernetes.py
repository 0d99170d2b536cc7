"""Integration: pods from the Kubernetes API server label the processes in
their containers (issue 7).

    test_kubernetes.py SMOLDER CPU_SHARES

Three cpu_shares processes are put in cgroups whose paths carry container
ids, as containerd's do (cri-containerd-<id>.scope). A fake API server
(fake_kube_api.py, the real shapes: a PodList, a chunked watch stream of
ADDED/MODIFIED events, a 410 ERROR) describes this node's pods: A's pod is
in the list (a Deployment's: its ReplicaSet and pod-template-hash; label
app.kubernetes.io/name=web), B's pod is annotated smolder.io/profile:
"false", C's pod arrives by a watch event after the agent has started:
C's process starts using CPU 0.5 s before an interval ends, and its pod
comes 0.3 s after that end (a container runs before the kubelet reports
its id). The
agent runs with --test-kube-api-url and --node-name. Along the run the
watch is broken after an event (the agent must resume from the last
version it saw), then answered 410 Gone (the agent must list again), and
A's pod changes (a MODIFIED event's new label must show after the relist).
Checked, on the profiles (go tool pprof -raw) and the server's log:
  - A's samples carry service_name=web, namespace, pod, container, node;
  - B's samples are in no profile, and the agent counted them dropped;
  - C's samples carry service_name=jobs/run (no annotation, no app label:
    ns/container), from its first interval on: no sample is without its
    pod's labels;
  - the watch was resumed from the version of the event before the break,
    and a second list followed the 410.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import kube_fixture as kf
import smolder_harness as h

NODE = kf.NODE
IDS = {key: (c * 64) for key, c in (("a", "a"), ("b", "b"), ("c", "c"))}
SECONDS = 14
INTERVAL_S = 4  # the wait for a pod not known yet is half of it, at most 2 s
pod = kf.pod

POD_A = pod("web-7d4b9c8f5-x2x9z", "shop", "uid-a", 90, "server", IDS["a"],
            labels={"app.kubernetes.io/name": "web", "pod-template-hash": "7d4b9c8f5"},
            owner=("ReplicaSet", "web-7d4b9c8f5"))
POD_B = pod("quiet-0", "shop", "uid-b", 91, "quiet", IDS["b"],
            annotations={"smolder.io/profile": "false"})
POD_C = pod("batch-1", "jobs", "uid-c", 101, "run", IDS["c"])


def test(smolder, workload):
    tmp = tempfile.mkdtemp(prefix="smolder-kube-")
    containers = kf.Containers("kube")
    agent = server = None
    try:
        for key, cid in IDS.items():
            containers.start(key, cid, [workload, str(SECONDS), "7"])
        server, port, state, log = kf.start_api(
            tmp, {"node": NODE, "rv": 100, "pods": [POD_A, POD_B], "events": []})
        url = "http://127.0.0.1:%d" % port

        out = os.path.join(tmp, "profiles")
        cmd = [smolder, "--test-kube-api-url", url, "--node-name", NODE,
               "--upload-interval", "%ds" % INTERVAL_S,
               "--output-dir", out, "--log-level", "info", "--http-listen", "off"]
        for p in containers.procs.values():
            cmd += ["--pid", str(p.pid)]
        agent_log = os.path.join(tmp, "agent.log")
        agent = subprocess.Popen(cmd, stdout=open(agent_log, "w"), stderr=subprocess.STDOUT)
        kf.wait("sampling started", lambda: "sampling started" in open(agent_log).read(), 30)
        kf.wait("the first watch", lambda: any(r["query"].get("watch") for r in kf.requests(log)))
        containers.go("a", "b")

        # C starts burning CPU half a second before an interval ends, and its
        # pod arrives 0.3 s after that end: its first interval is drained
        # before the pod is known, and must still carry the pod's labels.
        kf.wait("the first interval", lambda: " counters " in open(agent_log).read())
        first = h.parse_counters(next(l for l in open(agent_log) if " counters " in l))
        boundary = int(first["interval"].split("-")[1])
        while boundary < time.time() + 1.5:
            boundary += INTERVAL_S
        time.sleep(boundary - 0.5 - time.time())
        containers.go("c")
        time.sleep(boundary + 0.3 - time.time())
        c_added = time.time()
        kf.write_state(state, {"node": NODE, "rv": 101, "pods": [POD_A, POD_B, POD_C],
                               "events": [{"type": "ADDED", "object": POD_C}], "break": True})
        kf.wait("a watch resumed from 101", lambda: any(
            r["query"].get("watch") and r["query"].get("resourceVersion") == "101"
            for r in kf.requests(log)))
        a2 = json.loads(json.dumps(POD_A))
        a2["metadata"]["resourceVersion"] = "102"
        a2["metadata"]["labels"]["tier"] = "front"
        kf.write_state(state, {"node": NODE, "rv": 102, "pods": [a2, POD_B, POD_C],
                              "events": [{"type": "ADDED", "object": POD_C},
                                         {"type": "MODIFIED", "object": a2}],
                              "gone_below": 1000})
        kf.wait("a list after the 410", lambda: sum(
            1 for r in kf.requests(log) if not r["query"].get("watch")) >= 2)
        time.sleep(max(0.0, SECONDS - (time.time() - c_added) + 1))
        agent.send_signal(2)
        if agent.wait(30) != 0:
            h.fail("the agent exited %d; its log:\n%s" % (agent.returncode, open(agent_log).read()))

        by_service = kf.samples_by_service(out)
        h.log("services: %s" % {k: len(v) for k, v in by_service.items()})
        web = by_service.get("web", [])
        if not web:
            h.fail("no samples of service web (pod A); services: %s" % sorted(by_service))
        want = {"namespace": "shop", "pod": "web-7d4b9c8f5-x2x9z", "container": "server",
                "node": NODE}
        for _, _, labels in web:
            for k, v in want.items():
                if labels.get(k) != v:
                    h.fail("pod A's samples: %s=%r, want %r (labels %s)"
                           % (k, labels.get(k), v, labels))
        if any("quiet" in str(l) for _, _, l in sum(by_service.values(), [])):
            h.fail("samples of the opted-out pod B are in a profile")
        dropped = 0
        for line in open(agent_log):
            if " counters " in line:
                dropped += h.parse_counters(line).get("samples_dropped", 0)
        if dropped < 100:
            h.fail("the opted-out pod's samples were not counted dropped (%d)" % dropped)
        jobs = by_service.get("jobs/run", [])
        if not jobs:
            h.fail("no samples of service jobs/run (pod C, added by a watch event); services: %s"
                   % sorted(by_service))
        if any(l.get("pod") != "batch-1" or l.get("namespace") != "jobs" for _, _, l in jobs):
            h.fail("pod C's labels: %s" % jobs[0][2])
        first_c = min(start for start, _, _ in jobs)
        h.log("pod C: started at %.1f, pod known at %.1f, labelled from the interval at %d"
              % (boundary - 0.5, c_added, first_c))
        if first_c != boundary - INTERVAL_S:
            h.fail("pod C's samples are labelled from the interval starting at %d, not from its "
                   "first one, at %d" % (first_c, boundary - INTERVAL_S))
        if set(by_service) != {"web", "jobs/run"}:
            h.fail("samples without their pod's labels: services %s" % sorted(by_service))
        lists = [r for r in kf.requests(log) if not r["query"].get("watch")]
        h.log("requests: %d lists, %d watches"
              % (len(lists), len(kf.requests(log)) - len(lists)))
        if len(lists) > 3:
            h.fail("%d lists: the agent should list once, and again after the 410" % len(lists))

    finally:
        if agent and agent.poll() is None:
            agent.kill()
        if server:
            server.kill()
        containers.close()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    h.main(test)
