"""Workload of bench/python.sh: one CPU busy at the bottom of a pure-Python
recursion, the Python counterpart of unwind_work's stack30.

Usage: py_deep.py SECONDS

recurse(1) calls itself down to recurse(30); that innermost call spins in
pure Python for SECONDS of wall-clock time, so every sample has exactly 30
recurse frames under <module>. Standard library only; CPython 3.8 to 3.13.
"""

import sys
import time

DEPTH = 30


def recurse(n, stop):
    if n < DEPTH:
        return recurse(n + 1, stop)
    acc = 0
    # The clock is read once every 4000 steps: the time goes to bytecode.
    while time.perf_counter() < stop:
        for i in range(4000):
            acc = (acc ^ (i * 2654435761)) & 0xFFFFFFFF
    return acc


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: %s SECONDS" % sys.argv[0])
    recurse(1, time.perf_counter() + float(sys.argv[1]))
