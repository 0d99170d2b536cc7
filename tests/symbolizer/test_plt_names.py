"""PLT stubs named as objdump (binutils) names them.

    test_plt_names.py PLT_NAMES FILE...

For each FILE, `objdump -d` labels each PLT stub <NAME@plt> (binutils'
synthetic symbols, from the relocation that fills the stub's GOT slot).
The symbolizer (plt_names, which reads FILE as the parser worker does)
must have a function at each of those addresses, none elsewhere ending in
@plt, each one named NAME@plt, reaching up to the next stub or the end of
its section, and sym_elf_lookup must give that name for the stub's first
and last byte. objdump's <*ABS*+0xADDR@plt> (an IFUNC's slot, filled by
R_X86_64_IRELATIVE, no symbol) is named after an IFUNC that nm -D puts at
ADDR, as perf names it. Checked over the test's fixtures (PIE, not PIE,
IBT's .plt.sec, BIND_NOW), the system's libc and Debian's python3.11.
"""

import re
import subprocess
import sys

LABEL_RE = re.compile(r"^([0-9a-f]+) <(.+@plt)>:$")
SECTION_RE = re.compile(r"^Disassembly of section (\S+):$")
ABS_RE = re.compile(r"^\*ABS\*\+0x([0-9a-f]+)@plt$")


def objdump_stubs(path):
    """{addr: name} for every <...@plt> label objdump prints, and
    {section: (start, end)} of the PLT sections."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True,
                         text=True, check=True).stdout
    stubs = {}
    for line in out.splitlines():
        m = LABEL_RE.match(line)
        if m:
            stubs[int(m.group(1), 16)] = m.group(2)
    sections = {}
    hdr = subprocess.run(["objdump", "-h", "-w", path], capture_output=True, text=True,
                         check=True).stdout
    for line in hdr.splitlines():
        f = line.split()
        if len(f) > 4 and f[1] in (".plt", ".plt.sec", ".plt.got"):
            size, vma = int(f[2], 16), int(f[3], 16)
            sections[f[1]] = (vma, vma + size)
    return stubs, sections


def ifuncs(path):
    """{addr: set of names} of the IFUNC symbols (nm's "i")."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] == "i":
            found.setdefault(int(f[0], 16), set()).add(f[2].split("@")[0])
    return found


def ours(tool, path, addrs):
    """{addr: (end, name)} of our stubs, and {addr: name} looked up."""
    out = subprocess.run([tool, path] + ["%x" % a for a in addrs], capture_output=True,
                         text=True, check=True).stdout
    stubs, at = {}, {}
    for line in out.splitlines():
        f = line.split(" ", 3)
        if f[0] == "stub":
            stubs[int(f[1], 16)] = (int(f[2], 16), f[3])
        elif f[0] == "at":
            at[int(f[1], 16)] = line.split(" ", 2)[2]
    return stubs, at


def stub_end(addr, starts, sections):
    """Where objdump's stub at addr ends: the next label or its section's end."""
    for lo, hi in sections.values():
        if lo <= addr < hi:
            later = [a for a in starts if addr < a < hi]
            return min(later) if later else hi
    return None


def check(tool, path):
    stubs, sections = objdump_stubs(path)
    if not stubs:
        return ["%s: objdump shows no @plt stub: a fixture that tests nothing" % path]
    starts = sorted(stubs)
    ends = {a: stub_end(a, starts, sections) for a in starts}
    mine, at = ours(tool, path, [a for a in starts] + [ends[a] - 1 for a in starts])
    funcs = ifuncs(path)
    problems = []
    for a in starts:
        want = stubs[a]
        m = ABS_RE.match(want)
        if m:
            names = funcs.get(int(m.group(1), 16), set())
            ok = lambda got: got.endswith("@plt") and got[:-4] in names
            want = "an IFUNC at 0x%s (%s)@plt" % (m.group(1), ", ".join(sorted(names)) or "none")
        else:
            ok = lambda got, want=want: got == want
        got = mine.get(a)
        if got is None:
            problems.append("%s: no stub of ours at %#x, objdump's %s" % (path, a, stubs[a]))
            continue
        if not ok(got[1]):
            problems.append("%s: %#x named %s, objdump: %s" % (path, a, got[1], want))
        if got[0] != ends[a]:
            problems.append("%s: %s spans %#x-%#x, objdump's %#x-%#x"
                            % (path, got[1], a, got[0], a, ends[a]))
        for probe in (a, ends[a] - 1):
            if at.get(probe) != got[1]:
                problems.append("%s: lookup at %#x gives %s, not %s"
                                % (path, probe, at.get(probe), got[1]))
    for a in sorted(set(mine) - set(stubs)):
        problems.append("%s: a stub of ours at %#x (%s) objdump does not show"
                        % (path, a, mine[a][1]))
    print("%s: %d stubs (%s), %d of them IFUNC slots, %d problems"
          % (path, len(stubs), ", ".join(sorted(sections)),
             sum(1 for n in stubs.values() if ABS_RE.match(n)), len(problems)))
    return problems


def main():
    tool, files = sys.argv[1], sys.argv[2:]
    problems = []
    for path in files:
        problems += check(tool, path)
    for p in problems[:50]:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


main()
