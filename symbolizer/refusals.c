/* The process-wide count of what the per-file caps refused (refusals.h). */
#include "refusals.h"

#include <stdatomic.h>

static _Atomic uint64_t refused[SYM_REFUSED__COUNT];

void sym_refusal_count(enum sym_refusal r)
{
	sym_refusal_add(r, 1);
}

void sym_refusal_add(enum sym_refusal r, uint64_t n)
{
	atomic_fetch_add_explicit(&refused[r], n, memory_order_relaxed);
}

void sym_refusals_get_stats(struct sym_refusal_stats *st)
{
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		st->count[i] = atomic_load_explicit(&refused[i], memory_order_relaxed);
}
