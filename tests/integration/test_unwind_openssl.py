"""Integration: OpenSSL's hand-written assembly unwound to the process's
entry (issue 14).

    test_unwind_openssl.py SMOLDER

Debian's stripped /usr/bin/openssl runs `openssl speed rsa2048`, whose time
goes to libcrypto's bignum assembly (x86_64-mont5.pl): its CFI puts the CFA
in rax or rsi in prologues and epilogues, and in the body computes it by
`DW_CFA_def_cfa_expression breg7 +K; deref; plus_uconst 8` (the entry rsp
saved on a realigned stack). The agent profiles it by --pid; the profile is
decoded by `go tool pprof -raw`. Checked, on openssl's samples:
  - >= 99% are whole stacks: no "[unwind error: ...]" or "[truncated]"
    frame, and the outermost user frame lies in the executable's entry
    function (_start, unnamed in a stripped file: the FDE that covers the
    ELF entry point, by readelf) or is named a thread's root;
  - >= 50% of the samples are in libcrypto (else the test proves nothing).
"""

import os
import re
import subprocess
import sys

import elf_tools
import smolder_harness as h

OPENSSL = "/usr/bin/openssl"
RATE = 97
SECONDS = "5"  # each of sign and verify
SHARE = 0.99
ROOTS = ("_start", "clone", "clone3", "start_thread")

# Starts openssl at once (its pid is the one to profile); the samples the
# agent takes begin when it is ready, well inside the run.
WRAPPER = r"""
import json, subprocess, sys
p = subprocess.Popen([%r, "speed", "-seconds", %r, "rsa2048"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"event": "ready", "pids": [p.pid]}), flush=True)
sys.stdin.readline()
p.wait()
print(json.dumps({"event": "done", "pid": p.pid}), flush=True)
sys.stdin.read()
"""


def entry_function(path):
    """[lo, hi) of the FDE covering the ELF entry point: _start's code."""
    head = subprocess.run(["readelf", "-hW", path], capture_output=True, text=True,
                          check=True).stdout
    entry = int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", head).group(1), 16)
    frames = subprocess.run(["readelf", "-wF", path], capture_output=True, text=True).stdout
    for m in re.finditer(r"FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", frames):
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        if lo <= entry < hi:
            return lo, hi
    h.fail("%s: no FDE covers the entry point %#x" % (path, entry))


def user_frames(sample):
    return [f for f in sample.frames if not f.is_kernel]


def whole(sample, entry):
    frames = user_frames(sample)
    if not frames:
        return False
    if any((f.name or "").startswith(("[unwind", "[truncated")) for f in frames):
        return False
    last = frames[-1]
    if last.name in ROOTS:
        return True
    if last.mapping is None or os.path.realpath(last.mapping.file) != os.path.realpath(OPENSSL):
        return False
    vaddr = elf_tools.file_vaddr(OPENSSL, last.mapping, last.address)
    return vaddr is not None and entry[0] <= vaddr < entry[1]


def describe(sample):
    out = []
    for f in user_frames(sample):
        where = os.path.basename(f.mapping.file) if f.mapping else "?"
        out.append(f.name or "%s+%#x" % (where, f.address))
    return out


def test(smolder):
    entry = entry_function(OPENSSL)
    h.log("%s: entry function at %#x..%#x" % (OPENSSL, entry[0], entry[1]))
    r = h.run(smolder, ["/usr/bin/python3", "-c", WRAPPER % (OPENSSL, SECONDS)],
              sample_rate=RATE, upload_interval="3s")
    h.check_output(r, RATE)
    samples = r.samples("openssl")
    total = h.count(samples)
    if total < 300:
        h.fail("openssl: only %d samples" % total)
    in_crypto = sum(s.count for s in samples
                    if any(f.mapping and "libcrypto" in f.mapping.file for f in s.frames))
    h.log("openssl: %d samples, %d with a libcrypto frame" % (total, in_crypto))
    if in_crypto < 0.5 * total:
        h.fail("only %d of %d samples in libcrypto" % (in_crypto, total))
    good = sum(s.count for s in samples if whole(s, entry))
    h.log("openssl rsa2048: %d of %d samples whole to the entry (%.2f%%)"
          % (good, total, 100.0 * good / total))
    if good < SHARE * total:
        bad = sorted((s for s in samples if not whole(s, entry)), key=lambda s: -s.count)[:6]
        h.fail("only %d of %d samples (%.2f%%, want >= %.0f%%) are whole; stacks that are not:\n"
               "    %s" % (good, total, 100.0 * good / total, 100 * SHARE,
                          "\n    ".join("%d %s" % (s.count, describe(s)) for s in bad)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_unwind_openssl.py SMOLDER")
    h.run_test(test, sys.argv[1:2])
