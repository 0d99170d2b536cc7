"""Integration: a profile's first Mapping is its main executable, so that
`go tool pprof` names the right File.

    test_main_mapping.py SMOLDER SMOLDER_IT_PLT

Two executables share one service: smolder_it_plt (a child burning all of
8 s) and a copy of it without its build-id, smolder_it_plt_light (burning
a fifth of the time, started first: the lower pid), both renamed service
"pair" by a --config rule and profiled by --pid. The profile of a service of several processes
is named after its most sampled process's executable. Checked, on every
file of the service (at least two intervals):
  - `protoc --decode` (the file as written, before any reader reorders
    it): Mapping 1 is smolder_it_plt, and its code is one Mapping only;
  - `go tool pprof -top`: the "File:" line says smolder_it_plt;
  - over the run, smolder_it_plt's samples outnumber the light one's
    (`go tool pprof -raw`), so it is the most sampled indeed.
"""

import gzip
import os
import re
import shutil
import subprocess
import tempfile

import smolder_harness as h

RATE = 97
SECONDS = 8
INTERVAL = "4s"
SERVICE = "pair"
RULES = """relabel_configs:
  - source_labels: [__meta_process_exe]
    regex: .*/smolder_it_plt(_light)?
    target_label: service_name
    replacement: %s
""" % SERVICE
PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pprof")


def protoc_mappings(path):
    """The Mappings' file names in the order the file holds them, decoded
    by protoc from pprof/profile.proto."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    p = subprocess.run(["protoc", "--proto_path=" + PROTO, "--decode=perftools.profiles.Profile",
                        "profile.proto"], input=raw, capture_output=True, check=True)
    text = p.stdout.decode(errors="replace")
    strings = [bytes(s, "latin-1").decode("unicode_escape")
               for s in re.findall(r'^string_table: "(.*)"$', text, re.M)]
    files = []
    for m in re.findall(r"^mapping \{\n(.*?)^\}", text, re.M | re.S):
        fn = re.search(r"^\s*filename: (\d+)$", m, re.M)
        files.append(strings[int(fn.group(1))] if fn else "")
    return files


def top_file(path):
    """The "File:" line of `go tool pprof -top`."""
    p = subprocess.run([h.go_binary(), "tool", "pprof", "-top", "-symbolize=none", path],
                       capture_output=True, text=True, check=True)
    m = re.search(r"^File: (.*)$", p.stdout, re.M)
    return m.group(1) if m else None


def test(smolder, workload):
    tmp = tempfile.mkdtemp(prefix="smolder-main-")
    lib_path = os.environ.get("LD_LIBRARY_PATH")
    try:
        # Without its build-id, the copy is another file to pprof too,
        # which merges mappings of one build-id.
        light = os.path.join(tmp, "smolder_it_plt_light")
        subprocess.run(["objcopy", "--remove-section=.note.gnu.build-id", workload, light],
                       check=True)
        rules = os.path.join(tmp, "rules.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        # The copy finds the build's library as the original does.
        os.environ["LD_LIBRARY_PATH"] = os.path.dirname(workload)
        r = h.run(smolder, [workload, str(SECONDS), "1", light], sample_rate=RATE,
                  upload_interval=INTERVAL, agent_args=["--config", rules], keep_output=True)
        check(r, workload, light)
        shutil.rmtree(r.outdir, ignore_errors=True)
    finally:
        if lib_path is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = lib_path
        shutil.rmtree(tmp, ignore_errors=True)


def check(r, workload, light):
    h.check_output(r, RATE)
    h.log("pids %s, the light one %s" % (r.ready["pids"], r.ready["light"]))
    mine = [p for p in r.profiles if p.service == SERVICE]
    if len(mine) < 2:
        h.fail("%d profile(s) of service %s, want one an interval (>= 2)" % (len(mine), SERVICE))
    by_exe = {workload: 0, light: 0}
    for p in mine:
        for s in p.samples:
            exe = [f.mapping.file for f in s.user_frames if f.mapping and f.mapping.file in by_exe]
            if exe:
                by_exe[exe[0]] += s.count
    h.log("samples by executable: %s" % by_exe)
    if by_exe[workload] <= by_exe[light]:
        h.fail("smolder_it_plt has %d samples, the light copy %d: not the most sampled"
               % (by_exe[workload], by_exe[light]))
    problems = []
    for p in mine:
        name = os.path.basename(p.path)
        files = protoc_mappings(p.path)
        shown = top_file(p.path)
        h.log("%s: protoc's mappings %s; go tool pprof -top: File: %s"
              % (name, [os.path.basename(f) for f in files], shown))
        if not files or files[0] != workload:
            problems.append("%s: Mapping 1 is %s, not %s" % (name, files[:1], workload))
        if files.count(workload) != 1:
            problems.append("%s: %d mappings of %s, want 1" % (name, files.count(workload),
                                                               workload))
        if shown != os.path.basename(workload):
            problems.append("%s: go tool pprof -top says File: %s, not %s"
                            % (name, shown, os.path.basename(workload)))
    if problems:
        h.fail("the main executable is not the first mapping:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    h.main(test)
