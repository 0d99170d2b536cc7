"""What sym_elf_python reads of an interpreter's file, held against tools
that are not ours.

    test_python_file.py PYTHON_FILE_DUMP PYTHON...

Each PYTHON (a path, or a pattern standing for its newest match: pyenv's
3.8 to 3.13 and Debian's python3.11; one missing is a failure) names the
file that holds its interpreter: the executable when it defines _PyRuntime
itself (Debian's, static and stripped), else the libpython ldd finds for
it (pyenv's). python_file_dump (sym_elf_open, sym_elf_python) must give:

  - _PyRuntime, PyCode_Type, PyUnicode_Type, PyBytes_Type where nm -D says
    (and nm, where the file has a .symtab, agrees);
  - _PyEval_EvalFrameDefault's [start, start + size) and its .cold part's,
    as nm -S and nm -D -S list them, no more and no fewer;
  - Py_Version: the interpreter's own sys.hexversion where nm -D lists the
    symbol (3.11+), 0 where it does not (before 3.11);
  - 3.13: _Py_DebugOffsets read, every offset as gdb finds it in the
    file's DWARF (offsetof of each field), its version sys.hexversion and
    free-threading as sysconfig says; before 3.13: none read.

A copy of 3.13's and 3.12's libpython stripped with strip --strip-all must
give what nm -D says of it, and what the whole file gave (3.12's .cold
part, a .symtab symbol, aside). /bin/true must have no interpreter, and
this script is no ELF file at all. The test fails unless every PYTHON was
compared, 3.8 to 3.13 among them.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

TYPES = {"runtime": "_PyRuntime", "code_type": "PyCode_Type",
         "unicode_type": "PyUnicode_Type", "bytes_type": "PyBytes_Type"}
EVAL = ("_PyEval_EvalFrameDefault", "_PyEval_EvalFrameDefault.cold")
ENOEXEC = 8

# struct sym_py_debug_offsets' fields, and what gdb prints for each.
DEBUG_FIELDS = [
    ("runtime_interp_head", "&((_PyRuntimeState *)0)->interpreters.head"),
    ("interp_threads_head", "&((PyInterpreterState *)0)->threads.head"),
    ("tstate_next", "&((PyThreadState *)0)->next"),
    ("tstate_interp", "&((PyThreadState *)0)->interp"),
    ("tstate_current_frame", "&((PyThreadState *)0)->current_frame"),
    ("tstate_thread_id", "&((PyThreadState *)0)->thread_id"),
    ("frame_previous", "&((struct _PyInterpreterFrame *)0)->previous"),
    ("frame_executable", "&((struct _PyInterpreterFrame *)0)->f_executable"),
    ("frame_instr_ptr", "&((struct _PyInterpreterFrame *)0)->instr_ptr"),
    ("frame_owner", "&((struct _PyInterpreterFrame *)0)->owner"),
    ("code_filename", "&((PyCodeObject *)0)->co_filename"),
    ("code_name", "&((PyCodeObject *)0)->co_name"),
    ("code_qualname", "&((PyCodeObject *)0)->co_qualname"),
    ("code_linetable", "&((PyCodeObject *)0)->co_linetable"),
    ("code_firstlineno", "&((PyCodeObject *)0)->co_firstlineno"),
    ("code_adaptive", "&((PyCodeObject *)0)->co_code_adaptive"),
    ("bytes_size", "&((PyBytesObject *)0)->ob_base.ob_size"),
    ("bytes_data", "&((PyBytesObject *)0)->ob_sval"),
    ("unicode_state", "&((PyASCIIObject *)0)->state"),
    ("unicode_length", "&((PyASCIIObject *)0)->length"),
    ("unicode_ascii_data", "sizeof(PyASCIIObject)"),
]

ASK = ("import sys, sysconfig; print(sys.hexversion, sys.version_info[1], "
       "int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def dump(tool, paths):
    """python_file_dump's answers: {path: {key: value, "eval": [(s, e)]}}."""
    res = run([tool] + paths)
    if res.returncode:
        sys.exit("python_file_dump failed (%d): %s" % (res.returncode, res.stderr))
    out, cur = {}, None
    for line in res.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "file":
            cur = out.setdefault(value, {"eval": []})
        elif key == "end":
            cur = None
        elif key == "eval":
            s, e = value.split()
            cur["eval"].append((int(s, 16), int(e, 16)))
        else:
            cur[key] = int(value, 0) if key != "python" else value
    if set(out) != set(paths):
        sys.exit("python_file_dump answered for %s, asked %s" % (sorted(out), paths))
    return out


def nm_symbols(path, dynamic):
    """{name: [(addr, size)]} of the defined symbols nm lists; None when
    the file has no such table."""
    res = run(["nm", "-S", "--defined-only"] + (["-D"] if dynamic else []) + [path])
    if "no symbols" in res.stderr:
        return None
    if res.returncode:
        sys.exit("nm %s failed: %s" % (path, res.stderr))
    syms = {}
    for line in res.stdout.splitlines():
        f = line.split()
        if len(f) == 4:
            addr, size, name = int(f[0], 16), int(f[1], 16), f[3]
        elif len(f) == 3:
            addr, size, name = int(f[0], 16), 0, f[2]
        else:
            continue
        syms.setdefault(name.split("@")[0], []).append((addr, size))
    return syms


def holder(python):
    """The file that holds python's interpreter."""
    exe = os.path.realpath(python)
    dyn = nm_symbols(exe, True) or {}
    if "_PyRuntime" in dyn:
        return exe
    res = run(["ldd", exe])
    m = re.search(r"libpython3\.\d+\S*\.so\S* => (\S+)", res.stdout)
    if not m:
        sys.exit("%s: no _PyRuntime and no libpython in ldd's answer:\n%s"
                 % (python, res.stdout))
    return os.path.realpath(m.group(1))


def expected_from_nm(path, hexversion):
    """What the file's symbol tables say sym_elf_python must give."""
    dyn = nm_symbols(path, True) or {}
    full = nm_symbols(path, False)
    want, errors = {}, []
    for key, name in TYPES.items():
        addrs = {a for a, _ in dyn.get(name, [])}
        if len(addrs) != 1:
            errors.append("%s: nm -D lists %s at %s" % (path, name, sorted(addrs)))
            continue
        want[key] = addrs.pop()
        if full is not None and {a for a, _ in full.get(name, [])} != {want[key]}:
            errors.append("%s: nm and nm -D disagree on %s" % (path, name))
    want["version"] = hexversion if "Py_Version" in dyn else 0
    evals = set()
    for table in (dyn, full or {}):
        for name in EVAL:
            evals |= {(a, a + s) for a, s in table.get(name, [])}
    want["eval"] = sorted(evals)
    want["has_cold"] = any(EVAL[1] in t for t in (dyn, full or {}))
    return want, errors


def gdb_offsets(path):
    cmd = ["gdb", "-batch", "-nx"]
    for _, expr in DEBUG_FIELDS:
        cmd += ["-ex", "p (int)%s" % expr]
    res = run(cmd + [path])
    values = [int(v) for v in re.findall(r"^\$\d+ = (-?\d+)$", res.stdout, re.M)]
    if len(values) != len(DEBUG_FIELDS):
        sys.exit("gdb %s: %d answers to %d questions:\n%s%s"
                 % (path, len(values), len(DEBUG_FIELDS), res.stdout, res.stderr))
    return dict(zip((f for f, _ in DEBUG_FIELDS), values))


def compare(path, got, want, minor, free_threaded, gdb, label):
    """Errors, and how many values were compared."""
    where = "%s (%s)" % (path, label)
    if got.get("python") == "none" or "error" in got:
        return ["%s: no interpreter found (%s)" % (where, got)], 0
    errors, n = [], 0
    for key in list(TYPES) + ["version"]:
        if key in want:
            n += 1
            if got[key] != want[key]:
                errors.append("%s: %s 0x%x, nm says 0x%x" % (where, key, got[key], want[key]))
    n += 1
    if sorted(got["eval"]) != want["eval"] or got["n_eval"] != len(got["eval"]):
        errors.append("%s: eval %s, nm says %s" % (
            where, [(hex(s), hex(e)) for s, e in got["eval"]],
            [(hex(s), hex(e)) for s, e in want["eval"]]))
    n += 1
    if got["has_debug_offsets"] != (minor >= 13):
        errors.append("%s: has_debug_offsets %d on 3.%d" % (where, got["has_debug_offsets"],
                                                             minor))
    if minor >= 13 and got["has_debug_offsets"]:
        n += 2
        if got["debug.version"] != want["version"]:
            errors.append("%s: debug offsets' version 0x%x, sys.hexversion 0x%x"
                          % (where, got["debug.version"], want["version"]))
        if got["debug.free_threaded"] != free_threaded:
            errors.append("%s: free_threaded %d, sysconfig says %d"
                          % (where, got["debug.free_threaded"], free_threaded))
        for field, value in gdb.items():
            n += 1
            if got["debug." + field] != value:
                errors.append("%s: debug offset %s %d, gdb says %d"
                              % (where, field, got["debug." + field], value))
    return errors, n


def newest(pattern):
    found = sorted(glob.glob(pattern), key=lambda p: [int(x) if x.isdigit() else x
                                                      for x in re.split(r"(\d+)", p)])
    return found[-1] if found else None


def main():
    tool, patterns = sys.argv[1], sys.argv[2:]
    errors, minors, compared = [], set(), 0
    checks = []  # (python, file, hexversion, minor, free_threaded)
    for pattern in patterns:
        python = newest(pattern)
        if not python:
            errors.append("%s: no such interpreter" % pattern)
            continue
        res = run([python, "-c", ASK])
        if res.returncode:
            errors.append("%s: %s" % (python, res.stderr.strip()))
            continue
        hexversion, minor, ft = (int(x) for x in res.stdout.split())
        checks.append((python, holder(python), hexversion, minor, ft))

    tmp = tempfile.mkdtemp(prefix="sym_python_file.")
    try:
        stripped = {}  # libpython's path: its stripped copy
        for python, path, _, minor, _ in checks:
            if minor in (12, 13) and "libpython" in path:
                copy = os.path.join(tmp, os.path.basename(path) + ".stripped")
                res = run(["strip", "--strip-all", "-o", copy, path])
                if res.returncode:
                    sys.exit("strip %s: %s" % (path, res.stderr))
                stripped[path] = copy
        not_python = ["/bin/true", os.path.abspath(__file__)]
        got = dump(tool, sorted({c[1] for c in checks} | set(stripped.values()) |
                                set(not_python)))

        for python, path, hexversion, minor, ft in checks:
            before = len(errors)
            want, errs = expected_from_nm(path, hexversion)
            errors += errs
            # Py_Version exists from 3.11: nm must say so too.
            if (want["version"] != 0) != (minor >= 11):
                errors.append("%s: nm -D %s Py_Version on 3.%d" % (
                    path, "lists" if want["version"] else "does not list", minor))
            gdb = gdb_offsets(path) if minor >= 13 else {}
            errs, n = compare(path, got[path], want, minor, ft, gdb, python)
            errors += errs
            compared += len(errors) == before
            minors.add(minor)
            print("%s: %s, 3.%d, version 0x%x, eval %d range(s), %d values compared%s"
                  % (python, path, minor, want["version"], len(want["eval"]), n,
                     ", FAILED" if len(errors) > before else ""))
            if path in stripped:
                before = len(errors)
                copy = stripped.pop(path)
                swant, errs = expected_from_nm(copy, hexversion)
                errors += errs
                if nm_symbols(copy, False) is not None:
                    errors.append("%s: strip left a .symtab" % copy)
                errs, n = compare(copy, got[copy], swant, minor, ft, gdb, "stripped")
                errors += errs
                # What the whole file said, less what only its .symtab held.
                whole = dict(got[path])
                whole["eval"] = swant["eval"]
                whole["n_eval"] = len(swant["eval"])
                if got[copy] != whole:
                    errors.append("%s: stripped copy gives %s, the whole file %s"
                                  % (copy, got[copy], got[path]))
                if not set(swant["eval"]) <= set(want["eval"]) or not swant["eval"]:
                    errors.append("%s: stripped eval %s not of %s"
                                  % (copy, swant["eval"], want["eval"]))
                if minor == 13 and got[copy] != got[path]:
                    errors.append("%s: 3.13's stripped copy answers otherwise" % copy)
                print("%s: %d values compared, eval %d range(s)%s" % (
                    copy, n, len(swant["eval"]), " (its .cold part stripped)"
                    if len(swant["eval"]) < len(want["eval"]) else ""))
                compared += len(errors) == before

        if got["/bin/true"] != {"eval": [], "python": "none"}:
            errors.append("/bin/true: %s, want no interpreter" % got["/bin/true"])
        me = got[os.path.abspath(__file__)]
        if me != {"eval": [], "error": ENOEXEC}:
            errors.append("%s: %s, want error ENOEXEC" % (__file__, me))
    finally:
        shutil.rmtree(tmp)

    if stripped:
        errors.append("stripped copies not compared: %s" % sorted(stripped))
    if not {8, 9, 10, 11, 12, 13} <= minors:
        errors.append("interpreters of 3.8 to 3.13 wanted, got 3.%s" % sorted(minors))
    if compared != len(patterns) + 2:
        errors.append("%d files compared cleanly, %d wanted (%d interpreters, 2 stripped)"
                      % (compared, len(patterns) + 2, len(patterns)))
    for e in errors[:50]:
        print("FAIL:", e)
    if errors:
        sys.exit("%d failures" % len(errors))


if __name__ == "__main__":
    main()
