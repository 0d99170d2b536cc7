/* The local output directory within a number of bytes (--output-max-bytes):
 * an always-on agent with no server must not fill the disk.
 *
 * The total of the files under the directory is counted once at start,
 * then kept up to date from what each interval writes. When a write takes
 * it past the bound, the oldest profiles (by the interval end in their
 * names, <start>-<end>[-<hash>].pb.gz) are removed until the total is 90%
 * of the bound, so that removal runs once in a while, not at every
 * interval. Memory stays the same whatever the number of files: the
 * oldest are found from a histogram of bytes over their end times, then
 * removed in a second walk. Files not named as the agent names its
 * profiles count towards the bound but are never removed; what an
 * interrupted write left (<name>.pb.gz.tmp) is removed at start.
 */
#ifndef SMOLDER_OUTPUT_BUDGET_H
#define SMOLDER_OUTPUT_BUDGET_H

#include <stdint.h>

struct output_budget;

struct output_budget_stats {
	uint64_t bytes;         /* under the directory now */
	uint64_t removed;       /* profiles removed to stay within the bound */
	uint64_t remove_errors; /* that could not be removed */
};

/* Counts what dir holds (a missing dir holds nothing). max_bytes > 0.
 * NULL with errno set on failure. */
struct output_budget *output_budget_new(const char *dir, uint64_t max_bytes);
void output_budget_free(struct output_budget *b);

/* bytes more were written under dir: removes the oldest profiles if the
 * total is now past the bound. */
void output_budget_wrote(struct output_budget *b, uint64_t bytes);

void output_budget_get_stats(const struct output_budget *b, struct output_budget_stats *st);

#endif
