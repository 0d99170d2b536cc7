"""The unwind-table builder against binutils' readelf -wF.

    test_unwind_table.py UNWIND_DUMP FILE...

For each FILE, `readelf -wF` (binutils: its own reading of .eh_frame, not
libdw's) prints every FDE's rows: LOC, the CFA rule, and the rules of the
registers the FDE mentions. The builder's table (unwind_dump) must agree at
every LOC:
  - CFA REG+N, any general register (rsp, rbp, rax, rsi, r9, ...): the same
    register and offset;
  - CFA "exp": the expression binutils decodes (readelf --debug-dump=frames,
    DW_CFA_def_cfa_expression) read the table's way: `bregN K; deref`
    with an optional `plus_uconst A` is deref_REG K A; OpenSSL's
    `bregN K; bregM 0; lit8; mul; plus; deref; plus_uconst 8` is
    indexed_REG K M; the lazy PLT's is plt K T; other shapes "unsupported"
    (where no expression is set at that LOC, as after a restore_state: any
    expression rule);
  - ra "u" (undefined): the walk stops here; in a signal frame's CIE (an
    "S" augmentation): the signal rule;
  - rbp c-N: saved at CFA-N; rbp not mentioned or "u": unchanged or
    undefined;
and the table must have a row for every FDE's start, a "none" row (frame
pointers) where an FDE ends and the next does not start, and agree about
the number of FDEs readelf sees (each covered). Checked over the test's
fixtures and over the system's libc, libcrypto (OpenSSL's assembly: CFA
in rax, rsi, r9..., and its expressions) and Debian's python3.11.
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
        pc, cfa, off, rbp, rbp_off, arg = line.split()
        rows.append((int(pc, 16), cfa, int(off), rbp, int(rbp_off), arg))
    return lines[0], rows


REGS = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp") + tuple("r%d" % i for i in range(8, 16))
FRAMES_FDE_RE = re.compile(r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.")
ADVANCE_RE = re.compile(r"DW_CFA_advance_loc\d?: \d+ to ([0-9a-f]+)")
EXPR_RE = re.compile(r"DW_CFA_def_cfa_expression \((.*)\)$")


def cfa_expressions(path):
    """{(FDE start, loc): expression text} of every DW_CFA_def_cfa_expression
    in .eh_frame, as binutils decodes it."""
    out = subprocess.run(["readelf", "--debug-dump=frames", path], capture_output=True,
                         text=True).stdout
    exprs, section, loc, fde = {}, None, None, None
    for line in out.splitlines():
        if line.startswith("Contents of the "):
            section = line.split()[3]
            continue
        if section != ".eh_frame":
            continue
        m = FRAMES_FDE_RE.match(line)
        if m:
            fde = loc = int(m.group(1), 16)
            continue
        if " CIE" in line and re.match(r"^[0-9a-f]+ ", line):
            fde = None
            continue
        m = ADVANCE_RE.search(line)
        if m and fde is not None:
            loc = int(m.group(1), 16)
            continue
        m = EXPR_RE.search(line.strip())
        if m and fde is not None:
            exprs[(fde, loc)] = m.group(1)
    return exprs


def expression_rule(text):
    """(rule, offset, arg) the table must hold for a CFA expression."""
    ops = [o.strip() for o in text.split(";")]
    breg = [re.fullmatch(r"DW_OP_breg(\d+) \((\w+)\): (-?\d+)", o) for o in ops]
    if breg[0] and int(breg[0].group(1)) < 16:
        reg, k = REGS[int(breg[0].group(1))], int(breg[0].group(3))
        if ops[1:2] == ["DW_OP_deref"]:
            rest = ops[2:]
            if not rest:
                return ("deref_" + reg, k, "0")
            m = re.fullmatch(r"DW_OP_plus_uconst: (\d+)", rest[0]) if len(rest) == 1 else None
            if m and int(m.group(1)) % 8 == 0 and int(m.group(1)) < 512:
                return ("deref_" + reg, k, m.group(1))
        if (len(ops) == 7 and breg[1] and int(breg[1].group(1)) < 16 and breg[1].group(3) == "0"
                and ops[2:6] == ["DW_OP_lit8", "DW_OP_mul", "DW_OP_plus", "DW_OP_deref"]
                and ops[6] == "DW_OP_plus_uconst: 8"):
            return ("indexed_" + reg, k, REGS[int(breg[1].group(1))])
        m = re.fullmatch(r"DW_OP_lit(\d+)", ops[4]) if len(ops) == 9 else None
        if (m and reg == "rsp" and breg[1] and breg[1].group(1) == "16" and
                ops[2:4] == ["DW_OP_lit15", "DW_OP_and"] and
                ops[5:] == ["DW_OP_ge", "DW_OP_lit3", "DW_OP_shl", "DW_OP_plus"]):
            return ("plt", k, m.group(1))
    return ("unsupported", None, None)


def expect(cols, signal, expr):
    """What the builder must say for one readelf row (expr: the CFA
    expression set at its LOC, if any): a predicate on (cfa, off, rbp,
    rbp_off, arg) and its description."""
    cfa = cols.get("CFA", "")
    ra = cols.get("ra", "u")
    rbp = cols.get("rbp", "u")
    if signal:
        return (lambda c, o, r, ro, a: c == "signal"), "signal"
    if ra == "u":
        return (lambda c, o, r, ro, a: c == "stop"), "stop"
    if ra != "c-8":
        return (lambda c, o, r, ro, a: c == "unsupported"), "unsupported (ra %s)" % ra
    m = re.fullmatch(r"(\w+)\+(-?\d+)", cfa)
    if m and m.group(1) not in REGS:
        return (lambda c, o, r, ro, a: c == "unsupported"), "unsupported (CFA %s)" % cfa
    if not m:
        if cfa == "exp" and expr is not None:
            rule, k, arg = expression_rule(expr)
            if rule == "unsupported":
                return (lambda c, o, r, ro, a: c == "unsupported"), "unsupported (%s)" % expr
            return ((lambda c, o, r, ro, a: c == rule and o == k and a == arg),
                    "%s %d %s (%s)" % (rule, k, arg, expr))
        if cfa == "exp":
            return ((lambda c, o, r, ro, a: c == "plt" or c == "unsupported" or
                     c.startswith(("deref_", "indexed_"))), "an expression")
        return (lambda c, o, r, ro, a: c == "unsupported"), "unsupported (CFA %s)" % cfa
    reg, off = m.group(1), int(m.group(2))
    mr = re.fullmatch(r"c(-?\d+)", rbp)
    if mr:
        want_rbp = lambda r, ro: r == "at_cfa" and ro == int(mr.group(1))
    elif rbp == "u":
        want_rbp = lambda r, ro: r in ("same", "undefined")
    else:
        want_rbp = lambda r, ro: True
    return ((lambda c, o, r, ro, a: c == reg and o == off and want_rbp(r, ro)),
            "%s%+d rbp %s" % (reg, off, rbp))


def check(tool, path):
    problems = []
    head, rows = dump(tool, path)
    pcs = [r[0] for r in rows]
    pc_set = set(pcs)
    fdes = readelf_frames(path)
    exprs = cfa_expressions(path)
    if not fdes:
        return ["%s: readelf found no FDE" % path]

    def row_at(pc):
        i = bisect.bisect_right(pcs, pc) - 1
        return rows[i] if i >= 0 else None

    starts = sorted(l for l, h, s, f in fdes if l != h)
    checked = 0
    for lo, hi, signal, frows in fdes:
        if lo == hi:
            continue
        if lo not in pc_set and (row_at(lo) is None or row_at(lo)[1] == "none"):
            problems.append("%s: no row at the FDE start %#x" % (path, lo))
        for loc, cols in frows:
            if not lo <= loc < hi:
                continue
            r = row_at(loc)
            ok, what = expect(cols, signal, exprs.get((lo, loc)))
            checked += 1
            if r is None or not ok(r[1], r[2], r[3], r[4], r[5]):
                problems.append("%s: at %#x readelf says %s (%s), the table %s"
                                % (path, loc, what, cols, r))
        after = row_at(hi)
        i = bisect.bisect_left(starts, hi)
        nxt = starts[i] if i < len(starts) else None
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
