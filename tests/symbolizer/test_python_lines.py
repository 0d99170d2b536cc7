"""CPython line tables decoded as the interpreters themselves read them.

    test_python_lines.py PYTHON_LINES_DUMP PYTHON...

Each PYTHON (a path, or a pattern standing for its newest match: pyenv's 3.8 to 3.13 and Debian's python3.11; one missing is a
failure) compiles the samples below, code shaped to stress the tables
(loops, lines going back, jumps of more than 255 lines and 255 bytes, a
function of 2500 lines, comprehensions, try/except/finally, with, code with
no line), and some of its own standard library. For every code object
(through co_consts) it gives the table (co_lnotab before 3.10, co_linetable
since), co_firstlineno, and the line of each even byte offset of its
bytecode as the interpreter says it: co_lines() since 3.10, the line starts
of dis.findlinestarts before; and its own C PyCode_Addr2Line (through
ctypes) must say the same. python_lines_dump (sym_py_lines_decode, then
sym_py_line_at) must give the same line at every offset, and cover exactly
the bytecode since 3.10.

The test fails unless, for each interpreter, thousands of offsets were
compared, code objects had lines that differ between their instructions,
and the tables held what the samples are for: since 3.11 the long form,
the no-column form, one-line forms and entries with no location; before,
pairs of 255 (254 in 3.10) bytes and line deltas of a full byte, both
ways. Hand-made tables then check the refusals: a minor not known, an odd
pair table, an entry without its first bit or cut short.
"""

import glob
import json
import re
import subprocess
import sys

# Runs inside each interpreter (3.8 syntax): prints one JSON object.
DUMPER = r'''
import ctypes, dis, importlib.util, json, sys

addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int
minor = sys.version_info[1]

def expected(code):
    # Two offsets past the bytecode: no line since 3.10, the last before.
    n = len(code.co_code) + 4
    lines = [-1] * (n // 2)
    if minor >= 10:
        for start, end, line in code.co_lines():
            for off in range(start, min(end, n), 2):
                lines[off // 2] = -1 if line is None else line
    else:
        starts = dict(dis.findlinestarts(code))
        cur = -1
        for off in range(0, n, 2):
            cur = starts.get(off, cur)
            lines[off // 2] = cur
    for off in range(0, n, 2):
        own = addr2line(code, off)
        if own != lines[off // 2]:
            raise SystemExit("%s:%d offset %d: PyCode_Addr2Line %d, %s %d" % (
                code.co_name, code.co_firstlineno, off, own,
                "co_lines" if minor >= 10 else "findlinestarts", lines[off // 2]))
    return lines

def walk(code, out):
    table = code.co_lnotab if minor < 10 else code.co_linetable
    out.append([table.hex(), code.co_firstlineno, len(code.co_code) + 4, expected(code)])
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            walk(c, out)

out = []
sources = json.loads(sys.stdin.read())
for name, text in sources:
    walk(compile(text, name, "exec"), out)
for mod in ("argparse", "typing", "dataclasses", "difflib", "asyncio.base_events",
            "email._header_value_parser"):
    path = importlib.util.find_spec(mod).origin
    with open(path, encoding="utf-8") as f:
        walk(compile(f.read(), path, "exec"), out)
json.dump({"minor": minor, "version": sys.version.split()[0], "codes": out}, sys.stdout)
'''

SAMPLES = [
    ("loops", '''
def loops(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            continue
        while total > 100:
            total -= 7
            if total == 50:
                break
        else:
            total += i
    return total
'''),
    ("multiline", '''
def multiline(a, b, c):
    x = (a +
         b *
         c)
    y = max(
        a,
        b,
        c,
    )
    d = {
        "a": a,
        "b": [b,
              c],
    }
    return x if (x >
                 y) else d
'''),
    ("comprehensions", '''
def comprehensions(xs):
    a = [x * 2 for x in xs if x]
    b = {x: [y for y in range(x)]
         for x in xs}
    c = (x for x in xs)
    f = lambda q: (q,
                   q + 1)
    return a, b, list(c), f(3)

class K:
    attr = [i for i in range(3)]

    def method(self):
        return [self for _ in range(2)]
'''),
    ("exceptions", '''
def exceptions(f):
    try:
        f()
    except ValueError as e:
        print(e)
    except (KeyError, TypeError):
        pass
    else:
        return 1
    finally:
        print("done")
    try:
        with open(f) as g, open(f) as h:
            return g.read() + h.read()
    except Exception:
        raise
    return None

async def coro(x):
    async with x as y:
        async for z in y:
            await z
    return [w async for w in x]

def gen(x):
    yield from x
    yield 1
'''),
    # Lines jump more than 255 forward and, where a call is named by its
    # first line after its arguments, back; one line makes more than 255
    # bytes of bytecode.
    ("far", "def far(f, a):\n    x = 1\n" + "\n" * 300 + "    y = f(\n"
     + "".join("        a,\n" for _ in range(300)) + "    )\n"
     + "    z = [" + ", ".join("a%d" % i for i in range(200)) + "]\n"
     + "    for i in range(3):\n        x += i\n" + "\n" * 600 + "        y = x\n"
     + "    return x, y, z\n"),
    # 2500 lines: line numbers and offsets past one byte of every varint
    # and every pair, and jumps that need EXTENDED_ARG.
    ("big", "def big(a):\n" + "".join(
        "    v%d = a + %d\n" % (i, i) if i % 10 else
        "    if a > %d:\n        a = a - 1\n" % i for i in range(2500))
     + "    return a\n"),
    # A body at line 100000 (firstlineno past 16 bits) that jumps 300000
    # lines on: a delta of four varint chunks.
    ("vast", "\n" * 100000 + "def vast(a):\n    a += 1\n" + "\n" * 300000
     + "    return a\n"),
]


def features(minor, codes):
    """What the tables hold, to check the samples stress what they claim:
    found by the bit 7 that starts each 3.11 entry (locations.md), or the
    raw pairs."""
    seen = set()
    for hexed, _first, _n, _lines in codes:
        t = bytes.fromhex(hexed)
        if minor >= 11:
            for b in t:
                if b & 0x80:
                    seen.add({13: "no_columns", 14: "long", 15: "none"}.get(
                        (b >> 3) & 15, "short" if (b >> 3) & 15 < 10 else "one_line"))
        else:
            for i in range(0, len(t), 2):
                if t[i] >= 254:
                    seen.add("bytes_254+")
                line = t[i + 1] - 256 if t[i + 1] >= 128 else t[i + 1]
                if line >= 127:
                    seen.add("line_up_127")
                if line <= -127 and not (minor == 10 and line == -128):
                    seen.add("line_down_127")
                if minor == 10 and line == -128:
                    seen.add("none")
    return seen


def want_features(minor):
    if minor >= 11:
        return {"short", "one_line", "no_columns", "long", "none"}
    base = {"bytes_254+", "line_up_127", "line_down_127"}
    return base | {"none"} if minor == 10 else base


def run_dump(tool, requests):
    text = "".join("%d %d %d %s\n" % r for r in requests)
    res = subprocess.run([tool], input=text, capture_output=True, text=True)
    if res.returncode:
        sys.exit("python_lines_dump failed (%d): %s" % (res.returncode, res.stderr))
    out = res.stdout.splitlines()
    if len(out) != len(requests):
        sys.exit("python_lines_dump: %d answers to %d tables" % (len(out), len(requests)))
    return [line.split() for line in out]


def check_interpreter(tool, python):
    sources = json.dumps(SAMPLES)
    res = subprocess.run([python, "-c", DUMPER], input=sources, capture_output=True, text=True)
    if res.returncode:
        return ["%s: the dumper failed: %s" % (python, res.stderr.strip()[-2000:])], None
    got = json.loads(res.stdout)
    minor, codes = got["minor"], got["codes"]
    answers = run_dump(tool, [(minor, first, n, hexed or "-") for hexed, first, n, _ in codes])
    errors = []
    offsets = varied = no_line = 0
    for (hexed, first, n, want), ans in zip(codes, answers):
        where = "%s %s firstlineno %d table %s" % (python, got["version"], first,
                                                    hexed[:60])
        if ans[0] != "ok":
            errors.append("%s: refused: errno %s" % (where, ans[1]))
            continue
        end, lines = int(ans[2]), [int(x) for x in ans[3:]]
        if minor >= 10 and end != n - 4:
            errors.append("%s: ranges end at %d, bytecode at %d" % (where, end, n - 4))
        for i, (g, w) in enumerate(zip(lines, want)):
            if g != w:
                errors.append("%s: offset %d: line %d, CPython says %d" % (where, 2 * i, g, w))
                break
        # Of the bytecode's own offsets (the last two are past it).
        inside = [x for x in want[:-2] if x != -1]
        offsets += len(want)
        varied += len(set(inside)) > 1
        no_line += len(want) - 2 - len(inside)
    missing = want_features(minor) - features(minor, codes)
    if missing:
        errors.append("%s: the samples' tables hold no %s" % (python, ", ".join(sorted(missing))))
    if offsets < 10000 or varied < 100:
        errors.append("%s: only %d offsets compared, %d code objects with lines that differ"
                      % (python, offsets, varied))
    if minor >= 11 and not no_line:
        errors.append("%s: no offset without a line" % python)
    print("%s (%s): %d code objects, %d offsets, %d with several lines, %d offsets with no line"
          % (python, got["version"], len(codes), offsets, varied, no_line))
    return errors, minor


# Hand-made tables: (minor, firstlineno, code length, hex, expected errno
# or lines at each even offset).
EINVAL, ENOTSUP = 22, 95
HANDMADE = [
    (7, 1, 2, "-", ENOTSUP),
    (14, 1, 2, "-", ENOTSUP),
    (8, 1, 2, "020102", EINVAL),              # not pairs
    (10, 1, 2, "02", EINVAL),
    (11, 1, 2, "00", EINVAL),                 # no first bit
    (11, 1, 4, "f9", [-1, -1]),               # no location, 2 units
    (11, 1, 4, "f0", EINVAL),                 # long form cut short
    (11, 1, 2, "80", EINVAL),                 # short form without its column byte
    (11, 1, 2, "8081", EINVAL),               # its column byte with bit 7
    (11, 5, 4, "e8427f", EINVAL),             # svarint cut mid-way (bit 6 set)
    (11, 5, 4, "e803f8", [4, -1]),            # -1 (svarint 3), then no location
    (8, 10, 8, "0201027f", [10, 11, 138, 138]),
    (9, 10, 6, "0280", EINVAL),               # line 10 - 128: below 0
    (10, 10, 8, "0201048002ff", [11, -1, -1, 10]),
    (10, 1, 2, "0282", EINVAL),               # line 1 - 126
    (10, 1, 2, "0082027f", [2]),              # below 0 only where no range is

    (8, 0, 2, "-", [0]),
    (11, 1, 2, "e8" + "7f" * 6 + "00", EINVAL),  # a varint of 7 chunks
    (11, 1, 2, "e8" + "40" * 5 + "3c", EINVAL),  # 15 << 32: not read as its low 0
    (11, 1, 2, "e8" + "7f" * 5 + "03", EINVAL),  # 2^32 - 1: line 2 - 2^31
    (12, 1, 2, "e8" + "7e" * 5 + "01", [1065220064]),  # 2130440126: + 2^30 - ...
]


def check_handmade(tool):
    errors = []
    answers = run_dump(tool, [(m, f, n, h) for m, f, n, h, _ in HANDMADE])
    for (m, f, n, h, want), ans in zip(HANDMADE, answers):
        if isinstance(want, int):
            ok = ans == ["err", str(want)]
        else:
            ok = ans[0] == "ok" and [int(x) for x in ans[3:]] == want
        if not ok:
            errors.append("3.%d table %s: %s, want %s" % (m, h, " ".join(ans), want))
    return errors


def main():
    tool, patterns = sys.argv[1], sys.argv[2:]
    errors = check_handmade(tool)
    minors = set()
    for pattern in patterns:
        # A pattern (pyenv's 3.8.*) stands for its newest match.
        found = sorted(glob.glob(pattern), key=lambda p: [int(x) if x.isdigit() else x
                                                          for x in re.split(r"(\d+)", p)])
        if not found:
            errors.append("%s: no such interpreter" % pattern)
            continue
        python = found[-1]
        errs, minor = check_interpreter(tool, python)
        errors += errs
        minors.add(minor)
    if not {8, 9, 10, 11, 12, 13} <= minors:
        errors.append("interpreters of 3.8 to 3.13 wanted, got 3.%s" % sorted(minors))
    for e in errors[:50]:
        print("FAIL:", e)
    if errors:
        sys.exit("%d failures" % len(errors))


if __name__ == "__main__":
    main()
