"""Integration: kernel addresses stay out of profiles unless asked for.

    test_kernel_addresses.py SMOLDER SYSCALL_LOOP

syscall_loop spends most of its time in getrandom(2), so its stacks have
kernel frames. Profiled twice, 2 s intervals:
  - by default, kernel frames are named (__x64_sys_getrandom or
    __do_sys_getrandom among them), each kernel function is a location of
    its own, and no number >= 0xffff800000000000 (kernel text) is anywhere
    in a profile: neither in `go tool pprof -raw -symbolize=none`'s output
    nor in any field of the protobuf (`protoc --decode_raw`);
  - with --kernel-addresses, the kernel frames carry their addresses.
"""

import gzip
import os
import re
import shutil
import subprocess

import smolder_harness as h

RATE = 97
SECONDS = 4
INTERVAL = "2s"
SYSCALL_FRAMES = ("__x64_sys_getrandom", "__do_sys_getrandom")
HEX_RE = re.compile(r"0x[0-9a-fA-F]+")
DEC_RE = re.compile(r"\b\d{19,20}\b")  # 0xffff800000000000 has 20 digits


def kernel_numbers(path):
    """The numbers >= KERNEL_ADDRESS_MIN in what pprof -raw and protoc
    --decode_raw print of the profile at path."""
    raw = subprocess.run([h.go_binary(), "tool", "pprof", "-raw", "-symbolize=none", path],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PPROF_TMPDIR=os.path.dirname(path)))
    if raw.returncode:
        h.fail("go tool pprof -raw %s: %s" % (path, raw.stderr.strip()))
    protoc = shutil.which("protoc")
    if not protoc:
        h.fail("`protoc` not found (Debian package protobuf-compiler)")
    with gzip.open(path, "rb") as f:
        pb = subprocess.run([protoc, "--decode_raw"], input=f.read(), capture_output=True,
                            timeout=60)
    if pb.returncode:
        h.fail("protoc --decode_raw %s: %s" % (path, pb.stderr.decode(errors="replace")))
    found = [int(x, 16) for x in HEX_RE.findall(raw.stdout)]
    found += [int(x) for x in DEC_RE.findall(pb.stdout.decode(errors="replace"))]
    return [n for n in found if n >= h.KERNEL_ADDRESS_MIN]


def profile(smolder, workload, args):
    r = h.run(smolder, [workload, str(SECONDS)], agent_args=args, sample_rate=RATE,
              upload_interval=INTERVAL, keep_output=True)
    h.check_output(r, RATE)
    kernel = [f for s in r.samples(os.path.basename(workload)) for f in s.kernel_frames]
    if not kernel:
        h.fail("%s: no kernel frames in the workload's samples" % (args or "default"))
    return r, kernel


def test(smolder, workload):
    r, kernel = profile(smolder, workload, [])
    names = {f.name for f in kernel}
    h.log("default: %d kernel frames, %d names, e.g. %s"
          % (len(kernel), len(names), sorted(n for n in names if n)[:5]))
    if not names & set(SYSCALL_FRAMES):
        h.fail("kernel frames not named: none is %s (%s)" % ("/".join(SYSCALL_FRAMES), names))
    for p in r.profiles:
        names_of = {}  # location id -> names, within one profile
        for f in (f for s in p.samples for f in s.kernel_frames):
            names_of.setdefault(f.location_id, set()).add(f.name)
        shared = {lid: n for lid, n in names_of.items() if len(n) > 1}
        if shared:
            h.fail("%s: kernel functions share locations: %s" % (p.path, shared))
        high = kernel_numbers(p.path)
        if high:
            h.fail("%s holds kernel addresses: %s"
                   % (p.path, ", ".join("%#x" % n for n in sorted(set(high))[:5])))
    h.log("no number >= %#x in %d profiles (pprof -raw, protoc --decode_raw)"
          % (h.KERNEL_ADDRESS_MIN, len(r.profiles)))
    shutil.rmtree(r.outdir, ignore_errors=True)

    r, kernel = profile(smolder, workload, ["--kernel-addresses"])
    with_addr = [f for f in kernel if f.address >= h.KERNEL_ADDRESS_MIN]
    h.log("--kernel-addresses: %d of %d kernel frames have a kernel address"
          % (len(with_addr), len(kernel)))
    if len(with_addr) != len(kernel):
        h.fail("--kernel-addresses: kernel frames without their address: %s"
               % [f for f in kernel if f not in with_addr][:5])
    if not any(kernel_numbers(p.path) for p in r.profiles):
        h.fail("--kernel-addresses: no kernel address in the decoded profiles")
    shutil.rmtree(r.outdir, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
