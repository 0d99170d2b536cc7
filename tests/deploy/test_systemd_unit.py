"""deploy/systemd/smolder.service: the same capability set as the DaemonSet
(bounding and ambient), the hardening the README promises, and a unit that
`systemd-analyze verify` accepts (a copy whose ExecStart runs the built
agent, since /usr/local/bin/smolder need not exist here).

    test_systemd_unit.py SMOLDER
"""

import os
import shutil
import subprocess
import tempfile

import deploy_common as d
from deploy_common import fail, log

WANT = {
    "Type": "simple",
    "StateDirectory": "smolder",
    "CacheDirectory": "smolder",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "read-only",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "Restart": "on-failure",
    "TimeoutStopSec": "30",
    "EnvironmentFile": "-/etc/smolder/smolder.env",
}


def test(smolder):
    s = d.unit_settings()
    problems = []
    for key, value in WANT.items():
        got = s.get(("Service", key))
        if got != [value]:
            problems.append("%s=%s expected, the unit has %r" % (key, value, got))
    # ProtectKernelLogs=yes takes CAP_SYSLOG out of the bounding set
    # (systemd.exec(5)): kernel frames would go unnamed.
    if s.get(("Service", "ProtectKernelLogs"), ["no"]) != ["no"]:
        problems.append("ProtectKernelLogs= is on: it removes CAP_SYSLOG")
    if s.get(("Service", "User"), ["root"]) not in (["root"], ["0"]):
        problems.append("User= is not root: the capabilities need uid 0 (see deploy/Dockerfile)")

    _, objs = d.listed_resources()
    ds_caps = d.daemonset_capabilities(d.find(objs, "DaemonSet", "smolder"))
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        caps = d.unit_capabilities(s, key)
        if caps != ds_caps:
            problems.append("%s is %s, the DaemonSet adds %s" % (key, caps, ds_caps))
    log("capabilities: %s" % " ".join(ds_caps))
    if problems:
        fail("the unit is wrong:\n  " + "\n  ".join(problems))

    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not os.access(analyze, os.X_OK):
        log("systemd-analyze not found (Debian: systemd): not verified")
        return
    with tempfile.TemporaryDirectory() as tmp:
        unit = os.path.join(tmp, "smolder.service")
        with open(d.UNIT) as f:
            text = f.read()
        if text.count("ExecStart=/usr/local/bin/smolder ") != 1:
            fail("ExecStart=/usr/local/bin/smolder ... not found once in the unit")
        with open(unit, "w") as f:
            f.write(text.replace("ExecStart=/usr/local/bin/smolder ",
                                 "ExecStart=%s " % os.path.abspath(smolder)))
        r = subprocess.run([analyze, "verify", "--man=no", unit],
                           capture_output=True, text=True, timeout=60)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or "smolder.service" in out:
            fail("`systemd-analyze verify` (%d):\n%s" % (r.returncode, out))
        log("systemd-analyze verify: ok%s" % ("\n" + out if out else ""))


if __name__ == "__main__":
    d.main(test)
