/* Where a table goes in the rows array (bpf/unwind.h): one run of
 * elements, found among the tables loaded, evicting a window of them if
 * it must (agent/unwind_loader.c).
 */
#ifndef SMOLDER_ROWS_ROOM_H
#define SMOLDER_ROWS_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A loaded table as the choice sees it. */
struct rows_span {
	uint32_t first, n; /* its elements */
	uint64_t last_used;   /* greater: used more recently; never 0 */
	bool mapped;          /* a live process maps it: it stays */
};

/* Room for need elements in an array of max, with the tables of spans
 * (sorted by first, not overlapping) where they are: *first, and the
 * window [*from, *to) of spans to evict for it (empty when a free run is
 * enough). The window holds no mapped span; of the windows that make
 * room, the one whose most recently used span is the least recently used
 * (a free run first). false: no window makes room. */
bool rows_room_choose(const struct rows_span *spans, size_t n_spans, uint32_t max,
		      uint32_t need, uint32_t *first, size_t *from, size_t *to);

#endif
