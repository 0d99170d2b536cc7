#!/usr/bin/python3
"""Remakes the seeds of fuzz_python_lines (corpus/python_lines/): line tables
of real code objects, as pyenv's CPython 3.8 to 3.13 write them, in the
target's input format: a byte for the version (minor - 8), co_firstlineno
(4 bytes, little-endian), then co_lnotab (3.8, 3.9) or co_linetable.

    tests/symbolizer/corpus/make_python_lines.py    (from anywhere)
"""

import glob
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "python_lines")

# Loops, lines going back, no-line cleanup code, a jump of 300 lines.
SOURCE = '''
def small(a):
    return a + 1

def loops(xs, f):
    total = 0
    for x in xs:
        try:
            total += f(
                x,
                total)
        except ValueError as e:
            print(e)
        finally:
            total -= 1
    return [y for y in xs if y]
''' + "def far(a):\n    a += 1\n" + "\n" * 300 + "    return a\n"

DUMPER = '''
import struct, sys
minor = sys.version_info[1]
code = compile(sys.stdin.read(), "seed", "exec")
for c in code.co_consts:
    if hasattr(c, "co_code"):
        table = c.co_lnotab if minor < 10 else c.co_linetable
        sys.stdout.write("%s %s\\n" % (c.co_name, (bytes([minor - 8]) +
                         struct.pack("<i", c.co_firstlineno) + table).hex()))
'''


def main():
    os.makedirs(OUT, exist_ok=True)
    for minor in range(8, 14):
        python = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3" % minor))[-1]
        out = subprocess.run([python, "-c", DUMPER], input=SOURCE, capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            name, hexed = line.split()
            with open(os.path.join(OUT, "3.%d-%s" % (minor, name)), "wb") as f:
                f.write(bytes.fromhex(hexed))


if __name__ == "__main__":
    main()
