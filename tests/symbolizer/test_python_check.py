"""Unit test: sym_py_check_layout, which the agent runs (in its parser
worker) before it walks a Python process, on every CPython of the machine.

    test_python_check.py PYTHON_CHECK_DUMP PYTHON...

Each interpreter (pyenv's 3.8 to 3.13 and Debian's python3.11; a missing
one fails) runs a second thread and hands the dump its pid, its minor
version, PyCode_Type's address (id(type(code))) and _PyRuntime's (ctypes,
from the process's own symbols). As smolder's layout says, the check must
pass with the two threads found; with any one offset spoiled (co_firstlineno,
the line table, the type's address, a thread's interp or next) it must
refuse (-EINVAL): the check can tell a layout that does not hold.
"""

import glob
import subprocess
import sys

EINVAL = 22
SCRIPT = r"""
import ctypes, os, subprocess, sys, threading
runtime = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
done = threading.Event()
t = threading.Thread(target=done.wait)
t.start()
out = subprocess.run([sys.argv[1], str(os.getpid()), str(sys.version_info.minor),
                      str(id(type((lambda: 0).__code__))), str(runtime)],
                     capture_output=True, text=True)
done.set()
t.join()
sys.stdout.write(out.stdout)
sys.exit(out.returncode)
"""


def main():
    dump, patterns = sys.argv[1], sys.argv[2:]
    failures, checked = [], 0
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if not found:
            failures.append("no interpreter at %s" % pattern)
            continue
        python = found[0]
        p = subprocess.run([python, "-c", SCRIPT, dump], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            failures.append("%s: exit %d: %s" % (python, p.returncode, p.stderr.strip()))
            continue
        results = {}
        for line in p.stdout.splitlines():
            name, err, threads = line.split()
            results[name] = (int(err), int(threads))
        if results.get("layout") != (0, 2):
            failures.append("%s: the layout check gave %s, want 0 with 2 threads"
                            % (python, results.get("layout")))
        for name in ("firstlineno", "linetable", "code_type", "tstate_interp", "tstate_next"):
            if results.get(name, (0, 0))[0] != -EINVAL:
                failures.append("%s: spoiled %s gave %s, want -EINVAL"
                                % (python, name, results.get(name)))
        print("%s: %s" % (python, results))
        checked += 1
    if checked != len(patterns):
        failures.append("%d of %d interpreters checked" % (checked, len(patterns)))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
