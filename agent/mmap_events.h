/* The mappings processes make, as the kernel reports them to perf, into a
 * discovery mmap log (disc.h): so a process gone before its /proc files
 * were read still has its executable mappings, each with its file's
 * build-id, and its frames can be named (issue 14). Optional: needs
 * build-ids in MMAP2 records (Linux 5.12, kernel_features.h). Read on the
 * agent's one thread, from proc_events.
 */
#ifndef SMOLDER_MMAP_EVENTS_H
#define SMOLDER_MMAP_EVENTS_H

#include <stdint.h>

#include "disc.h"

struct mmap_events;

struct mmap_events_stats {
	uint64_t lost;        /* records the kernel could not write: buffer full */
	uint64_t no_build_id; /* mappings of files without a build-id: not logged */
};

int mmap_events_new(struct disc_mmap_log *log, struct mmap_events **out, const char **what);
void mmap_events_free(struct mmap_events *m);
/* An epoll fd that polls readable when the buffers are half full. */
int mmap_events_fd(const struct mmap_events *m);
/* Reads every record waiting into the log. */
int mmap_events_consume(struct mmap_events *m);
void mmap_events_get_stats(const struct mmap_events *m, struct mmap_events_stats *st);

#endif
