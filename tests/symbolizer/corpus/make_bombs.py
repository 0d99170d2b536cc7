#!/usr/bin/python3
"""Remakes the hostile seeds of the symbolizer's fuzz corpora (issue 12):
files that claim far more than they hold, as the attacks of
tests/integration/test_attack_files.py do at full size. Each is a copy of a
seed already here with a header rewritten, so it stays a few kilobytes:
libFuzzer mutates from it, and a target that allocates what a header
claims fails on -malloc_limit_mb (see tests/meson.build).

    tests/symbolizer/corpus/make_bombs.py     (from anywhere; rewrites them)

elf/      symtab-claims-1.6g        .symtab's size 1.6 GB, the file 1 KB
          symtab-past-end           .symtab's offset past the end of the file
          symtab-offset-wraps       .symtab's offset + size wraps 2^64
          strtab-claims-300m        .strtab (read whole) 300 MB, over the cap
dwarf/    debug-info-bomb-2g        .debug_info SHF_COMPRESSED, its Chdr
                                    claiming 2 GiB, a 1 KB zlib stream
          debug-info-bomb-2g-m32    the same in an ELF32 file (Elf32_Chdr),
                                    claiming 4 GiB - 1
          debug-info-lies-small     the Chdr claims 64 bytes, the stream
                                    expands to 1 MiB
          debug-info-under-floor    1 MiB - 1 claimed and held: under the
                                    ratio check's floor, decompressed whole
          zdebug-info-2g            .zdebug_info ("ZLIB", big-endian size)
                                    claiming 2 GiB
          zlib-claims-2g            dwarf5-zlib with its .debug_info's
                                    ch_size rewritten to 2 GiB
          debug-info-past-end       .debug_info's offset past the end
perf_map/ huge-ranges.map           starts and sizes at 2^64's edge, ranges
                                    that wrap, numbers of 17 digits, a line
                                    over SYM_PERF_MAP_LINE_MAX

The sparse form of the .symtab attack (holes the file does not store)
cannot be a seed: a fuzz input is written to a memfd whole. The sparse
check is covered by test_attack_files.py. Only the standard library is
used.
"""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SHF_COMPRESSED = 0x800
ELFCOMPRESS_ZLIB = 1

# Section header fields, and where the ELF header keeps e_shoff,
# e_shentsize and e_shstrndx, by class (little-endian files only).
FIELDS = ("name", "type", "flags", "addr", "offset", "size", "link", "info", "addralign",
          "entsize")
LAYOUT = {
    1: (struct.Struct("<IIIIIIIIII"), "<I", 0x20, 0x2E, 0x32),
    2: (struct.Struct("<IIQQQQIIQQ"), "<Q", 0x28, 0x3A, 0x3E),
}


class Elf:
    """An ELF file's bytes, with its section headers by name."""

    def __init__(self, name):
        with open(os.path.join(HERE, name), "rb") as f:
            self.data = bytearray(f.read())
        assert self.data[:4] == b"\x7fELF" and self.data[5] == 1, name
        self.cls = self.data[4]
        self.shdr, shoff_fmt, shoff_at, entsize_at, strndx_at = LAYOUT[self.cls]
        self.shoff, = struct.unpack_from(shoff_fmt, self.data, shoff_at)
        self.entsize, shnum = struct.unpack_from("<HH", self.data, entsize_at)
        strndx, = struct.unpack_from("<H", self.data, strndx_at)
        self.headers = [dict(zip(FIELDS, self.shdr.unpack_from(self.data, self.at(i))))
                        for i in range(shnum)]
        names = self.headers[strndx]
        table = bytes(self.data[names["offset"]:names["offset"] + names["size"]])
        self.index = {table[h["name"]:table.index(b"\0", h["name"])].decode(): i
                      for i, h in enumerate(self.headers)}

    def at(self, i):
        return self.shoff + i * self.entsize

    def patch(self, section, **fields):
        i = self.index[section]
        self.headers[i].update(fields)
        self.shdr.pack_into(self.data, self.at(i), *(self.headers[i][k] for k in FIELDS))

    def header(self, section):
        return self.headers[self.index[section]]

    def append(self, blob):
        """Puts blob at the end, 8-aligned; its offset."""
        self.data += bytes(-len(self.data) % 8)
        offset = len(self.data)
        self.data += blob
        return offset

    def write(self, name):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(self.data)


def zeros_stream(size):
    z = zlib.compressobj(9)
    out = [z.compress(bytes(1 << 20)) for _ in range(size >> 20)]
    out += [z.compress(bytes(size & ((1 << 20) - 1))), z.flush()]
    return b"".join(out)


def chdr(cls, size):
    if cls == 1:
        return struct.pack("<III", ELFCOMPRESS_ZLIB, size & 0xFFFFFFFF, 1)
    return struct.pack("<IIQQ", ELFCOMPRESS_ZLIB, 0, size, 1)


def compressed_debug_info(seed, out, claimed, stream):
    e = Elf(seed)
    blob = chdr(e.cls, claimed) + stream
    flags = e.header(".debug_info")["flags"] | SHF_COMPRESSED
    e.patch(".debug_info", offset=e.append(blob), size=len(blob), flags=flags, addralign=8)
    e.write(out)


def main():
    e = Elf("elf/static64")
    e.patch(".symtab", size=1600 << 20)
    e.write("elf/symtab-claims-1.6g")
    e = Elf("elf/static64")
    e.patch(".symtab", offset=len(e.data) + 4096)
    e.write("elf/symtab-past-end")
    e = Elf("elf/static64")
    e.patch(".symtab", offset=(1 << 64) - 0x40)
    e.write("elf/symtab-offset-wraps")
    e = Elf("elf/shared64.so")
    e.patch(".strtab", size=300 << 20)
    e.write("elf/strtab-claims-300m")

    small = zeros_stream(1 << 20)
    compressed_debug_info("dwarf/dwarf5-pie", "dwarf/debug-info-bomb-2g", 2 << 30, small)
    compressed_debug_info("dwarf/dwarf4-m32", "dwarf/debug-info-bomb-2g-m32", (4 << 30) - 1,
                          small)
    compressed_debug_info("dwarf/dwarf5-pie", "dwarf/debug-info-lies-small", 64, small)
    compressed_debug_info("dwarf/dwarf5-pie", "dwarf/debug-info-under-floor", (1 << 20) - 1,
                          zeros_stream((1 << 20) - 1))

    e = Elf("dwarf/dwarf5-pie")
    blob = b"ZLIB" + struct.pack(">Q", 2 << 30) + small
    e.patch(".debug_info", offset=e.append(blob), size=len(blob))
    # The GNU form is known by its name: the section names are copied to
    # the end with ".zdebug_info" added, and .debug_info named by it.
    names = e.header(".shstrtab")
    table = bytes(e.data[names["offset"]:names["offset"] + names["size"]])
    e.patch(".shstrtab", offset=e.append(table + b".zdebug_info\0"),
            size=len(table) + len(b".zdebug_info\0"))
    e.patch(".debug_info", name=len(table))
    e.write("dwarf/zdebug-info-2g")

    e = Elf("dwarf/dwarf5-zlib")
    info = e.header(".debug_info")
    assert info["flags"] & SHF_COMPRESSED
    struct.pack_into("<Q", e.data, info["offset"] + 8, 2 << 30)
    e.write("dwarf/zlib-claims-2g")

    e = Elf("dwarf/dwarf5-pie")
    e.patch(".debug_info", offset=len(e.data) + 4096)
    e.write("dwarf/debug-info-past-end")

    lines = [
        "ffffffffffffff00 1000 wraps_past_2_64",
        "0 ffffffffffffffff everything",
        "ffffffffffffffff 1 last_byte",
        "fffffffffffffffe 1 next_to_last",
        "0x7fffffffffff 0x7fffffffffffffff half_the_space",
        "1 0 empty",
        "10000000000000000 10 seventeen_digits",
        "1000 10000000000000000 seventeen_digit_size",
        "7f0000001000 100 " + "long_name_" * 500,
        "7f0000001000 100 after_the_long_one",
    ]
    with open(os.path.join(HERE, "perf_map", "huge-ranges.map"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
