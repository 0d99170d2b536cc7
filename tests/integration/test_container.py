"""Integration: a process in a root of its own is named from the files inside
that root, and a symlink in there never leads to a file of the host.

    test_container.py SMOLDER SMOLDER_IT_CONTAINER

smolder_it_container (static, -g, frame pointers) is copied into a fresh
directory ROOT, as ROOT/smolder_it_container_RANDOM: the file it runs from
exists only inside the root (no host file at that path). It runs as `chroot
ROOT /smolder_it_container_RANDOM P` and runs hand-assembled code
(push %rbp; mov %rsp,%rbp; a loop; pop %rbp; ret) copied into an anonymous
executable mapping, called from jit_caller. Inside the root it writes P
(/tmp/smolder-decoy-RANDOM.map), a perf map naming that code
jit_decoy_inside, and /tmp/perf-PID.map, a symlink to P. On the host the
test writes two traps naming the same range jit_host_WRONG: the host's file
at P, and the host's /tmp/perf-PID.map. The agent profiles it by --pid
for ~6 s. Decoded with `go tool pprof -raw -symbolize=none`. Checked:
  - the output keeps the contract;
  - no sample names jit_host_WRONG;
  - >= 80% of the samples have jit_decoy_inside as their leaf, with
    jit_caller under it (the static binary, known only inside the root, is
    named) and main below.
"""

import os
import secrets
import shutil
import tempfile

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = 6
MIN_SAMPLES = 200
INSIDE, HOST = "jit_decoy_inside", "jit_host_WRONG"


def test(smolder, workload):
    et.no_debuginfod_env()
    tag = secrets.token_hex(6)
    root = tempfile.mkdtemp(prefix="smolder-it-root-")
    prog_name = "smolder_it_container_" + tag
    decoy = "/tmp/smolder-decoy-%s.map" % tag
    host_files = []  # the traps written on the host, removed at the end
    try:
        os.makedirs(os.path.join(root, "tmp"))
        shutil.copy2(workload, os.path.join(root, prog_name))
        if os.path.exists("/" + prog_name):
            h.fail("/%s exists on the host: the program must exist only inside the root"
                   % prog_name)

        def on_ready(ready):
            pid, start, size = ready["pids"][0], int(ready["jit_start"], 16), ready["jit_size"]
            inside_link = os.path.join(root, ready["perf_map"].lstrip("/"))
            if os.readlink(inside_link) != decoy:
                h.fail("%s is not a symlink to %s" % (inside_link, decoy))
            with open(os.path.join(root, decoy.lstrip("/"))) as f:
                if INSIDE not in f.read():
                    h.fail("the decoy inside the root does not name %s" % INSIDE)
            trap = "%x %x %s\n" % (start, size, HOST)
            host_map = "/tmp/perf-%d.map" % pid
            traps = [decoy]
            if not os.path.lexists(host_map):  # never a real JIT's map
                traps.append(host_map)
            for path in traps:
                with open(path, "x") as f:
                    host_files.append(path)
                    f.write(trap)
            h.log("JIT code at %#x+%d; inside the root %s -> %s (%s); on the host %s and %s "
                  "(%s)" % (start, size, ready["perf_map"], decoy, INSIDE, decoy, host_map, HOST))

        r = h.run(smolder, ["chroot", root, "/" + prog_name, decoy, str(SECONDS)],
                  sample_rate=RATE, on_ready=on_ready)
    finally:
        for path in host_files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        shutil.rmtree(root, ignore_errors=True)
    h.check_output(r, RATE)

    samples = r.samples()
    total = h.count(samples)
    h.log("services: %s" % h.services(r))
    if total < MIN_SAMPLES:
        h.fail("only %d samples (services %s), want >= %d" % (total, h.services(r), MIN_SAMPLES))
    wrong = h.naming(samples, HOST)
    good, bad = 0, {}
    for s in samples:
        user = [loc for loc in s.locations if not loc[0].is_kernel]
        names = [f.name for loc in user for f in loc]
        if names and names[0] == INSIDE and "jit_caller" in names[1:] and "main" in names:
            good += s.count
            continue
        key = ";".join(h._frame_text(f) for loc in user[:6] for f in loc)
        bad[key] = bad.get(key, 0) + s.count
    h.log("%d samples: %d name %s over jit_caller and main, %d name %s"
          % (total, good, INSIDE, wrong, HOST))
    failures = []
    if wrong:
        failures.append("%d samples name %s: a file of the host was read" % (wrong, HOST))
    if good < 0.8 * total:
        top = sorted(bad.items(), key=lambda kv: -kv[1])[:8]
        failures.append("only %d of %d samples have %s as leaf over "
                        "jit_caller and main; other stacks:\n    %s"
                        % (good, total, INSIDE, "\n    ".join("%d %s" % (c, k) for k, c in top)))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
