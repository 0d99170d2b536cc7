"""Writes a small Go 1.18+ pclntab (runtime/symtab.go: pcHeader, functab,
_func) naming three functions, for the fuzz_elf seeds in
tests/symbolizer/corpus/elf/go-pclntab*: real Go binaries are a megabyte,
too big for a seed. The seeds are the static seeds stripped, with the table
added as .gopclntab (TEXT: .text's address, from readelf -S):

  python3 make_pclntab_seed.py le64 t.bin TEXT        # or be32, corrupt64
  strip --strip-all -o s corpus/elf/static64           # static32 for be32
  objcopy --add-section .gopclntab=t.bin s corpus/elf/go-pclntab64

le64: little-endian, 8-byte words; be32: big-endian, 4-byte words, Go 1.20
magic and textStart left 0 (read from .text); corrupt64: the last name's
offset lies past the end of the table.
"""
import struct
import sys


def pclntab(ptr, big, magic, text_start, funcs, end, bad_last_name=False):
    e = '>' if big else '<'
    word = 'Q' if ptr == 8 else 'I'
    nf = len(funcs)
    funcnames = 8 + 8 * ptr  # right after the header
    names, nameoffs = b'', []
    for _, name in funcs:
        nameoffs.append(len(names))
        names += name.encode() + b'\0'
    if bad_last_name:
        nameoffs[-1] = 0x7fff
    functab = funcnames + len(names)
    functab += -functab % 8
    # functab: {entry offset, offset of its _func from functab} each, then
    # the end; the _funcs follow (entryoff, nameoff, 7 words, 4 bytes).
    tab, func_structs = b'', b''
    for (off, _), nameoff in zip(funcs, nameoffs):
        tab += struct.pack(e + 'II', off, (2 * nf + 1) * 4 + len(func_structs))
        func_structs += struct.pack(e + 'Ii7I4B', off, nameoff, *[0] * 11)
    tab += struct.pack(e + 'I', end)
    # nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset,
    # pctabOffset, pclnOffset
    hdr = struct.pack(e + 'I4B', magic, 0, 0, 1, ptr)
    hdr += struct.pack(e + 8 * word, nf, 0, text_start, funcnames,
                       functab, functab, functab, functab)
    body = hdr + names
    return body + b'\0' * (functab - len(body)) + tab + func_structs


def main():
    kind, out, text = sys.argv[1], sys.argv[2], int(sys.argv[3], 16)
    funcs = [(0, 'main.main'), (0x10, 'main.yourFunc'), (0x20, 'runtime.goexit')]
    tables = {
        'le64': lambda: pclntab(8, False, 0xfffffff0, text, funcs, 0x30),
        'be32': lambda: pclntab(4, True, 0xfffffff1, 0, funcs, 0x30),
        'corrupt64': lambda: pclntab(8, False, 0xfffffff0, text, funcs, 0x30,
                                     bad_last_name=True),
    }
    with open(out, 'wb') as f:
        f.write(tables[kind]())


if __name__ == '__main__':
    main()
