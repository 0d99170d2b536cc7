/* Process events from the kernel (bpf/events.h) to discovery: an exec
 * re-reads the process's files, the exit of its last thread marks it
 * exited, and the first sample of an unknown process makes the agent read
 * it at once, while it lives. Runs on the agent's one thread, from the run
 * loop's poll; never on the sampling path.
 */
#ifndef SMOLDER_PROC_EVENTS_H
#define SMOLDER_PROC_EVENTS_H

#include <stdint.h>

#include "disc.h"
#include "unwind_loader.h"
#include "sampler.h"

struct proc_events;

/* Loads and attaches the exec/exit programs on the sampler's shared maps.
 * *what names the step that failed. */
int proc_events_new(const struct sampler *s, struct disc_table *disc,
		    struct unwind_loader *unwind,
		    struct proc_events **out, const char **what);
void proc_events_free(struct proc_events *e);

/* A descriptor that polls readable when events wait. */
int proc_events_fd(const struct proc_events *e);

/* Hands every waiting event to discovery. Returns how many, or -errno. */
int proc_events_consume(struct proc_events *e);

/* Events sent and dropped (ring buffer full) since the last call. */
int proc_events_take_stats(struct proc_events *e, uint64_t *sent, uint64_t *dropped);

#endif
