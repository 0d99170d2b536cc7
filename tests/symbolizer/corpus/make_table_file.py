#!/usr/bin/python3
"""Remakes the seeds of fuzz_table_file (corpus/table_file/): unwind table
cache files (symbolizer/table_cache.h) as the agent writes them, and
damaged ones. The rows are compressed by the zstd command (which records
the frame's content size, as ZSTD_compress does).

    tests/symbolizer/corpus/make_table_file.py    (from anywhere)
"""

import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "table_file")
ROW = struct.Struct("<QihBB")  # struct smolder_unwind_row (bpf/unwind.h)
HEADER = struct.Struct("<8sII64sQQQ")  # struct sym_table_file_header
CONTENT_ID = b"18a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"


def rows(pcs):
    # cfa_rule REG or PLT, cfa_reg rsp (7); rbp_rule SAME or AT_CFA.
    return b"".join(ROW.pack(pc, 16 + 8 * (i % 3), -16, (1 + i % 2) | 7 << 4, i % 2)
                    for i, pc in enumerate(pcs))


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def table_file(pcs, n=None, version=1, row_size=16, content_id=CONTENT_ID, tail=b""):
    plain = rows(pcs)
    n = len(pcs) if n is None else n
    return HEADER.pack(b"SMOLDUT\0", version, row_size, content_id, n, 5, 2) + zstd(plain) + tail


def seeds():
    pcs = [0x1000 + 4 * i for i in range(300)]
    yield "good", table_file(pcs)
    yield "one_row", table_file([0x401000])
    yield "unsorted", table_file(pcs[:100] + [0x1004] + pcs[100:])
    yield "rows_lie", table_file(pcs, n=301)
    yield "other_id", table_file(pcs, content_id=b"0" * 64)
    yield "version_2", table_file(pcs, version=2)
    yield "tail", table_file(pcs, tail=b"\0")
    yield "truncated", table_file(pcs)[:150]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
