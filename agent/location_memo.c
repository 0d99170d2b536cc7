/* An open-addressing table of location keys, grown by doubling up to its
 * bound, its slots compared by the whole key (never by hash alone: two
 * frames must not share a location by chance). */
#include "location_memo.h"

#include <stdlib.h>
#include <string.h>

struct memo_slot {
	struct location_key key;
	uint64_t id; /* 0: empty (location ids start at 1) */
};

struct location_memo {
	struct memo_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t n;
	size_t max_entries;
};

struct location_memo *location_memo_new(size_t max_entries)
{
	struct location_memo *m = calloc(1, sizeof(*m));

	if (m)
		m->max_entries = max_entries;
	return m;
}

void location_memo_free(struct location_memo *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

void location_memo_clear(struct location_memo *m)
{
	/* The table's size is kept: the next interval is like this one. */
	if (m && m->n) {
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
		m->n = 0;
	}
}

static uint64_t key_hash(const struct location_key *k)
{
	uint64_t h = (uint64_t)(uintptr_t)k->profile * 0x9e3779b97f4a7c15ULL;

	h = (h ^ k->address) * 0xff51afd7ed558ccdULL;
	h = (h ^ k->start_ticks) * 0xc4ceb9fe1a85ec53ULL;
	h = (h ^ ((uint64_t)k->pid << 32 | k->exec_id << 2 | k->exec_id_known << 1 | k->leaf)) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static bool key_eq(const struct location_key *a, const struct location_key *b)
{
	return a->profile == b->profile && a->address == b->address &&
	       a->start_ticks == b->start_ticks && a->pid == b->pid &&
	       a->exec_id == b->exec_id && a->exec_id_known == b->exec_id_known &&
	       a->leaf == b->leaf;
}

/* The slot of k, or the empty one where it would go. */
static struct memo_slot *slot_of(const struct location_memo *m, const struct location_key *k)
{
	size_t i = (size_t)key_hash(k) & (m->cap - 1);

	while (m->slots[i].id && !key_eq(&m->slots[i].key, k))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

bool location_memo_find(const struct location_memo *m, const struct location_key *k,
			uint64_t *id)
{
	const struct memo_slot *s;

	if (!m || !m->n)
		return false;
	s = slot_of(m, k);
	if (!s->id)
		return false;
	*id = s->id;
	return true;
}

/* Twice the room, the entries rehashed; false when there is no memory. */
static bool grow(struct location_memo *m)
{
	size_t cap = m->cap ? 2 * m->cap : 1024;
	struct location_memo bigger = { .slots = calloc(cap, sizeof(struct memo_slot)), .cap = cap };

	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].id)
			*slot_of(&bigger, &m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = bigger.slots;
	m->cap = cap;
	return true;
}

void location_memo_add(struct location_memo *m, const struct location_key *k, uint64_t id)
{
	struct memo_slot *s;

	if (!m || !id || m->n >= m->max_entries)
		return;
	/* At most half full, so that probes stay short. */
	if (2 * (m->n + 1) > m->cap && !grow(m))
		return;
	s = slot_of(m, k);
	if (!s->id)
		m->n++;
	*s = (struct memo_slot){ .key = *k, .id = id };
}

size_t location_memo_count(const struct location_memo *m)
{
	return m ? m->n : 0;
}
