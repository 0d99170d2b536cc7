"""The unwind-table builder against binutils' readelf -wF.

    test_unwind_table.py UNWIND_DUMP FILE...

For each FILE, `readelf -wF` (binutils: its own reading of .eh_frame, not
libdw's) prints every FDE's rows: LOC, the CFA rule, and the rules of the
registers the FDE mentions. The builder's table (unwind_dump) must agree at
every LOC:
  - CFA rsp+N or rbp+N: the same rule and offset; "exp": a rule for an
    expression (PLT, a dereferenced rbp) or "unsupported", never rsp/rbp;
    another register: "unsupported";
  - ra "u" (undefined): the walk stops here; in a signal frame's CIE (an
    "S" augmentation): the signal rule;
  - rbp c-N: saved at CFA-N; rbp not mentioned or "u": unchanged or
    undefined;
and the table must have a row for every FDE's start, a "none" row (frame
pointers) where an FDE ends and the next does not start, and agree about
the number of FDEs readelf sees (each covered). Checked over the test's
fixtures and over the system's libc and Debian's python3.11.
"""

import bisect
import re
import subprocess
import sys

FDE_RE = re.compile(r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)")
CIE_RE = re.compile(r'^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE "([^"]*)"')


def readelf_frames(path):
    """[(lo, hi, signal, [(loc, {col: rule})])] for every FDE of .eh_frame."""
    # readelf exits 1 on files whose other debug sections it dislikes
    # (libc's), having printed the frames all the same.
    out = subprocess.run(["readelf", "-wF", path], capture_output=True, text=True).stdout
    fdes, cies = [], {}
    section = None
    header = None
    cur = None
    cie_rows = {}
    cie_cur = None
    for line in out.splitlines():
        if line.startswith("Contents of the "):
            section = line.split()[3]
            continue
        if section != ".eh_frame":
            continue
        m = CIE_RE.match(line)
        if m:
            cie_cur = int(m.group(1), 16)
            cies[cie_cur] = "S" in m.group(2)
            cie_rows[cie_cur] = []
            cur = None
            continue
        m = FDE_RE.match(line)
        if m:
            cur = [int(m.group(2), 16), int(m.group(3), 16), cies.get(int(m.group(1), 16), False),
                   [], int(m.group(1), 16)]
            fdes.append(cur)
            cie_cur = None
            continue
        s = line.split()
        if len(s) >= 2 and s[0] == "LOC":
            header = s[1:]
            continue
        if header and len(s) == len(header) + 1 and re.fullmatch(r"[0-9a-f]{16}", s[0]):
            row = (int(s[0], 16), dict(zip(header, s[1:])))
            if cur is not None:
                cur[3].append(row)
            elif cie_cur is not None:
                cie_rows[cie_cur].append(row)
    result = []
    for lo, hi, signal, rows, cie in fdes:
        if not rows and cie_rows.get(cie):
            # An FDE with no instructions of its own runs on its CIE's.
            rows = [(lo, cie_rows[cie][0][1])]
        result.append((lo, hi, signal, rows))
    return result


def dump(tool, path):
    out = subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    rows = []
    for line in lines[1:]:
        pc, cfa, off, rbp, rbp_off = line.split()
        rows.append((int(pc, 16), cfa, int(off), rbp, int(rbp_off)))
    return lines[0], rows


def expect(cols, signal):
    """What the builder must say for one readelf row: a predicate on
    (cfa, off, rbp, rbp_off) and its description."""
    cfa = cols.get("CFA", "")
    ra = cols.get("ra", "u")
    rbp = cols.get("rbp", "u")
    if signal:
        return (lambda c, o, r, ro: c == "signal"), "signal"
    if ra == "u":
        return (lambda c, o, r, ro: c == "stop"), "stop"
    if ra != "c-8":
        return (lambda c, o, r, ro: c == "unsupported"), "unsupported (ra %s)" % ra
    m = re.fullmatch(r"(rsp|rbp)\+(-?\d+)", cfa)
    if not m:
        if cfa == "exp":
            return (lambda c, o, r, ro: c in ("plt", "deref_rbp", "unsupported")), "expression"
        return (lambda c, o, r, ro: c == "unsupported"), "unsupported (CFA %s)" % cfa
    reg, off = m.group(1), int(m.group(2))
    mr = re.fullmatch(r"c(-?\d+)", rbp)
    if mr:
        want_rbp = lambda r, ro: r == "at_cfa" and ro == int(mr.group(1))
    elif rbp == "u":
        want_rbp = lambda r, ro: r in ("same", "undefined")
    else:
        want_rbp = lambda r, ro: True
    return ((lambda c, o, r, ro: c == reg and o == off and want_rbp(r, ro)),
            "%s%+d rbp %s" % (reg, off, rbp))


def check(tool, path):
    problems = []
    head, rows = dump(tool, path)
    pcs = [r[0] for r in rows]
    fdes = readelf_frames(path)
    if not fdes:
        return ["%s: readelf found no FDE" % path]

    def row_at(pc):
        i = bisect.bisect_right(pcs, pc) - 1
        return rows[i] if i >= 0 else None

    checked = 0
    for lo, hi, signal, frows in fdes:
        if lo == hi:
            continue
        if lo not in pcs and (row_at(lo) is None or row_at(lo)[1] == "none"):
            problems.append("%s: no row at the FDE start %#x" % (path, lo))
        for loc, cols in frows:
            if not lo <= loc < hi:
                continue
            r = row_at(loc)
            ok, what = expect(cols, signal)
            checked += 1
            if r is None or not ok(r[1], r[2], r[3], r[4]):
                problems.append("%s: at %#x readelf says %s (%s), the table %s"
                                % (path, loc, what, cols, r))
        after = row_at(hi)
        nxt = min((l for l, h, s, f in fdes if l >= hi and l != h), default=None)
        if nxt != hi and (after is None or after[0] != hi or after[1] != "none"):
            problems.append("%s: no frame-pointer row where the FDE %#x..%#x ends: %s"
                            % (path, lo, hi, after))
    print("%s: %s; %d FDEs, %d readelf rows checked, %d problems"
          % (path, head, len(fdes), checked, len(problems)))
    return problems


def main():
    tool, files = sys.argv[1], sys.argv[2:]
    problems = []
    for f in files:
        problems += check(tool, f)
    for p in problems[:40]:
        print("FAIL:", p)
    if len(problems) > 40:
        print("... and %d more" % (len(problems) - 40))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
