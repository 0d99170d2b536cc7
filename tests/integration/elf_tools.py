"""What the symbolizer tests expect, read with tools that are not ours:
readelf (binutils) for build-ids and segments, eu-addr2line (elfutils) for
the function, file:line and inline chain at an address, and markers in the
workloads' sources for the lines a test looks for.

Only the standard library of Debian's /usr/bin/python3 is used.
"""

import os
import re
import struct
import subprocess

import smolder_harness as h


def _run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    except FileNotFoundError:
        h.fail("%s not found (binutils / elfutils)" % cmd[0])
    if p.returncode != 0:
        h.fail("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout


def build_id(path):
    """The GNU build-id note of an ELF file, in hex, by `readelf -n`; None
    if it has none."""
    m = re.search(r"Build ID: ([0-9a-fA-F]+)", _run(["readelf", "-nW", path]))
    return m.group(1).lower() if m else None


def section_names(path):
    """The names of the ELF file's sections, by `readelf -SW`."""
    return set(re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", _run(["readelf", "-SW", path]), re.M))


def load_segments(path):
    """[(offset, vaddr, filesz)] of the PT_LOAD segments, by `readelf -lW`."""
    out = []
    for m in re.finditer(r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+"
                         r"(0x[0-9a-f]+)", _run(["readelf", "-lW", path]), re.M):
        out.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)))
    return out


def file_vaddr(path, mapping, address):
    """The ELF virtual address of a runtime address in a pprof Mapping of
    path (start, limit, file offset), or None if no segment holds it."""
    off = address - mapping.start + mapping.offset
    for seg_off, seg_vaddr, size in load_segments(path):
        if seg_off <= off < seg_off + size:
            return off - seg_off + seg_vaddr
    return None


def entry_point(path):
    """The ELF entry point (e_entry) of path, by `readelf -hW`."""
    return int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)",
                         _run(["readelf", "-hW", path])).group(1), 16)


def at_entry(path, frame, name=None, entry=None):
    """Whether a pprof frame is the entry function of executable path (its
    _start, named or not): within 64 bytes of e_entry, in a mapping of the
    file called name (default: path's base name; a copy may run under
    another)."""
    if frame is None or frame.mapping is None or \
            os.path.basename(frame.mapping.file) != (name or os.path.basename(path)):
        return False
    entry = entry_point(path) if entry is None else entry
    v = file_vaddr(path, frame.mapping, frame.address)
    return v is not None and entry <= v < entry + 64


class Roots:
    """Whether a stack is whole: it passes through main, or its outermost
    frame is the entry point of its executable or of ld.so (_start, named or
    not: cc1's symbols are only its dynamic ones, and a file read for the
    first time may not be named by the interval's deadline; a sample taken
    while ld.so loads the program ends in ld.so's entry)."""

    def __init__(self, exe, name=None):
        """exe: the executable (read for its entry point); name: the base
        name it ran under, when that was a copy of exe."""
        self.exe, self.entry = exe, entry_point(exe)
        self.name = name or os.path.basename(exe)

    def whole(self, sample):
        if any(f.name in ("main", "_start") for f in sample.frames):
            return True
        last = sample.frames[-1] if sample.frames else None
        if at_entry(self.exe, last, self.name, self.entry):
            return True
        return last is not None and last.mapping is not None and \
            os.path.basename(last.mapping.file).startswith("ld-linux") and \
            os.path.exists(last.mapping.file) and at_entry(last.mapping.file, last)


_LOC_RE = re.compile(r"^(.*?):(\d+)(?::\d+)?$")


def addr2line(path, vaddr):
    """[(function, file, line)] at vaddr of path, innermost first, by
    `eu-addr2line -i -f`; file is None where it says ??."""
    lines = _run(["eu-addr2line", "-i", "-f", "-e", path, "%#x" % vaddr]).splitlines()
    out = []
    for name, loc in zip(lines[0::2], lines[1::2]):
        m = _LOC_RE.match(loc.strip())
        fn = name.split(" ", 1)[0]
        if not m or m.group(1) == "??":
            out.append((fn, None, None))
        else:
            out.append((fn, m.group(1), int(m.group(2))))
    return out


def marker_lines(source, marker):
    """The 1-based numbers of the lines of source that hold marker."""
    with open(source) as f:
        found = [i + 1 for i, line in enumerate(f) if marker in line]
    if not found:
        h.fail("no %r marker in %s" % (marker, source))
    return found


def marker_range(source, begin, end):
    """(first, last): the lines of the begin and end markers of source."""
    b, e = marker_lines(source, begin)[0], marker_lines(source, end)[0]
    if e < b:
        h.fail("%s: %s (line %d) comes after %s (line %d)" % (source, begin, b, end, e))
    return b, e


def source_dir():
    """Where the workloads' sources are: beside this file."""
    return os.path.dirname(os.path.abspath(__file__))


def chain(loc):
    """A Location's Lines as text, innermost first: "f file:line <- g ..."."""
    return " <- ".join("%s %s:%s" % (f.name or "??", os.path.basename(f.file or "") or "?",
                                     f.line if f.line is not None else "?") for f in loc)


def user_leaf(sample):
    """The sample's first Location (its Lines) that is not in the kernel,
    or None."""
    for loc in sample.locations:
        if not loc[0].is_kernel:
            return loc
    return None


def no_debuginfod_env():
    """Keeps the agent off any debuginfod server the environment names
    (Debian sets DEBUGINFOD_URLS in login shells): these tests say where
    debug files are."""
    os.environ.pop("DEBUGINFOD_URLS", None)


# ---------------------------------------------------------------------------
# Section headers, read and rewritten in place (ELF64 little-endian only):
# for the attack tests, which make hostile copies of files built here.

_SHDR = struct.Struct("<IIQQQQIIQQ")
_SHDR_FIELDS = ("name", "type", "flags", "addr", "offset", "size", "link", "info",
                "addralign", "entsize")
SHF_COMPRESSED = 0x800


def section_headers(path):
    """{name: (index, {field: value})} of an ELF64 LE file's sections."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x7fELF\x02\x01":
        h.fail("%s is not an ELF64 little-endian file" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    shdrs = [dict(zip(_SHDR_FIELDS, _SHDR.unpack_from(data, shoff + i * shentsize)))
             for i in range(shnum)]
    strtab = shdrs[shstrndx]
    names = data[strtab["offset"]:strtab["offset"] + strtab["size"]]
    return {names[s["name"]:names.index(b"\0", s["name"])].decode(): (i, s)
            for i, s in enumerate(shdrs)}


def patch_section(path, name, **fields):
    """Rewrites fields of the header of section name in place."""
    index, sh = section_headers(path)[name]
    sh.update(fields)
    with open(path, "r+b") as f:
        f.seek(0x28)
        shoff, = struct.unpack("<Q", f.read(8))
        f.seek(0x3A)
        shentsize, = struct.unpack("<H", f.read(2))
        f.seek(shoff + index * shentsize)
        f.write(_SHDR.pack(*(sh[k] for k in _SHDR_FIELDS)))
