"""Code objects read out of a running CPython, held against what the
interpreter says of them.

    test_python_code.py PYTHON_CODE_DUMP PYTHON...

Each PYTHON (a path, or a pattern standing for its newest match: pyenv's
3.8 to 3.13 and Debian's python3.11; one missing is a failure) runs the
script below: it gathers a few hundred code objects (functions of its
standard library, their methods and nested code, the samples' nested
functions, methods, lambdas, comprehensions, generators and coroutines,
names and file names in Latin-1, in the BMP and beyond it, with a NUL and
with a lone surrogate, names at and past the caps), prints what it says of
each (id, co_firstlineno, the ids of co_name and co_filename, co_qualname
on 3.11+ and co_name before, co_filename, and the line of some of its
instructions: co_lines() on 3.10+, dis.findlinestarts before) with the ids
of its code, str and bytes types, and waits. python_code_dump then reads
every one through /proc/PID/mem with sym_py_code_read, tagged with
sym_py_code_tag of the values printed, and must give the same names, file,
first line and, by sym_py_code_line, lines (0 where CPython has none).
What the C side cannot put in UTF-8 (a NUL, a lone surrogate) must come
back as U+FFFD.

Then the refusals: a wrong tag gives ESTALE (the entry bit alone, not);
the id of a str, or the wrong code or str type, EINVAL; an address no
mapping holds, and 0, EIO; minors 7 and 14 ENOTSUP; a name of 1025
characters or a file name of 4097, E2BIG (1024 and 4096 are read); the
wrong bytes type leaves the names and no lines.

The test fails unless every PYTHON was compared (3.8 to 3.13 among them),
each with at least 300 code objects and 2000 offsets, names of each width
(1, 2 and 4 bytes a character, and non-ASCII Latin-1), and every refusal.
"""

import glob
import json
import re
import subprocess
import sys

EIO, E2BIG, EINVAL, ENOTSUP, ESTALE = 5, 7, 22, 95, 116
MIN_CODES, MIN_OFFSETS = 300, 2000
INSTR_NONE = 0x7fffffff

# Runs inside each interpreter (3.8 syntax): prints one JSON line, then
# keeps every object it named alive until its stdin closes.
SCRIPT = r'''
import ctypes, dis, importlib, inspect, json, sys

try:  # let a sibling read our memory where Yama would refuse
    ctypes.CDLL(None).prctl(0x59616d61, ctypes.c_ulong(-1), 0, 0, 0)
except Exception:
    pass

minor = sys.version_info[1]
keep = []
codes = []
seen = set()
SAMPLE = sys.stdin.readline()
SAMPLE = json.loads(SAMPLE)

def lines_of(code):
    n = len(code.co_code)
    if minor >= 10:
        at = {}
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                at[off] = 0 if line is None else line
    else:
        starts = dict(dis.findlinestarts(code))
        at, cur = {}, 0
        for off in range(0, n, 2):
            cur = starts.get(off, cur)
            at[off] = cur
    offs = list(range(0, n, 2))
    if len(offs) > 24:
        step = len(offs) / 23.0
        offs = sorted({offs[int(i * step)] for i in range(23)} | {offs[-1]})
    return [[off, at.get(off, 0)] for off in offs]

def add(code, kind="std"):
    if id(code) in seen:
        return
    seen.add(id(code))
    keep.append(code)
    qual = code.co_qualname if minor >= 11 else code.co_name
    codes.append({"id": id(code), "first": code.co_firstlineno, "name_id": id(code.co_name),
                  "file_id": id(code.co_filename), "qualname": qual,
                  "file": code.co_filename, "lines": lines_of(code), "kind": kind})

def walk(code, kind="std"):
    add(code, kind)
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            walk(c, kind)

for name, text in SAMPLE:
    walk(compile(text, name, "exec"), "sample")

# Names beyond ASCII: Latin-1 (one byte a character), the BMP (two),
# beyond it (four), as compiled.
for name, text in [("dätei_λ.py", "def größe():\n    return 1\n"),
                   ("café.py", "def café():\n    return 2\n"),
                   ("λ.py", "class Ωmega:\n    def λx(self):\n        return 3\n"),
                   ("𝔣ile.py", "def f\U00020000():\n    return 4\n")]:
    try:
        walk(compile(text, name, "exec"), "unicode")
    except SyntaxError:
        pass

# Names no source can give: through code.replace.
def renamed(name, file, kind):
    def f():
        return 5
    kw = {"co_name": name, "co_filename": file}
    if minor >= 11:
        kw["co_qualname"] = name
    code = f.__code__.replace(**kw)
    add(code, kind)

renamed("nul\x00inside", "file\x00.py", "nul")
renamed("lone\udcffsurrogate", "b\udcffad.py", "surrogate")
renamed("\U0001F600" * 3, "emoji.py", "unicode")
renamed("", "", "empty")
renamed("n" * 1024, "f" * 4096, "at_cap")
renamed("\u00e9" * 1024, "\u03bb" * 4096, "at_cap")
renamed("n" * 1025, "short.py", "name_over_cap")
renamed("short", "f" * 4097, "file_over_cap")

# The standard library: functions, methods, and what they hold.
for modname in ("json.decoder", "json.encoder", "argparse", "collections", "textwrap",
                "functools", "dataclasses", "enum", "typing", "os", "posixpath",
                "difflib", "string", "fractions"):
    mod = importlib.import_module(modname)
    for v in list(vars(mod).values()):
        if inspect.isfunction(v):
            walk(v.__code__)
        elif inspect.isclass(v) and getattr(v, "__module__", None) == modname:
            for w in list(vars(v).values()):
                w = getattr(w, "__func__", w)
                if inspect.isfunction(w):
                    walk(w.__code__)
    if len(codes) > 900:
        break

# Objects that end where their mapping does: a copy of a code object, and
# copies of its name and file name, each at the end of a page with no page
# after it (the test checks /proc/PID/maps), so that a reader that reads
# past an object fails there. The copies point at each other.
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
edge_ends = []

def at_page_end(raw):
    page = 4096
    p = libc.mmap(None, 2 * page, 3, 0x22, -1, 0)  # read/write, private anonymous
    if p in (None, ctypes.c_void_p(-1).value) or libc.munmap(p + page, page):
        raise SystemExit("mmap failed")
    at = p + page - len(raw)
    ctypes.memmove(at, bytes(raw), len(raw))
    edge_ends.append(p + page)
    return at

def edge(code, name, file):
    shown = code.co_qualname if minor >= 11 else code.co_name
    shown = shown.replace(code.co_name, name)
    kw = {"co_name": name, "co_filename": file}
    if minor >= 11:
        kw["co_qualname"] = shown
    code = code.replace(**kw)
    keep.append(code)
    body = bytearray(ctypes.string_at(id(code), sys.getsizeof(code)))
    moved = {}
    for obj in (code.co_name, code.co_filename, code.co_qualname if minor >= 11 else None):
        if obj is not None and id(obj) not in moved:
            moved[id(obj)] = at_page_end(ctypes.string_at(id(obj), sys.getsizeof(obj)))
    for old, new in moved.items():
        o, n = old.to_bytes(8, "little"), new.to_bytes(8, "little")
        for i in range(0, len(body) - 7, 8):
            if body[i:i + 8] == o:
                body[i:i + 8] = n
    addr = at_page_end(body)
    codes.append({"id": addr, "first": code.co_firstlineno, "name_id": moved[id(code.co_name)],
                  "file_id": moved[id(code.co_filename)], "qualname": shown,
                  "file": code.co_filename, "lines": lines_of(code), "kind": "edge"})

def edge_sample(a):
    return a + 1

edge(edge_sample.__code__, "e", "e.py")                 # ASCII, short
edge(edge_sample.__code__, "\u00e9dge", "\u00e9.py")    # Latin-1
edge(edge_sample.__code__, "\u03bbdge", "\U0001F600.py")  # UCS-2, UCS-4

a_str = "not a code object %d" % minor
keep.append(a_str)
print(json.dumps({"minor": minor, "version": sys.version.split()[0],
                  "code_type": id(type(add.__code__)), "str_type": id(str),
                  "bytes_type": id(bytes), "a_str": id(a_str), "edge_ends": edge_ends,
                  "codes": codes}))
sys.stdout.flush()
sys.stdin.read()
'''

SAMPLE = [("samples.py", '''
import functools

def outer(a):
    def inner(b):
        def innermost(c):
            return a + b + c
        return innermost
    return inner

class Shape:
    sides = [i for i in range(3)]

    def __init__(self, n):
        self.n = n

    def area(self):
        return sum(x * x
                   for x in range(self.n))

    @property
    def name(self):
        return "shape%d" % self.n

    @staticmethod
    def make(n):
        return Shape(n)

    class Inner:
        def deep(self):
            return lambda q: [q for _ in range(2)]

square = lambda x: x * x
squares = {k: v for k, v in zip(range(3), range(3))}

def gen(n):
    for i in range(n):
        yield i
    yield from range(n)

async def coro(x):
    await x
    return [y async for y in x]

def loops(xs):
    total = 0
    for x in xs:
        try:
            total += x
        except TypeError:
            total -= 1
        finally:
            total *= 2
    return total
''')]


def utf8_of_c(s):
    """What the C side can say of s in UTF-8: a NUL or a lone surrogate
    as U+FFFD."""
    return "".join("\ufffd" if c == "\0" or 0xd800 <= ord(c) <= 0xdfff else c for c in s)


def unmapped(pid):
    """An address no mapping of pid holds."""
    prev = 0x10000
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start - prev >= 0x2000:
                return prev + 0x1000
            prev = max(prev, end)
    return prev + 0x1000


def mapping_ends(pid, ends):
    """The ends not followed by a mapping, as /proc/PID/maps says."""
    starts, stops = set(), set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            starts.add(start)
            stops.add(end)
    return [e for e in ends if e not in stops or e in starts]


def decode(hexed):
    return "" if hexed == "-" else bytes.fromhex(hexed).decode("utf-8")


def check_interpreter(tool, python):
    proc = subprocess.Popen([python, "-c", SCRIPT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(json.dumps(SAMPLE) + "\n")
        proc.stdin.flush()
        head = proc.stdout.readline()
        if not head:
            return ["%s: the script failed: %s" % (python, proc.stderr.read()[-2000:])], None
        got = json.loads(head)
        minor, codes = got["minor"], got["codes"]
        ct, st, bt = got["code_type"], got["str_type"], got["bytes_type"]

        def req(c, minor=minor, ct=ct, st=st, bt=bt, addr=None, tagxor=0, offs=None):
            return "%d %d %d %d %d %d %d %d %d %s" % (
                minor, ct, st, bt, c["id"] if addr is None else addr, c["first"],
                c["name_id"], c["file_id"], tagxor,
                " ".join(str(o) for o, _ in c["lines"]) if offs is None else offs)

        requests = [req(c) for c in codes]
        not_ends = mapping_ends(proc.pid, got["edge_ends"])
        plain = [c for c in codes if c["kind"] == "sample"][0]
        # (request, what it must give: an errno, or "same" as plain's answer,
        # or "no_lines": plain's names without lines)
        refusals = [
            (req(plain, tagxor=2), ESTALE),
            (req(plain, tagxor=0x80000000), ESTALE),
            (req(plain, tagxor=1), "same"),  # the entry bit is no part of the tag
            (req(plain, addr=got["a_str"]), EINVAL),
            (req(plain, ct=st), EINVAL),
            (req(plain, st=ct), EINVAL),
            (req(plain, addr=unmapped(proc.pid)), EIO),
            (req(plain, addr=0), EIO),
            (req(plain, minor=7), ENOTSUP),
            (req(plain, minor=14), ENOTSUP),
            (req(plain, bt=st), "no_lines"),
            (req(plain, offs="-1 %d" % INSTR_NONE), "zero_lines"),
        ]
        res = subprocess.run([tool, str(proc.pid)], capture_output=True, text=True,
                             input="".join(r + "\n" for r in requests + [r for r, _ in refusals]))
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()
    if res.returncode:
        return ["%s: python_code_dump failed (%d): %s" % (python, res.returncode,
                                                          res.stderr[-2000:])], minor
    answers = res.stdout.splitlines()
    if len(answers) != len(requests) + len(refusals):
        return ["%s: %d answers to %d requests" % (python, len(answers),
                                                  len(requests) + len(refusals))], minor

    errors, offsets, kinds, widths = [], 0, {}, set()
    if not_ends or len(got["edge_ends"]) < 6:
        errors.append("%s: objects meant to end a mapping do not: %s"
                      % (python, [hex(e) for e in not_ends]))
    plain_answer = None
    for c, ans in zip(codes, answers):
        f = ans.split()
        where = "%s %s: code %s (%r, %s:%d)" % (python, got["version"], hex(c["id"]),
                                                c["qualname"][:40], c["file"][:60], c["first"])
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
        if c["kind"] in ("name_over_cap", "file_over_cap"):
            if f != ["err", str(E2BIG)]:
                errors.append("%s: %s, want E2BIG" % (where, ans))
            continue
        if f[0] != "ok":
            errors.append("%s: refused: %s" % (where, ans))
            continue
        if c is plain:
            plain_answer = ans
        try:
            qual, file = decode(f[2]), decode(f[3])
        except UnicodeDecodeError as e:
            errors.append("%s: not UTF-8: %s (%s)" % (where, e, ans[:200]))
            continue
        if int(f[1]) != c["first"]:
            errors.append("%s: first line %s" % (where, f[1]))
        if qual != utf8_of_c(c["qualname"]):
            errors.append("%s: qualified name %r" % (where, qual[:80]))
        if file != utf8_of_c(c["file"]):
            errors.append("%s: file %r" % (where, file[:80]))
        lines = [int(x) for x in f[5:]]
        want = [line for _, line in c["lines"]]
        if lines != want:
            bad = [(o, g, w) for (o, w), g in zip(c["lines"], lines) if g != w]
            errors.append("%s: lines (offset, got, CPython's) %s" % (where, bad[:5]))
        offsets += len(want)
        for s in (c["qualname"], c["file"]):
            top = max((ord(ch) for ch in s), default=0)
            widths.add("ascii" if top < 0x80 else "latin1" if top < 0x100 else
                       "ucs2" if top < 0x10000 else "ucs4")

    for (r, want), ans in zip(refusals, answers[len(requests):]):
        f = ans.split()
        if want == "same":
            ok = ans == plain_answer
        elif want == "no_lines":
            p = plain_answer.split()
            ok = f[:4] == p[:4] and f[4] == "0" and all(x == "0" for x in f[5:])
        elif want == "zero_lines":
            ok = f[0] == "ok" and f[5:] == ["0", "0"]
        else:
            ok = f == ["err", str(want)]
        if not ok:
            errors.append("%s: %s: %s, want %s" % (python, r[:80], ans[:120], want))

    if len(codes) < MIN_CODES or offsets < MIN_OFFSETS:
        errors.append("%s: only %d code objects, %d offsets compared" % (python, len(codes),
                                                                        offsets))
    for k in ("sample", "unicode", "nul", "surrogate", "empty", "at_cap", "name_over_cap",
              "file_over_cap", "edge", "std"):
        if not kinds.get(k):
            errors.append("%s: no %s code object" % (python, k))
    if widths != {"ascii", "latin1", "ucs2", "ucs4"}:
        errors.append("%s: strings of %s only" % (python, sorted(widths)))
    print("%s (%s): %d code objects (%s), %d offsets, %d refusals compared%s"
          % (python, got["version"], len(codes),
             ", ".join("%s %d" % kv for kv in sorted(kinds.items())), offsets, len(refusals),
             ", FAILED" if errors else ""))
    return errors, minor


def main():
    tool, patterns = sys.argv[1], sys.argv[2:]
    errors, minors, compared = [], set(), 0
    for pattern in patterns:
        # A pattern (pyenv's 3.8.*) stands for its newest match.
        found = sorted(glob.glob(pattern), key=lambda p: [int(x) if x.isdigit() else x
                                                          for x in re.split(r"(\d+)", p)])
        if not found:
            errors.append("%s: no such interpreter" % pattern)
            continue
        errs, minor = check_interpreter(tool, found[-1])
        errors += errs
        compared += not errs
        minors.add(minor)
    if not {8, 9, 10, 11, 12, 13} <= minors:
        errors.append("interpreters of 3.8 to 3.13 wanted, got 3.%s" % sorted(minors))
    if compared != len(patterns):
        errors.append("%d of %d interpreters compared cleanly" % (compared, len(patterns)))
    for e in errors[:60]:
        print("FAIL:", e)
    if errors:
        sys.exit("%d failures" % len(errors))


if __name__ == "__main__":
    main()
