#!/usr/bin/python3
"""Remakes the hostile seeds of the /proc/PID/maps fuzz corpus (issue 12):
a process controls how many mappings it has and what their paths are.

    tests/discovery/corpus/make_bombs.py     (from anywhere; rewrites them)

maps/many_lines.txt       1200 mappings (the attack's 56 MB maps had
                          hundreds of thousands; the parser must not
                          slow down per line, and the fuzzer mutates it)
maps/huge_addresses.txt   ranges at 2^64's edge, an end before its start,
                          17-digit numbers, a 5 KB path
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    lines = []
    for i in range(1200):
        start = 0x7F0000000000 + i * 0x2000
        perms = ("r--p", "r-xp", "rw-p")[i % 3]
        path = "/tmp/jit-%d.so" % (i // 3) if i % 4 else ""
        lines.append("%x-%x %s %08x fe:00 %d %s" % (start, start + 0x1000, perms,
                                                      (i % 3) * 0x1000, 1000 + i // 3, path))
    with open(os.path.join(HERE, "maps", "many_lines.txt"), "w") as f:
        f.write("\n".join(line.rstrip() for line in lines) + "\n")
    lines = [
        "ffffffffffff0000-ffffffffffffffff r-xp 00000000 00:00 0 /top",
        "0-ffffffffffffffff rw-p ffffffffffffffff ffffffff:ffffffff 18446744073709551615 /all",
        "2000-1000 r-xp 00000000 fe:00 1 /backwards",
        "10000000000000000-10000000000001000 r-xp 00000000 fe:00 1 /seventeen",
        "7f0000000000-7f0000001000 r-xp 00000000 fe:00 1 /" + "d" * 5000,
        "7f0000001000-7f0000002000 r-xp 00001000 fe:00 1 /after (deleted)",
    ]
    with open(os.path.join(HERE, "maps", "huge_addresses.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
