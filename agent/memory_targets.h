/* The memory targets: the processes whose allocator the agent probes
 * (bpf/memory.h), and the probes' lives.
 *
 * A process is a target when it is chosen (wants(): a --pid, or a target
 * rule's or its pod's say-so), or when it was forked by a target and has
 * not exec'd since (a prefork server's workers). Its probes are attached
 * when it is first seen so, on the allocator it maps (memory_probes.h),
 * and taken off when it exits or execs (then it is judged again).
 *
 * A uprobe makes every call of the function it is on cost the process a
 * trap, however little the program does, so the probes of a target that
 * calls its allocator more than max_hits times a second are taken off for
 * a while (10 s, doubling while it stays above, at most 5 min). What it
 * allocated meanwhile is estimated from the time they were on
 * (memory_targets_hidden); what it held is forgotten, since its frees went
 * unseen: inuse_* starts again from its reattachment.
 *
 * Taking a probe off waits for an RCU grace period (~100 ms each), so
 * links are destroyed on a thread of their own, never on the loop's.
 */
#ifndef SMOLDER_MEMORY_TARGETS_H
#define SMOLDER_MEMORY_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "disc.h"
#include "sampler.h"
#include "sym.h"
#include "unwind_loader.h"

struct memory_targets;

struct memory_targets_opts {
	size_t sz;
	struct sampler *sampler;
	struct sym_cache *sym;
	struct disc_table *disc;
	struct unwind_loader *unwind; /* NULL: no tables (the frame-pointer walk) */
	unsigned int max_hits;        /* a target's probe hits a second; 0: no ceiling */
	/* Whether p is chosen as a target: 1 yes, 0 no, -EAGAIN not known
	 * yet (its pod is not known yet): asked again at the next tick. */
	int (*wants)(void *arg, const struct disc_process *p);
	void *wants_arg;
};

/* NULL and errno on failure. */
struct memory_targets *memory_targets_new(const struct memory_targets_opts *opts);
/* Takes every probe off (waiting for them) and frees mt. */
void memory_targets_free(struct memory_targets *mt);

/* Once a second or so: new targets get their probes, gone ones lose them,
 * the ceiling is applied. now: CLOCK_MONOTONIC ns. */
void memory_targets_tick(struct memory_targets *mt, int64_t now);

/* An interval was drained at now: what memory_targets_hidden says is of
 * it from here on. */
void memory_targets_interval_closed(struct memory_targets *mt, int64_t now);

/* The factor (>= 1) that scales a target's allocations in the interval
 * last closed for the time its probes were off; 1 for an unknown one. */
double memory_targets_hidden(const struct memory_targets *mt, int pid, uint64_t start_ticks);

/* The targets' books since the last call, into c. */
void memory_targets_count(struct memory_targets *mt, struct counters *c);

#endif
