/* The symbolizer's caches find files by identity and failures by key in
 * this table: chained buckets, entries embedded in the caller's structs
 * (no allocation a lookup), doubling at a load factor of 1. */
#include "hashtab.h"

#include <errno.h>
#include <stdlib.h>

/* FNV-1a: keys are a few dozen bytes, and no one chooses them to collide
 * better than a path in a container could anyway. */
uint64_t sym_hash_bytes(const void *p, size_t len, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct sym_hnode *sym_htab_find(const struct sym_htab *t, uint64_t hash,
				sym_hnode_eq eq, const void *key)
{
	if (!t->nbuckets)
		return NULL;
	for (struct sym_hnode *n = t->buckets[hash & (t->nbuckets - 1)]; n; n = n->next)
		if (n->hash == hash && eq(n, key))
			return n;
	return NULL;
}

static int grow(struct sym_htab *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
	struct sym_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sym_hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return 0;
}

int sym_htab_add(struct sym_htab *t, struct sym_hnode *n)
{
	struct sym_hnode **head;

	if (t->count >= t->nbuckets) {
		int err = grow(t);

		if (err)
			return err;
	}
	head = &t->buckets[n->hash & (t->nbuckets - 1)];
	n->next = *head;
	*head = n;
	t->count++;
	return 0;
}

void sym_htab_drop_if(struct sym_htab *t, sym_hnode_visit drop, void *ctx)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sym_hnode **pp = &t->buckets[i];

		while (*pp) {
			struct sym_hnode *n = *pp, *next = n->next;

			if (drop(n, ctx)) {
				*pp = next;
				t->count--;
			} else {
				pp = &n->next;
			}
		}
	}
}

void sym_htab_release(struct sym_htab *t)
{
	free(t->buckets);
	*t = (struct sym_htab){ 0 };
}
