/* The hash index of intern tables (see intern.h): linear probing over a
 * power-of-two array of slots, kept at most half full so that probe runs stay
 * short, and grown by doubling so that n appends cost O(n) in all.
 */
#include "intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 16

void intern_init(struct intern *t, size_t record_size, intern_eq_fn eq,
		 const void *ctx)
{
	*t = (struct intern){ .eq = eq, .ctx = ctx };
	pool_init(&t->records, record_size);
}

void intern_free(struct intern *t)
{
	pool_free(&t->records);
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
}

bool intern_find(const struct intern *t, uint64_t hash, const void *key,
		 size_t *index)
{
	if (!t->slots)
		return false;
	/* Terminates: the table is never full, so an empty slot comes. */
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		const struct intern_slot *s = &t->slots[i];

		if (s->pos == 0)
			return false;
		if (s->hash == hash &&
		    t->eq(key, intern_at(t, s->pos - 1), t->ctx)) {
			*index = s->pos - 1;
			return true;
		}
	}
}

static void place(struct intern_slot *slots, size_t mask, uint64_t hash,
		  size_t pos)
{
	size_t i = hash & mask;

	while (slots[i].pos != 0)
		i = (i + 1) & mask;
	slots[i] = (struct intern_slot){ .hash = hash, .pos = pos };
}

/* Makes room for `more` records without passing half full. */
static int reserve_slots(struct intern *t, size_t more)
{
	size_t n = t->slots ? t->mask + 1 : MIN_SLOTS;
	struct intern_slot *slots;

	if (more > SIZE_MAX / 2 - intern_count(t))
		return -ENOMEM;
	if (t->slots && intern_count(t) + more <= n / 2)
		return 0;
	while (intern_count(t) + more > n / 2) {
		if (n > SIZE_MAX / 2 / sizeof(*slots))
			return -ENOMEM;
		n *= 2;
	}
	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (t->slots) {
		for (size_t i = 0; i <= t->mask; i++) {
			if (t->slots[i].pos != 0)
				place(slots, n - 1, t->slots[i].hash,
				      t->slots[i].pos);
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = n - 1;
	return 0;
}

int intern_reserve(struct intern *t, size_t more)
{
	int err = pool_reserve(&t->records, more);

	return err ? err : reserve_slots(t, more);
}

int intern_append(struct intern *t, uint64_t hash, const void *record,
		  size_t *index)
{
	size_t i = intern_count(t);
	int err;

	err = intern_reserve(t, 1);
	if (err)
		return err;
	memcpy(intern_at(t, i), record, t->records.size);
	t->records.count++;
	place(t->slots, t->mask, hash, i + 1);
	*index = i;
	return 0;
}

int intern_add(struct intern *t, uint64_t hash, const void *record,
	       size_t *index)
{
	if (intern_find(t, hash, record, index))
		return 0;
	return intern_append(t, hash, record, index);
}

/* splitmix64's finalizer: every input bit reaches every output bit, which
 * the low bits that pick a slot depend on. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

uint64_t intern_hash_u64(uint64_t h, uint64_t v)
{
	return mix(h ^ mix(v));
}

uint64_t intern_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t x = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		x = (x ^ c[i]) * UINT64_C(0x100000001b3);
	/* The length too, so that ("ab", "c") and ("a", "bc") differ. */
	return intern_hash_u64(intern_hash_u64(h, n), x);
}
