/* The BPF user-stack walk (bpf/unwind.bpf.h) done again in user space, on a
 * copy of a sample's registers and of the top of its user stack: for a
 * process whose unwind tables were not loaded yet when it was sampled, the
 * agent walks the copy once they are (as perf --call-graph dwarf does).
 *
 * The stacks of both walks must be the same frames with the same end, so
 * that a profile does not depend on which of them a sample went through:
 * the same rules, the same checks in the same order, the same 127-frame
 * limit. BPF cannot call this code, so the logic is written twice: a change
 * to one walk is a change to both (the names of the steps are the same in
 * both files, to find them).
 *
 * What differs is only the memory: each read of user memory reads the copy
 * and fails, as bpf_probe_read_user would, where the copy does not hold all
 * of its bytes. The copy is written by the sampled process, so nothing in
 * it is trusted: no read leaves the buffer whatever the addresses and
 * offsets, and the walk takes at most SMOLDER_MAX_STACK_DEPTH + 1 steps.
 */
#ifndef SMOLDER_UNWIND_WALK_H
#define SMOLDER_UNWIND_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "unwind.h" /* bpf/unwind.h */

/* One executable mapping of the process: its addresses, load bias (file
 * address = address - bias) and its file's rows (sorted by pc), either as
 * the symbolizer built them (rows) or as the rows array holds them (elems:
 * n_rows rows, then the rules, n_elems in all). Neither, or n_rows 0: no
 * table, frame pointers there. */
struct unwind_walk_mapping {
	uint64_t start, end, bias;
	const struct smolder_unwind_row *rows;
	const union smolder_unwind_elem *elems;
	size_t n_rows;
	size_t n_elems;
	/* Nonzero: an arena of CPython perf trampolines, their stride << 8
	 * | their size (SMOLDER_UNWIND_PY_TRAMPOLINE), no rows. */
	uint32_t py_trampoline;
};

/* A copy of user memory: bytes[i] is the byte at address base + i. */
struct unwind_walk_memory {
	uint64_t base;
	const uint8_t *bytes;
	size_t len;
};

/* The sampled frame: rip and the 16 general registers by DWARF number
 * (rsp is regs[7], rbp regs[6]). */
struct unwind_walk_regs {
	uint64_t ip;
	uint64_t regs[SMOLDER_DWARF_GPRS];
};

/* Walks the stack from regs, the sampled (interrupted) frame, through maps
 * (sorted by start, non-overlapping; any number) and mem; writes the frames
 * (leaf first, each frame's ip as BPF's push_frame records it) into pcs
 * (room for max, at most SMOLDER_MAX_STACK_DEPTH used) and how the walk
 * ended into *end (enum smolder_unwind_end). Returns the number of frames.
 * A max below SMOLDER_MAX_STACK_DEPTH truncates there, as the full stack
 * would at SMOLDER_MAX_STACK_DEPTH. maps unsorted or overlapping give some
 * walk, never a read outside them or mem. */
size_t unwind_walk(const struct unwind_walk_mapping *maps, size_t n_maps,
		   const struct unwind_walk_regs *regs, const struct unwind_walk_memory *mem,
		   uint64_t *pcs, size_t max, unsigned int *end);

#endif
