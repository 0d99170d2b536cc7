/* One memory budget: --memory-limit bounds the user-space memory of all the
 * agent's processes together (the agent and its parser worker: anonymous
 * resident memory, not page cache), and the flags that size parts of it
 * (--symbol-cache-size, --unwind-table-max-bytes) are shares of it. The
 * split is worked out here, once, when the flags are read; run.c hands
 * each part to what enforces it, and interval.c measures the whole.
 */
#ifndef SMOLDER_MEMORY_BUDGET_H
#define SMOLDER_MEMORY_BUDGET_H

#include <stddef.h>
#include <stdint.h>

/* The smallest limit: below it the agent's own part (process table,
 * interval, profiles being built) would not hold a busy host's interval. */
#define MEMORY_BUDGET_MIN_LIMIT (64ULL << 20)
/* The BPF walk's rows array takes 64K to 128M (16 bytes a row). */
#define MEMORY_BUDGET_MIN_UNWIND (64ULL << 10)
#define MEMORY_BUDGET_MAX_UNWIND (128ULL << 20)

struct memory_budget {
	uint64_t limit;         /* --memory-limit: the agent and the worker together */
	uint64_t symbol_cache;  /* --symbol-cache-size: the files kept, in the worker */
	uint64_t parse_room;    /* the worker's room to parse one file beyond them */
	uint64_t worker_cap;    /* symbol_cache + parse_room: the worker exits past it */
	uint64_t unwind_tables; /* --unwind-table-max-bytes: the agent's copies of the
				 * rows it loads into BPF */
	uint64_t agent_rest;    /* the process table, an interval's stacks, profiles
				 * being built, the upload queue */
};

/* Splits limit into its parts. symbol_cache and unwind_tables are the
 * values the user gave, or NULL to derive them from the limit. -EINVAL
 * with a one-line reason naming the flag in err when a part given does
 * not fit, or the limit is too small. */
int memory_budget_split(uint64_t limit, const uint64_t *symbol_cache,
			const uint64_t *unwind_tables, struct memory_budget *b, char *err,
			size_t err_len);

#endif
