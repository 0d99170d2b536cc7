"""deploy/kubernetes renders with `kubectl kustomize`, and what it renders is
the agent's deployment as the README promises: a DaemonSet with host pids,
a read-only root, every capability dropped but exactly the agent's set,
probes on 4100, NODE_NAME and POD_IP from the downward API, the server's
Secret (never in the manifests) as optional env (without it the agent
writes locally), /var/lib/smolder from the node; and a ClusterRole that
reads pods and nothing else.

    test_kustomize.py
"""

import re

import deploy_common as d
from deploy_common import fail, log

# The one capability set: also the systemd unit's (test_systemd_unit.py)
# and the one test_capabilities.py runs the agent with.
EXPECTED_CAPS = sorted(["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYSLOG",
                        "CHECKPOINT_RESTORE"])


def env_map(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_daemonset(ds):
    problems = []
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    c = d.agent_container(ds)
    sc = c.get("securityContext", {})

    if ds["metadata"].get("namespace") != "smolder":
        problems.append("the DaemonSet is not in namespace smolder")
    if pod.get("hostPID") is not True:
        problems.append("hostPID is not true")
    if pod.get("hostNetwork"):
        problems.append("hostNetwork is set: the agent does not need the node's network")
    if pod.get("serviceAccountName") != "smolder":
        problems.append("serviceAccountName is %r, not smolder" % pod.get("serviceAccountName"))
    if spec.get("updateStrategy", {}).get("type") != "RollingUpdate":
        problems.append("updateStrategy is not RollingUpdate")
    if {"operator": "Exists"} not in pod.get("tolerations", []):
        problems.append("no toleration {operator: Exists}: the agent would skip tainted nodes")
    if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
        problems.append("the selector does not match the pod template's labels")

    # Privileges.
    if sc.get("privileged") is not False:
        problems.append("securityContext.privileged is not false")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if sc.get("seccompProfile", {}).get("type") != "Unconfined":
        problems.append("seccompProfile is %r, not Unconfined: a runtime's default profile "
                        "may refuse bpf() and perf_event_open()" % sc.get("seccompProfile"))
    caps = sc.get("capabilities", {})
    if [x.upper() for x in caps.get("drop", [])] != ["ALL"]:
        problems.append("capabilities.drop is %r, not [ALL]" % caps.get("drop"))
    added = d.daemonset_capabilities(ds)
    if added != EXPECTED_CAPS:
        problems.append("capabilities.add is %s, not exactly %s" % (added, EXPECTED_CAPS))
    if pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append("runAsNonRoot: the agent must be uid 0 (deploy/Dockerfile says why)")

    # Probes and the HTTP port.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/ready")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") != 4100:
            problems.append("%s is %r, not httpGet %s on port 4100" % (probe, get, path))
    if 4100 not in [p.get("containerPort") for p in c.get("ports", [])]:
        problems.append("container port 4100 is not declared")

    # The downward API and the Secret.
    env = env_map(c)
    for name, field in (("NODE_NAME", "spec.nodeName"), ("POD_IP", "status.podIP")):
        got = env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if got != field:
            problems.append("env %s is not fieldRef %s (got %r)" % (name, field, env.get(name)))
    for name, key in (("SMOLDER_SERVER_ADDRESS", "address"), ("SMOLDER_BASIC_AUTH_USER", "user"),
                      ("SMOLDER_BASIC_AUTH_PASSWORD", "password"),
                      ("SMOLDER_TENANT_ID", "tenant")):
        ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref.get("name") != "smolder-server" or ref.get("key") != key:
            problems.append("env %s is not secretKeyRef smolder-server/%s (got %r)" %
                            (name, key, env.get(name)))
        if ref.get("optional") is not True:
            problems.append("env %s is not optional: without the Secret the pod would not "
                            "start" % name)
    for e in c.get("env", []):
        if "value" in e and any(w in e["name"] for w in ("PASSWORD", "TOKEN")):
            problems.append("env %s carries a secret in the manifest" % e["name"])

    args = c.get("args", [])
    for want in ("--http-listen=$(POD_IP):4100", "--kubernetes", "--node-name=$(NODE_NAME)",
                 "--spool-dir=/var/lib/smolder/spool",
                 "--debuginfod-cache-dir=/var/lib/smolder/debuginfod",
                 "--output-dir=/var/lib/smolder/profiles", "--cache-dir=/var/cache/smolder"):
        if want not in args:
            problems.append("args lack %s" % want)
    # An optional variable that is absent stays "$(NAME)" in an arg.
    for a in args:
        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
            src = env.get(ref, {}).get("valueFrom", {})
            if ref not in env or src.get("secretKeyRef", {}).get("optional"):
                problems.append("arg %s names $(%s), which may be unset" % (a, ref))

    # Volumes.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}

    def volume_at(path):
        m = mounts.get(path)
        if not m:
            problems.append("nothing is mounted at %s" % path)
            return None, None
        return m, volumes.get(m["name"])

    m, v = volume_at("/var/lib/smolder")
    if v is not None:
        hp = v.get("hostPath", {})
        if hp.get("path") != "/var/lib/smolder" or hp.get("type") != "DirectoryOrCreate":
            problems.append("/var/lib/smolder is not hostPath /var/lib/smolder DirectoryOrCreate: %r" % v)
        if m.get("readOnly"):
            problems.append("/var/lib/smolder is mounted read-only: the spool is written there")
    m, v = volume_at("/var/cache/smolder")
    if v is not None:
        hp = v.get("hostPath", {})
        if hp.get("path") != "/var/cache/smolder" or hp.get("type") != "DirectoryOrCreate":
            problems.append("/var/cache/smolder is not hostPath /var/cache/smolder DirectoryOrCreate: %r" % v)
        if m.get("readOnly"):
            problems.append("/var/cache/smolder is mounted read-only: --cache-dir is written there")
    m, v = volume_at("/sys/kernel/btf")
    if v is not None:
        if v.get("hostPath", {}).get("path") != "/sys/kernel/btf" or not m.get("readOnly"):
            problems.append("/sys/kernel/btf is not the node's, read-only: %r %r" % (m, v))
    m, v = volume_at("/tmp")
    if v is not None and "emptyDir" not in v:
        problems.append("/tmp is not an emptyDir: %r" % v)
    if any("secret" in v for v in volumes.values()):
        problems.append("a Secret volume: the server's Secret is read as optional env, so "
                        "that the DaemonSet runs without it")
    if "/sys/kernel/debug" in mounts:
        problems.append("/sys/kernel/debug is mounted: the agent does not need it")
    for name, vol in volumes.items():
        hp = vol.get("hostPath", {}).get("path")
        if hp and hp not in ("/var/lib/smolder", "/var/cache/smolder", "/sys/kernel/btf"):
            problems.append("volume %s mounts the node's %s, which the agent does not need" % (name, hp))

    # Resources.
    res = c.get("resources", {})
    want = {"requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"}}
    if res != want:
        problems.append("resources are %r, not %r" % (res, want))
    if c.get("imagePullPolicy") != "IfNotPresent":
        problems.append("imagePullPolicy is not IfNotPresent")
    return problems


def check_rbac(objs):
    problems = []
    role = d.find(objs, "ClusterRole", "smolder")
    rules = role.get("rules", [])
    want = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    norm = [{k: sorted(r.get(k, [])) for k in ("apiGroups", "resources", "verbs")} for r in rules]
    extra = [r for r in rules if set(r) - {"apiGroups", "resources", "verbs"}]
    if norm != want or extra:
        problems.append("the ClusterRole grants %r, not only pods get/list/watch" % rules)
    if [o for o in objs if o.get("kind") in ("Role", "RoleBinding")] or \
       len([o for o in objs if o.get("kind") == "ClusterRole"]) != 1:
        problems.append("roles other than the ClusterRole smolder")
    binding = d.find(objs, "ClusterRoleBinding", "smolder")
    if binding.get("roleRef", {}).get("name") != "smolder" or \
       binding.get("subjects") != [{"kind": "ServiceAccount", "name": "smolder", "namespace": "smolder"}]:
        problems.append("the ClusterRoleBinding does not bind smolder to smolder/smolder: %r" % binding)
    d.find(objs, "ServiceAccount", "smolder")
    d.find(objs, "Namespace", "smolder")
    if [o for o in objs if o.get("kind") == "Secret"]:
        problems.append("a Secret is in the manifests: credentials are created by hand")
    return problems


def test():
    kust, listed = d.listed_resources()
    want_files = {"namespace.yaml", "serviceaccount.yaml", "clusterrole.yaml",
                  "clusterrolebinding.yaml", "daemonset.yaml"}
    if set(kust.get("resources", [])) != want_files:
        fail("kustomization.yaml lists %s, not %s" % (kust.get("resources"), sorted(want_files)))

    k, owner = d.kubectl()
    if k:
        objs, how = d.render()
        log("rendered by %s" % how)
        if owner != "kubernetes-client":
            log("note: %s is not Debian's kubernetes-client (%s)" % (k, owner))
        key = lambda o: (o["kind"], o["metadata"]["name"])
        if sorted(map(key, objs)) != sorted(map(key, listed)):
            fail("kustomize rendered %s, the files hold %s" %
                 (sorted(map(key, objs)), sorted(map(key, listed))))
    else:
        log("kubectl not found (Debian: kubernetes-client): checking the listed files, "
            "not kustomize's rendering")
        objs = listed
    log("objects: %s" % ", ".join("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objs))

    problems = check_daemonset(d.find(objs, "DaemonSet", "smolder")) + check_rbac(objs)
    if problems:
        fail("the manifests are wrong:\n  " + "\n  ".join(problems))
    log("capabilities: %s" % " ".join(EXPECTED_CAPS))


if __name__ == "__main__":
    d.main(test)
