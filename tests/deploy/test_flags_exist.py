"""Every flag the deploy files pass to the agent, and every SMOLDER_*
variable they name, is one the agent has: each --flag of the DaemonSet's
args and of the systemd unit's ExecStart is listed by `smolder --help`, and
so is each SMOLDER_* name written anywhere in deploy/kubernetes/,
deploy/systemd/ and deploy/Dockerfile (the env example in the unit's
comments included).

    test_flags_exist.py SMOLDER
"""

import glob
import os
import re
import shlex

import deploy_common as d
from deploy_common import fail, log


def flag_name(arg):
    return arg.split("=", 1)[0]


def test(smolder):
    flags, help_vars = d.agent_help(smolder)
    problems = []

    # The DaemonSet's args (the files as listed: what kustomize renders of
    # them is checked by test_kustomize.py).
    _, objs = d.listed_resources()
    ds = d.find(objs, "DaemonSet", "smolder")
    container = d.agent_container(ds)
    if container.get("command"):
        problems.append("the DaemonSet overrides the image's entrypoint: %r" % container["command"])
    ds_flags = [flag_name(a) for a in container.get("args", []) if a.startswith("--")]
    for a in container.get("args", []):
        if not a.startswith("--"):
            problems.append("DaemonSet arg %r is no --flag=value (the agent takes no "
                            "positional arguments)" % a)
    log("DaemonSet flags: %s" % " ".join(ds_flags))

    # The unit's ExecStart.
    settings = d.unit_settings()
    execs = settings.get(("Service", "ExecStart"), [])
    if len(execs) != 1:
        fail("the unit has %d ExecStart= lines, not one" % len(execs))
    argv = shlex.split(execs[0].lstrip("-@:+!"))
    if argv[0] != "/usr/local/bin/smolder":
        problems.append("ExecStart runs %s, not /usr/local/bin/smolder" % argv[0])
    unit_flags = [flag_name(a) for a in argv[1:] if a.startswith("--")]
    log("unit flags: %s" % " ".join(unit_flags))

    for where, used in (("DaemonSet args", ds_flags), ("unit ExecStart", unit_flags)):
        for f in used:
            if f not in flags:
                problems.append("%s pass %s, which `smolder --help` does not list" % (where, f))
            if f.startswith("--test-"):
                problems.append("%s pass the test-only flag %s" % (where, f))

    # SMOLDER_* names in the deploy files.
    files = sorted(glob.glob(os.path.join(d.KUSTOMIZE_DIR, "*.yaml")) +
                   glob.glob(os.path.join(d.ROOT, "deploy", "systemd", "*")) +
                   [d.DOCKERFILE])
    named = {}
    for path in files:
        with open(path) as f:
            for v in re.findall(r"\bSMOLDER_[A-Z0-9_]+\b", f.read()):
                named.setdefault(v, set()).add(os.path.relpath(path, d.ROOT))
    for v in sorted(named):
        if v not in help_vars:
            problems.append("%s (in %s) is not a variable of `smolder --help`" %
                            (v, ", ".join(sorted(named[v]))))
    log("variables: %s" % " ".join(sorted(named)))

    if problems:
        fail("flags or variables the agent does not have:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    d.main(test)
