/* Process events from the kernel (bpf/events.h) to discovery: an exec
 * re-reads the process's files, the exit of its last thread marks it
 * exited, and the first sample of an unknown process makes the agent read
 * it at once, while it lives. Runs on the agent's one thread, from the run
 * loop's poll; never on the sampling path.
 */
#ifndef SMOLDER_PROC_EVENTS_H
#define SMOLDER_PROC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "unwind_loader.h"
#include "sampler.h"

struct proc_events;

/* Which programs the kernel's features allow (kernel_features.h). */
struct proc_events_opts {
	bool raw_tracepoints; /* no tp_btf: exec and exit through raw tracepoints */
	bool watch_mmap;      /* fentry: the dlopen watch */
	bool mmap_records;    /* the kernel's mmap records carry build-ids */
};

/* Loads and attaches the exec/exit programs on the sampler's shared maps;
 * unwind is NULL when the walk follows frame pointers only. *what names
 * the step that failed. */
int proc_events_new(const struct sampler *s, struct disc_table *disc,
		    struct unwind_loader *unwind, const struct proc_events_opts *opts,
		    struct proc_events **out, const char **what);
/* The names of the programs attached, comma-separated, into buf. */
void proc_events_program_names(const struct proc_events *e, char *buf, size_t len);
void proc_events_free(struct proc_events *e);

/* A descriptor that polls readable when events wait. */
int proc_events_fd(const struct proc_events *e);

/* Before a drain: reads every waiting event, then gives the processes that
 * exited since the last drain the mappings the kernel announced that their
 * /proc maps lacked, for their frames to be named. */
void proc_events_settle(struct proc_events *e);

/* Hands every waiting event to discovery. Returns how many, or -errno. */
int proc_events_consume(struct proc_events *e);

/* A live process's maps read again, and published again to BPF, if it
 * runs the image given (stack_copies_reread_fn; ctx: the proc_events). */
const struct disc_process *proc_events_reread(void *ctx, int pid, uint64_t start_ticks,
					      uint64_t image);

/* The kernel's mmap records (mmap_events.h): what the log holds now, and
 * the records lost or not kept so far. */
struct proc_events_mmap_stats {
	uint64_t dropped;
	uint64_t bytes;
};
void proc_events_mmap_stats(const struct proc_events *e, struct proc_events_mmap_stats *st);

/* Events sent and dropped (ring buffer full) since the last call. */
int proc_events_take_stats(struct proc_events *e, uint64_t *sent, uint64_t *dropped);

#endif
