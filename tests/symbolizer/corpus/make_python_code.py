#!/usr/bin/python3
"""Remakes the seeds of fuzz_python_code (corpus/python_code/): real code
objects of pyenv's CPython 3.8 to 3.13, each copied out of the running
interpreter with its co_name, co_qualname (3.11+), co_filename and line
table (co_lnotab before 3.10, co_linetable since) into one small image of
"process memory", their pointers moved to where the copies are, in the
target's input format (see fuzz_python_code.c): a header, then the
objects, 8-byte aligned, the code object at 32.

    tests/symbolizer/corpus/make_python_code.py    (from anywhere)

The type objects are not copied: the reader only compares ob_type with
the addresses the header gives (CODE_TYPE, STR_TYPE, BYTES_TYPE below).
Besides the tag computed from the image (flag 0), each minor has a seed
whose header carries the right tag (flag 8), one with a wrong tag, and one
whose name holds a lone surrogate and a character past U+10FFFF.
"""

import glob
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "python_code")
CODE_TYPE, STR_TYPE, BYTES_TYPE = 0x7001, 0x7002, 0x7003
CODE_AT = 32

SOURCE = '''
def small(a):
    return a + 1

def größe_λ(xs, f):
    total = 0
    for x in xs:
        try:
            total += f(
                x,
                total)
        except ValueError as e:
            print(e)
    return [y for y in xs if y]

class K:
    def method(self):
        return lambda q: q
'''

# Runs inside each interpreter: prints, for each code object, its name and
# the hex of its image (without the header's tag).
DUMPER = r'''
import ctypes, struct, sys
minor = sys.version_info[1]
CODE_TYPE, STR_TYPE, BYTES_TYPE, CODE_AT = %d, %d, %d, %d

def raw(obj):
    return bytearray(ctypes.string_at(id(obj), sys.getsizeof(obj)))

def put(word_from, word_to, buf):
    old, new = struct.pack("<Q", word_from), struct.pack("<Q", word_to)
    for i in range(0, len(buf) - 7, 8):
        if buf[i:i + 8] == old:
            buf[i:i + 8] = new

def image(code):
    table = code.co_lnotab if minor < 10 else code.co_linetable
    parts = [code.co_name, code.co_filename, table]
    if minor >= 11:
        parts.append(code.co_qualname)
    body = raw(code)
    at, blobs, moved = CODE_AT + len(body), [], {}
    for obj in parts:
        if id(obj) in moved:
            continue
        at = (at + 7) & ~7
        moved[id(obj)] = at
        b = raw(obj)
        b[8:16] = struct.pack("<Q", BYTES_TYPE if isinstance(obj, bytes) else STR_TYPE)
        blobs.append((at, b))
        at += len(b)
    body[8:16] = struct.pack("<Q", CODE_TYPE)
    for old, new in moved.items():
        put(old, new, body)
    img = bytearray(at)
    img[0] = minor - 8
    img[1:21] = struct.pack("<IIIQ", CODE_TYPE, STR_TYPE, BYTES_TYPE, CODE_AT)
    img[CODE_AT:CODE_AT + len(body)] = body
    for a, b in blobs:
        img[a:a + len(b)] = b
    return bytes(img)

def walk(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from walk(c)

for code in walk(compile(sys.stdin.read(), "seed_λ.py", "exec")):
    name = code.co_name.strip("<>").encode("ascii", "replace").decode().replace("?", "_")
    sys.stdout.write("%%s %%s\n" %% (name, image(code).hex()))
    if name == "small":
        # A name of four-byte characters: a lone surrogate, U+1F600, and
        # U+1F600 made 0x110000 in the image (past Unicode: U+FFFD).
        kw = {"co_name": "\udcff\U0001F600\U0001F600"}
        if minor >= 11:
            kw["co_qualname"] = kw["co_name"]
        odd = image(code.replace(**kw))
        odd = odd.replace(bytes.fromhex("00f6010000f60100"), bytes.fromhex("00f6010000001100"))
        sys.stdout.write("small-odd-chars %%s\n" %% odd.hex())
''' % (CODE_TYPE, STR_TYPE, BYTES_TYPE, CODE_AT)


def main():
    os.makedirs(OUT, exist_ok=True)
    for minor in range(8, 14):
        python = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3" % minor))[-1]
        out = subprocess.run([python, "-c", DUMPER], input=SOURCE, capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            name, hexed = line.split()
            img = bytes.fromhex(hexed)
            with open(os.path.join(OUT, "3.%d-%s" % (minor, name)), "wb") as f:
                f.write(img)
            if name == "small":
                # The tag in the header (flag 8): the right one, and not.
                first, = struct.unpack_from("<i", img, CODE_AT + FIRSTLINENO[minor])
                name_at, = struct.unpack_from("<Q", img, CODE_AT + NAME[minor])
                file_at, = struct.unpack_from("<Q", img, CODE_AT + FILENAME[minor])
                tag = fnv_tag(first, name_at, file_at)
                for suffix, t in (("tag", tag), ("stale", tag ^ 2)):
                    seed = bytearray(img)
                    seed[0] |= 8
                    seed[21:25] = struct.pack("<I", t)
                    with open(os.path.join(OUT, "3.%d-small-%s" % (minor, suffix)), "wb") as f:
                        f.write(seed)


# co_firstlineno, co_name, co_filename in PyCodeObject (python_layout.c).
FIRSTLINENO = {8: 40, 9: 40, 10: 40, 11: 72, 12: 68, 13: 68}
NAME = {8: 112, 9: 112, 10: 112, 11: 120, 12: 120, 13: 120}
FILENAME = {8: 104, 9: 104, 10: 104, 11: 112, 12: 112, 13: 112}


def fnv_tag(first, name, filename):
    """sym_py_code_tag (python_code.c), without the entry bit."""
    h = 0xcbf29ce484222325
    for v in (first & 0xffffffff, name, filename):
        h = ((h ^ v) * 0x100000001b3) & 0xffffffffffffffff
    return (h ^ (h >> 32)) & 0xfffffffe


if __name__ == "__main__":
    main()
