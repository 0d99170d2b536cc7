/* Stack copies: for a sample of a process whose unwind tables the agent
 * has not published yet (a process started a moment ago, or one running
 * when the agent started), or one whose ip is outside the code the agent
 * knows of it (a library ld.so mapped after the agent read the process's
 * maps, a dlopen: the agent reads them again, announced by the same
 * sample), the sampling program counts the walk it could
 * make (frame pointers) and also sends the sampled registers and the top
 * of the user stack, as perf --call-graph dwarf does. Once the tables of
 * the process's files are loaded, the agent walks the copy with the same
 * rows (agent/unwind_walk.c) and, at the drain of the copy's generation,
 * moves the sample from the stump BPF counted to the whole stack. A copy
 * that is lost (rate limit, full ring buffer, no tables in the end) leaves
 * the sample where BPF counted it: never lost, at worst cut short.
 */
#ifndef SMOLDER_BPF_STACK_COPY_H
#define SMOLDER_BPF_STACK_COPY_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "sample.h"
#include "unwind.h"

/* Whole pages from the one holding rsp up: 28 KiB above rsp at least
 * (the deepest of cc1's stacks in a build need more than 16). */
#define SMOLDER_STACK_COPY_PAGE 4096
#define SMOLDER_STACK_COPY_PAGES 8
#define SMOLDER_STACK_COPY_BYTES (SMOLDER_STACK_COPY_PAGES * SMOLDER_STACK_COPY_PAGE)

/* The ring buffer's size, and the copies per second all CPUs together may
 * send (each CPU gets its share): 400 copies of 32 KiB at most is 12.5
 * MiB/s. A copy holds only the pages that could be read, usually fewer.
 * The agent empties the ring from a thread of its own as copies come
 * (agent/stack_copies.c): the ring need only hold a burst. Read from the
 * run loop, which an interval's close holds up for a second or more, it
 * took 16 MiB (in a build on two CPUs an 8 MiB ring dropped 272 of 1869
 * copies), mapped twice into the agent's RSS. */
#define SMOLDER_STACK_COPY_RING_BYTES (4u << 20)
#define SMOLDER_STACK_COPIES_PER_SEC 400

struct smolder_stack_copy {
	struct smolder_count_key key; /* the sample as BPF counted it */
	__u32 gen;                    /* the generation it was counted in */
	__u32 len;                    /* bytes copied, from base */
	__u64 base;                   /* the user address of stack[0] */
	__u64 image;                  /* as smolder_event's (events.h) */
	__u64 ip;
	__u64 regs[SMOLDER_DWARF_GPRS]; /* by DWARF number */
	__u8 stack[SMOLDER_STACK_COPY_BYTES];
};

/* A copy is sent up to the end of what was read: the header, then len
 * bytes of stack (a multiple of the page, at most SMOLDER_STACK_COPY_BYTES;
 * the mask keeps the size's bound plain to the verifier). */
#define SMOLDER_STACK_COPY_HEADER __builtin_offsetof(struct smolder_stack_copy, stack)
#define SMOLDER_STACK_COPY_LEN_MASK (2 * SMOLDER_STACK_COPY_BYTES - 1)
_Static_assert((SMOLDER_STACK_COPY_BYTES & (SMOLDER_STACK_COPY_BYTES - 1)) == 0,
	       "the copy's length is masked");

#endif
