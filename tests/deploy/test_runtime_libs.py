"""deploy/Dockerfile, read without a Docker engine: its runtime stage
installs every shared library the built agent loads. Each library `ldd`
lists (the vDSO and the dynamic loader aside) belongs, by `dpkg -S` on this
machine, to a package that the final stage's `apt-get install` names, when
the agent links it directly (DT_NEEDED), or else to one those packages
depend on (their Depends/Pre-Depends, as dpkg knows them here); a library
of the base image itself (libc6: what Essential and required packages
pull in) needs no listing. Also: the
build stage is debian:12 and runs deploy/install-deps.sh with a BTF
argument, the final stage is debian:12-slim and copies the agent from the
build stage, and the entrypoint is /usr/local/bin/smolder.

    test_runtime_libs.py SMOLDER
"""

import os
import re
import shlex
import subprocess

import deploy_common as d
from deploy_common import fail, log


def dockerfile_stages(path):
    """[(from_line, [instructions])], continuation lines joined, comments
    dropped."""
    with open(path) as f:
        lines = f.read().splitlines()
    logical, cur = [], ""
    for line in lines:
        if not cur and line.strip().startswith("#"):
            continue
        if cur and line.strip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            logical.append(cur.strip())
        cur = ""
    if cur.strip():
        logical.append(cur.strip())
    stages = []
    for ins in logical:
        word = ins.split(None, 1)[0].upper()
        if word == "FROM":
            stages.append((ins, []))
        elif word == "ARG" and not stages:
            continue
        elif not stages:
            fail("%s: %r before the first FROM" % (path, ins))
        else:
            stages[-1][1].append(ins)
    return stages


def apt_installed(instructions):
    """The packages the stage's RUN lines `apt-get install`."""
    packages = []
    for ins in instructions:
        if not ins.upper().startswith("RUN "):
            continue
        for cmd in re.split(r"&&|;|\|\|", ins[4:]):
            words = shlex.split(cmd)
            for i in range(len(words) - 1):
                if words[i] in ("apt-get", "apt") and words[i + 1] == "install":
                    packages += [w for w in words[i + 2:] if not w.startswith("-")]
    return packages


def ldd(binary):
    """{soname: resolved path} of every library the loader maps."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0:
        fail("ldd %s failed: %s" % (binary, r.stderr))
    libs = {}
    for line in r.stdout.splitlines():
        line = line.strip()
        if "=>" not in line:
            continue  # linux-vdso.so.1 (...), /lib64/ld-linux-x86-64.so.2 (...)
        name, rest = [x.strip() for x in line.split("=>", 1)]
        if rest.startswith("not found"):
            fail("ldd: %s not found" % name)
        path = rest.split(" (", 1)[0].strip()
        if not path:
            continue  # the vDSO on some systems
        libs[name] = os.path.realpath(path)
    return libs


def needed(binary):
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    if r.returncode != 0:
        fail("readelf -d %s failed: %s" % (binary, r.stderr))
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def dpkg_database():
    """{package: (installed, priority, essential, [[alternatives]])} of
    every package dpkg knows here, from one dpkg-query."""
    r = subprocess.run(["dpkg-query", "-W", "-f",
                        "${Package}\t${Status}\t${Priority}\t${Essential}\t"
                        "${Depends}, ${Pre-Depends}\n"],
                       capture_output=True, text=True)
    db = {}
    for line in r.stdout.splitlines():
        name, status, priority, essential, deps = (line.split("\t") + [""] * 5)[:5]
        groups = []
        for group in deps.split(","):
            alts = [re.sub(r"\(.*?\)|\[.*?\]", "", a).strip().split(":")[0]
                    for a in group.split("|")]
            alts = [a for a in alts if a]
            if alts:
                groups.append(alts)
        db[name] = (status.endswith("install ok installed"), priority, essential == "yes", groups)
    return db


def depends_closure(db, packages):
    """The packages and everything they depend on, as dpkg knows them here
    (an alternative counts when it is installed)."""
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for alts in db.get(p, (False, "", False, []))[3]:
            installed = [a for a in alts if db.get(a, (False,))[0]]
            todo += installed[:1] or alts[:1]
    return seen


def base_image(db):
    """What debian:12-slim holds at least: the Essential and required
    packages, and what they depend on."""
    return depends_closure(db, [p for p, (inst, prio, ess, _) in db.items()
                                if inst and (ess or prio == "required")])


def test(smolder):
    stages = dockerfile_stages(d.DOCKERFILE)
    problems = []
    if len(stages) < 2:
        fail("deploy/Dockerfile has %d stage(s), not a build stage and a runtime stage" % len(stages))
    build_from, build = stages[0]
    final_from, final = stages[-1]
    if not re.match(r"FROM\s+debian:12(@\S+)?\s+AS\s+\S+$", build_from, re.I):
        problems.append("the build stage is %r, not FROM debian:12 AS ..." % build_from)
    if not re.match(r"FROM\s+debian:12-slim(@\S+)?$", final_from, re.I):
        problems.append("the runtime stage is %r, not FROM debian:12-slim" % final_from)
    build_text = "\n".join(build)
    if "bash deploy/install-deps.sh" not in build_text:
        problems.append("the build stage does not run bash deploy/install-deps.sh")
    if not re.search(r"^ARG BTF", build_text, re.M) or "-Dbtf=" not in build_text:
        problems.append("the build stage takes no BTF argument to meson's -Dbtf")
    stage_name = build_from.split()[-1]
    if not [i for i in final if re.match(r"COPY\s+--from=%s\s+\S+\s+/usr/local/bin/smolder$"
                                         % re.escape(stage_name), i)]:
        problems.append("the runtime stage does not COPY --from=%s ... /usr/local/bin/smolder" % stage_name)
    entry = [i for i in final if i.upper().startswith("ENTRYPOINT")]
    if entry != ['ENTRYPOINT ["/usr/local/bin/smolder"]']:
        problems.append("the entrypoint is %r, not [\"/usr/local/bin/smolder\"]" % entry)
    users = [i for i in final if i.upper().startswith("USER")]
    if users and users[-1].split()[1].split(":")[0] not in ("0", "root"):
        problems.append("the runtime stage runs as %r: the agent must be uid 0" % users[-1])

    packages = apt_installed(final)
    if not packages:
        fail("the runtime stage installs no packages with apt-get install")
    log("runtime packages: %s" % " ".join(packages))
    db = dpkg_database()
    for p in packages:
        if not db.get(p, (False,))[0] and \
           subprocess.run(["apt-cache", "show", p], capture_output=True).returncode != 0:
            problems.append("the runtime stage installs %s, which Debian here does not know" % p)
    if "ca-certificates" not in packages:
        problems.append("the runtime stage lacks ca-certificates (TLS uploads)")
    closure = depends_closure(db, packages)
    base = base_image(db)

    libs = ldd(smolder)
    direct = set(needed(smolder))
    owners = d.dpkg_owners(libs.values())
    used = set()
    for soname, path in sorted(libs.items()):
        owner = owners.get(path)
        if owner is None:
            problems.append("%s (%s) belongs to no Debian package here" % (soname, path))
            continue
        how = ("listed" if owner in packages else
               "base image" if owner in base else
               "by dependency" if owner in closure else None)
        if soname in direct:
            used.add(owner)
        log("  %-28s %-55s %-20s %s" % (soname, path, owner, how or "MISSING"))
        if soname in direct and how not in ("listed", "base image"):
            problems.append("%s, linked by the agent, is in %s, which the runtime stage "
                            "does not install" % (soname, owner))
        elif how is None:
            problems.append("%s is in %s, neither installed by the runtime stage nor a "
                            "dependency of what it installs" % (soname, owner))
    unused = [p for p in packages if p not in used and p != "ca-certificates"]
    if unused:
        log("installed though the agent does not link them (yet): %s" % " ".join(unused))
    if problems:
        fail("deploy/Dockerfile:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    d.main(test)
