#!/usr/bin/python3
"""Remakes the seeds of fuzz_unwind_walk (tests/agent/fuzz_unwind_walk.c),
in its input layout:

    u8 n_maps, u8 max, u64 ip, u64 regs[16] (DWARF order), u64 mem_base,
    n_maps x (u64 start, u64 end, u64 bias, u16 n_rows),
    the rows of each mapping (16 bytes: u64 pc, s32 cfa_offset,
    s16 rbp_offset, u8 cfa_rule | cfa_reg << 4, u8 rbp_rule | cfa_arg << 2),
    the stack copy (the rest).

Each seed is a walk that reaches one way of ending, so that libFuzzer
starts from every branch:

chain         rsp+8 leaf, rbp frame (pair at CFA-16), rsp+48, STOP
signal        a handler's leaf, __restore_rt's SIGNAL row, the interrupted
              frame's CFA from rax, STOP
frame_pointer no mappings: rbp chain to rbp 0 (FP_ZERO)
truncated     every return address the leaf's own: 127 frames
top           a copy at the top of the address space, a read across 2^64
deref         DEREF, then DEREF_INDEXED above the sampled frame (UNSUPPORTED)
indexed_plt   DEREF_INDEXED in the sampled frame, PLT past its threshold,
              STOP (max 5)

    tests/agent/corpus/make_unwind_walk.py   (from anywhere; rewrites them)
"""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unwind_walk")
BASE = 0x7FFE00000000
BIAS = 0xF000
RSP, RBP, RAX, R9 = 7, 6, 0, 9
NONE, REG, PLT, DEREF, INDEXED, SIGNAL, STOP = 0, 1, 2, 3, 4, 5, 6
SAME, AT_CFA, AT_RBP = 0, 1, 2


def fn(x):
    return x + BIAS


def row(pc, rule, reg=0, off=0, rbp_rule=SAME, rbp_off=0, arg=0):
    return struct.pack("<QihBB", pc, off, rbp_off, rule | reg << 4, rbp_rule | arg << 2)


ROWS = [
    row(0x1000, REG, RSP, 8),
    row(0x1100, REG, RBP, 16, AT_CFA, -16),
    row(0x1200, REG, RSP, 48),
    row(0x1300, STOP),
    row(0x1400, NONE),
    row(0x1500, PLT, RSP, 8, arg=11),
    row(0x1600, DEREF, RBP, -8, AT_RBP, 0, 1),
    row(0x1700, INDEXED, RSP, 16, arg=R9),
    row(0x1800, REG, RAX, 8),
    row(0x1900, SIGNAL),
]


def seed(ip, sp, bp, stack, maps, mem_base=BASE, other=None, max_=127):
    regs = [0x5A5A0000 + i for i in range(16)]
    regs[RSP], regs[RBP] = sp, bp
    for k, v in (other or {}).items():
        regs[k] = v
    out = struct.pack("<BBQ", len(maps), max_, ip) + struct.pack("<16Q", *regs)
    out += struct.pack("<Q", mem_base)
    for start, end, bias, rows in maps:
        out += struct.pack("<QQQH", start, end, bias, len(rows))
    for _, _, _, rows in maps:
        out += b"".join(rows)
    return out + bytes(stack)


def stack_of(words, length=0x800):
    s = bytearray(length)
    for addr, v in words.items():
        struct.pack_into("<Q", s, addr - BASE, v)
    return s


A = (0x10000, 0x20000, BIAS, ROWS)
B = (0x30000, 0x40000, 0, [])

SEEDS = {
    "chain": seed(fn(0x1000), BASE + 0x100, BASE + 0x200,
                  stack_of({BASE + 0x100: fn(0x1120), BASE + 0x200: BASE + 0x300,
                            BASE + 0x208: fn(0x1210), BASE + 0x238: fn(0x1320)}), [A, B]),
    "frame_pointer": seed(0x5000, BASE + 0x100, BASE + 0x200,
                          stack_of({BASE + 0x200: BASE + 0x300, BASE + 0x208: 0x30020,
                                    BASE + 0x300: 0, BASE + 0x308: 0x6000}), []),
    "truncated": seed(fn(0x1010), BASE, 0,
                      stack_of({BASE + 8 * i: fn(0x1010) for i in range(0x100)}), [A]),
    "top": seed(fn(0x1610), 0, 4, bytes(range(16)) * 4, [A], mem_base=2**64 - 16),
    "deref": seed(fn(0x1610), BASE + 0x100, BASE + 0x400,
                  stack_of({BASE + 0x3F8: BASE + 0x500, BASE + 0x500: fn(0x1710),
                            BASE + 0x400: BASE + 0x700}), [A, B]),
    "indexed_plt": seed(fn(0x1710), BASE + 0x100, 0,
                        stack_of({BASE + 0x118: BASE + 0x600, BASE + 0x600: fn(0x150C),
                                  BASE + 0x610: fn(0x1320)}), [A], other={R9: 1}, max_=5),
}

# The signal frame: the leaf returns into __restore_rt (row 0x1900); the
# ucontext's registers at rsp + 40, in sigcontext's order (r8..r15, rdi,
# rsi, rbp, rbx, rdx, rax, rcx, rsp, rip).
g = [0x1000 + i for i in range(17)]
g[13], g[15], g[16] = BASE + 0x600, BASE + 0x500, fn(0x1800)
words = {BASE + 0x100: fn(0x1908), BASE + 0x600: fn(0x1320)}
words.update({BASE + 0x108 + 40 + 8 * i: v for i, v in enumerate(g)})
SEEDS["signal"] = seed(fn(0x1010), BASE + 0x100, 0, stack_of(words), [A, B])

os.makedirs(HERE, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
