/* The choice of a run for a table (see rows_room.h). A table needs one run
 * of the array: evicting the least recently used tables one by one,
 * wherever they are, emptied the array on a build host (667 evictions in
 * 10 s) without freeing a run long enough for a 1M-row table. */
#include "rows_room.h"

bool rows_room_choose(const struct rows_span *spans, size_t n_spans, uint32_t max,
		      uint32_t need, uint32_t *first, size_t *from, size_t *to)
{
	uint64_t best_cost = UINT64_MAX;
	bool found = false;

	/* Evicting spans[i..j) frees [end of spans[i-1], start of spans[j]). */
	for (size_t i = 0; i <= n_spans && best_cost; i++) {
		uint32_t start = i ? spans[i - 1].first + spans[i - 1].n : 0;
		uint64_t cost = 0; /* the newest last_used evicted; 0: none */

		for (size_t j = i; j <= n_spans; j++) {
			uint32_t end = j < n_spans ? spans[j].first : max;

			if (end >= start && end - start >= need) {
				if (cost < best_cost) {
					best_cost = cost;
					*first = start;
					*from = i;
					*to = j;
					found = true;
				}
				break;
			}
			if (j == n_spans || spans[j].mapped)
				break;
			if (spans[j].last_used > cost)
				cost = spans[j].last_used;
		}
	}
	return found;
}
