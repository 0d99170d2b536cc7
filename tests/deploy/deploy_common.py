"""Shared by tests/deploy/: where the deploy files are, the Kubernetes
manifests as `kubectl kustomize` renders them, the DaemonSet's agent
container and capability set, the systemd unit's settings, and the agent's
--help (its flags and SMOLDER_* variables).

Only Debian's python3 and python3-yaml (deploy/install-deps.sh).
"""

import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KUSTOMIZE_DIR = os.path.join(ROOT, "deploy", "kubernetes")
UNIT = os.path.join(ROOT, "deploy", "systemd", "smolder.service")
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")

# meson's exit status for a skipped test.
SKIP = 77


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def log(msg):
    print(msg, flush=True)


def main(test, *failures):
    """Runs test(*argv[1:]); a Failure (or one of failures, another
    module's) is one message and exit status 1."""
    try:
        test(*sys.argv[1:])
    except (Failure,) + failures as e:
        print("\nFAIL: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
    log("PASS")


def _usrmerge_names(path):
    names = [path]
    for a, b in (("/usr/lib/", "/lib/"), ("/lib/", "/usr/lib/"),
                 ("/usr/bin/", "/bin/"), ("/bin/", "/usr/bin/"),
                 ("/usr/sbin/", "/sbin/"), ("/sbin/", "/usr/sbin/")):
        if path.startswith(a):
            names.append(b + path[len(a):])
    return names


def dpkg_owners(paths):
    """{path: package} for each of paths that a Debian package installed
    (one dpkg-query for all; the usrmerge twins of each name tried too)."""
    paths = list(paths)
    names = {n: p for p in paths for n in _usrmerge_names(p)}
    r = subprocess.run(["dpkg-query", "-S"] + sorted(names), capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion "):
            continue
        pkgs, sep, name = line.rpartition(": ")
        if sep and name in names:
            owners.setdefault(names[name], pkgs.split(",")[0].strip().split(":")[0])
    return owners


def dpkg_owner(path):
    """The Debian package that installed path, or None (its usrmerge twins
    tried too, as dpkg knows a file by the name its package gave it)."""
    return dpkg_owners([path]).get(path)


# ---------------------------------------------------------------------------
# The manifests.

def kubectl():
    """(path, owning package) of the kubectl that renders the manifests:
    /usr/bin/kubectl first (Debian's kubernetes-client installs it there;
    a kubectl elsewhere on PATH may be anything), else the one on PATH."""
    for k in ("/usr/bin/kubectl", shutil.which("kubectl")):
        if k and os.access(k, os.X_OK):
            return k, dpkg_owner(k)
    return None, None


def render():
    """The objects `kubectl kustomize deploy/kubernetes` prints, and a line
    saying which kubectl printed them."""
    k, owner = kubectl()
    if not k:
        fail("kubectl not found (Debian: kubernetes-client; any kubectl >= 1.14 "
             "has `kubectl kustomize`)")
    r = subprocess.run([k, "kustomize", KUSTOMIZE_DIR], capture_output=True, text=True)
    if r.returncode != 0:
        fail("`%s kustomize %s` failed (%d):\n%s" % (k, KUSTOMIZE_DIR, r.returncode, r.stderr))
    objs = [o for o in yaml.safe_load_all(r.stdout) if o is not None]
    version = subprocess.run([k, "version", "--client"], capture_output=True, text=True)
    first = (version.stdout.strip().splitlines() or ["?"])[0]
    how = "%s (package %s; %s)" % (k, owner or "none: not installed by dpkg", first)
    return objs, how


def listed_resources():
    """The objects of the files kustomization.yaml lists, read directly."""
    with open(os.path.join(KUSTOMIZE_DIR, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    objs = []
    for res in kust.get("resources", []):
        with open(os.path.join(KUSTOMIZE_DIR, res)) as f:
            objs += [o for o in yaml.safe_load_all(f) if o is not None]
    return kust, objs


def find(objs, kind, name=None):
    found = [o for o in objs if o.get("kind") == kind and
             (name is None or o.get("metadata", {}).get("name") == name)]
    if len(found) != 1:
        fail("expected one %s%s in the manifests, found %d" %
             (kind, " " + name if name else "", len(found)))
    return found[0]


def agent_container(daemonset):
    cs = daemonset["spec"]["template"]["spec"].get("containers", [])
    named = [c for c in cs if c.get("name") == "smolder"]
    if len(named) != 1:
        fail("the DaemonSet has no container named smolder (containers: %s)" %
             [c.get("name") for c in cs])
    return named[0]


def daemonset_capabilities(daemonset):
    """The capabilities the agent's container adds, as Kubernetes names
    them (BPF, PERFMON, ...), upper case, without CAP_."""
    caps = agent_container(daemonset).get("securityContext", {}).get("capabilities", {})
    return sorted(c.upper().removeprefix("CAP_") for c in caps.get("add", []))


# ---------------------------------------------------------------------------
# The systemd unit.

def unit_settings(path=UNIT):
    """{(section, key): [values]} of a unit file, comments dropped,
    continuation lines joined."""
    settings = {}
    section = None
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            fail("%s: a line that is no setting: %r" % (path, line))
        settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def unit_capabilities(settings, key):
    vals = settings.get(("Service", key))
    if not vals:
        fail("the unit has no %s=" % key)
    return sorted(c.upper().removeprefix("CAP_") for v in vals for c in v.split())


# ---------------------------------------------------------------------------
# The agent's --help.

def agent_help(smolder):
    """(flags, variables) that `smolder --help` lists: each flag, and each
    SMOLDER_* name it gives (a flag's variable, or one such as
    $SMOLDER_BASIC_AUTH_PASSWORD that a flag's text names)."""
    r = subprocess.run([smolder, "--help"], capture_output=True, text=True, timeout=30)
    text = r.stdout + r.stderr
    if r.returncode != 0:
        fail("`%s --help` exited %d:\n%s" % (smolder, r.returncode, text))
    flags = set(re.findall(r"^\s+(--[a-z0-9][a-z0-9-]*)", text, re.M))
    variables = set(re.findall(r"\bSMOLDER_[A-Z0-9_]+\b", text))
    if len(flags) < 10 or len(re.findall(r"\benv SMOLDER_", text)) < 10:
        fail("`smolder --help` lists %d flags and %d variables: not the help "
             "this test knows how to read" % (len(flags), len(variables)))
    return flags, variables
