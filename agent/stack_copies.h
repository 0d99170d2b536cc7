/* Stack copies (bpf/stack_copy.h): the registers and top of the user stack
 * BPF sends for the samples of processes whose unwind tables were not
 * published yet, or that ran code outside the mappings the agent knew of
 * them. They are read from their ring buffer as they come, kept
 * (bounded) until the process's mappings are known, walked with the rows
 * BPF uses (agent/unwind_walk.c), and at the drain of their generation the
 * sample moves from the stump BPF counted to the stack walked here, when
 * that one is whole or longer. Run-loop thread only (the ring is emptied
 * by a reader thread of its own, stack_copies.c).
 */
#ifndef SMOLDER_STACK_COPIES_H
#define SMOLDER_STACK_COPIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "sampler.h"
#include "unwind_loader.h"

/* What copies waiting for their process's mappings may hold. */
#define STACK_COPIES_PENDING_MAX_BYTES (16u << 20)

struct stack_copies;

/* NULL (and errno) when the sampler sends no copies, or on failure. */
struct stack_copies *stack_copies_new(struct sampler *s, struct unwind_loader *unwind,
				      struct disc_table *disc);
void stack_copies_free(struct stack_copies *c);

/* Reads the mappings of (pid, start_ticks) again, if it still runs the
 * image BPF named when it copied the stack, and returns it as now known
 * (NULL: gone, or another image). Asked when a copy's walk stops at code
 * outside the mappings known: read at its first sample, before ld.so had
 * mapped the library it was in. */
typedef const struct disc_process *(*stack_copies_reread_fn)(void *ctx, int pid,
							       uint64_t start_ticks,
							       uint64_t image);
void stack_copies_set_reread(struct stack_copies *c, stack_copies_reread_fn fn, void *ctx);

/* Polls readable when copies were taken from the ring buffer. */
int stack_copies_fd(const struct stack_copies *c);

/* Takes the copies read from the ring buffer, and walks those whose
 * process's mappings are known. */
void stack_copies_consume(struct stack_copies *c);

/* At a drain, after sampler_drain: walks every copy of d's generation
 * that can be, and moves each of their samples to the stack walked when
 * it is whole or longer than BPF's. Copies whose tables are still being
 * read wait for them (stack_copies_consume walks them once they are
 * there) unless final: returns how many wait. The caller calls again,
 * final, before it lets d go: a cold large file's table takes longer than
 * a drain may wait, and its copies would be walked without it. */
size_t stack_copies_apply(struct stack_copies *c, struct sampler_drain *d, bool final);

/* Walks the copies whose tables are there now, waiting for a table being
 * read until the symbol cache's deadline. */
void stack_copies_walk_waiting(struct stack_copies *c);

/* How many copies of generation gen wait for their tables. */
size_t stack_copies_waiting(const struct stack_copies *c, uint32_t gen);

struct stack_copies_stats {
	uint64_t received;   /* read from the ring buffer */
	uint64_t dropped;    /* not kept: STACK_COPIES_PENDING_MAX_BYTES */
	uint64_t used;       /* samples moved to the stack walked from a copy */
	uint64_t unused;     /* BPF's stack was as long, or the copy's process
			      * or tables were never known */
	uint64_t late;       /* walked without all their tables, at last */
	uint64_t pending_bytes;
};
void stack_copies_get_stats(const struct stack_copies *c, struct stack_copies_stats *st);

#endif
