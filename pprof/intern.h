/* intern: a pool of records with an open-addressing hash index over it, so
 * that "find this record, or append it" costs O(1) on average.
 *
 * Every pprof table the builder keeps (strings, functions, mappings,
 * locations, samples) is one of these, because pprof wants each of them
 * deduplicated and numbered densely: a record's index in the pool is its
 * number, it never changes, and the pool can be handed to the encoder as an
 * array.
 *
 * The table does not know what a record means. The caller hashes the key and
 * the table calls back to compare: the key (what the caller holds) need not
 * look like the record (what is stored), e.g. a string not yet copied, or a
 * record whose parts live in another pool.
 */
#ifndef SMOLDER_PPROF_INTERN_H
#define SMOLDER_PPROF_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* Whether key and the stored record are the same thing. */
typedef bool (*intern_eq_fn)(const void *key, const void *record,
			     const void *ctx);

struct intern_slot {
	uint64_t hash; /* kept so that growing never calls back */
	size_t pos;    /* record index + 1; 0: empty */
};

struct intern {
	struct pool records;
	struct intern_slot *slots;
	size_t mask; /* number of slots - 1 (a power of two); 0: no slots yet */
	intern_eq_fn eq;
	const void *ctx; /* passed to eq */
};

void intern_init(struct intern *t, size_t record_size, intern_eq_fn eq,
		 const void *ctx);
/* Frees the table, not what its records point to. */
void intern_free(struct intern *t);

/* Finds the record equal to key; false if there is none. */
bool intern_find(const struct intern *t, uint64_t hash, const void *key,
		 size_t *index);

/* Appends a copy of record, which the caller has just failed to find, under
 * hash. 0, or -ENOMEM with the table untouched. */
int intern_append(struct intern *t, uint64_t hash, const void *record,
		  size_t *index);

/* Makes room for `more` appends, so that that many intern_append calls cannot
 * fail: for a caller that must add several records or none. 0, or -ENOMEM
 * with the records untouched. */
int intern_reserve(struct intern *t, size_t more);

/* Finds record, or appends it if absent: for tables whose keys are records. */
int intern_add(struct intern *t, uint64_t hash, const void *record,
	       size_t *index);

static inline size_t intern_count(const struct intern *t)
{
	return t->records.count;
}

/* Valid until the next append. */
static inline void *intern_at(const struct intern *t, size_t index)
{
	return pool_at(&t->records, index);
}

/* Hashing a key field by field: start from INTERN_HASH_SEED and feed each
 * field in turn. The order matters, so (a, b) and (b, a) differ. */
#define INTERN_HASH_SEED UINT64_C(0x243f6a8885a308d3)
uint64_t intern_hash_u64(uint64_t h, uint64_t v);
uint64_t intern_hash_bytes(uint64_t h, const void *p, size_t n);

#endif
