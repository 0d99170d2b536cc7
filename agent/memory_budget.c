/* The split of --memory-limit (see memory_budget.h).
 *
 * limit = worker_cap + unwind_tables + agent_rest, where
 *   worker_cap = symbol_cache + parse_room.
 * The symbol cache's files live in the worker (it parses and holds them;
 * the cache counts what each cost it), so the worker's cap is the cache's
 * share plus room to parse one more file; the agent holds the unwind rows
 * it loads (each file's table, read from the worker) and the rest.
 * parse_room and the agent's floor are a quarter each, so symbol_cache and
 * unwind_tables share the other half.
 */
#include "memory_budget.h"

#include <errno.h>
#include <stdio.h>

/* A size as the flags take it: in M when whole, else in K. */
struct size_text {
	char s[32];
};

static struct size_text size_text(uint64_t v)
{
	struct size_text t;

	if (v % (1 << 20) == 0)
		snprintf(t.s, sizeof(t.s), "%lluM", (unsigned long long)(v >> 20));
	else
		snprintf(t.s, sizeof(t.s), "%lluK", (unsigned long long)(v >> 10));
	return t;
}

#define SZ(v) (size_text(v).s)

static uint64_t derive_unwind(uint64_t limit)
{
	/* A tenth, in whole M: at the default limit, libc's 230K table a
	 * hundred and forty times over. */
	uint64_t u = limit / 10 / (1 << 20) * (1 << 20);

	if (u < MEMORY_BUDGET_MIN_UNWIND)
		return MEMORY_BUDGET_MIN_UNWIND;
	return u > MEMORY_BUDGET_MAX_UNWIND ? MEMORY_BUDGET_MAX_UNWIND : u;
}

int memory_budget_split(uint64_t limit, const uint64_t *symbol_cache,
			const uint64_t *unwind_tables, struct memory_budget *b, char *err,
			size_t err_len)
{
	uint64_t shares = limit / 2; /* symbol_cache + unwind_tables */
	uint64_t unwind_max = shares - shares / 4; /* the cache keeps an eighth */

	if (limit < MEMORY_BUDGET_MIN_LIMIT) {
		snprintf(err, err_len, "--memory-limit: must be at least %s",
			 SZ(MEMORY_BUDGET_MIN_LIMIT));
		return -EINVAL;
	}
	b->limit = limit;
	b->parse_room = limit / 4;
	b->unwind_tables = unwind_tables ? *unwind_tables : derive_unwind(limit);
	if (b->unwind_tables < MEMORY_BUDGET_MIN_UNWIND || b->unwind_tables > MEMORY_BUDGET_MAX_UNWIND) {
		snprintf(err, err_len, "--unwind-table-max-bytes: must be from 64K to 128M");
		return -EINVAL;
	}
	if (b->unwind_tables > unwind_max) {
		snprintf(err, err_len,
			 "--unwind-table-max-bytes: %s does not fit within --memory-limit %s: "
			 "the unwind tables may take at most %s of it",
			 SZ(b->unwind_tables), SZ(limit), SZ(unwind_max));
		return -EINVAL;
	}
	if (symbol_cache) {
		b->symbol_cache = *symbol_cache;
	} else {
		/* A quarter, less what explicit unwind tables take of the half. */
		b->symbol_cache = limit / 4;
		if (b->symbol_cache > shares - b->unwind_tables)
			b->symbol_cache = shares - b->unwind_tables;
	}
	if (b->symbol_cache == 0 || b->symbol_cache > shares - b->unwind_tables) {
		snprintf(err, err_len,
			 "--symbol-cache-size: %s does not fit within --memory-limit %s: "
			 "with the unwind tables (%s) it may take at most %s",
			 b->symbol_cache ? SZ(b->symbol_cache) : "0 (no bound)", SZ(limit),
			 SZ(b->unwind_tables), SZ(shares - b->unwind_tables));
		return -EINVAL;
	}
	b->worker_cap = b->symbol_cache + b->parse_room;
	b->agent_rest = limit - b->worker_cap - b->unwind_tables;
	return 0;
}
