/* pool: a growable array of fixed-size items, the storage under every table
 * of the pprof builder.
 *
 * Items are addressed by index, never by pointer: a pool moves when it grows.
 * Making room (pool_reserve) is separate from using it (count += n) so that a
 * caller can stage items past count, look them up, and either keep them or
 * leave them behind, and so that a failed allocation changes nothing.
 */
#ifndef SMOLDER_PPROF_POOL_H
#define SMOLDER_PPROF_POOL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct pool {
	void *items;
	size_t size;  /* of one item */
	size_t count; /* items in use */
	size_t cap;   /* items allocated */
};

static inline void pool_init(struct pool *p, size_t item_size)
{
	*p = (struct pool){ .size = item_size };
}

static inline void pool_free(struct pool *p)
{
	free(p->items);
	pool_init(p, p->size);
}

/* Makes room for `more` items after count: 0, or -ENOMEM with p untouched.
 * Capacity doubles, so n appends cost O(n) in all. */
static inline int pool_reserve(struct pool *p, size_t more)
{
	size_t cap = p->cap ? p->cap : 8;
	void *items;

	if (more <= p->cap - p->count)
		return 0;
	if (more > SIZE_MAX / p->size - p->count)
		return -ENOMEM;
	while (cap - p->count < more)
		cap = cap > SIZE_MAX / 2 / p->size ? SIZE_MAX / p->size : cap * 2;
	items = realloc(p->items, cap * p->size);
	if (!items)
		return -ENOMEM;
	p->items = items;
	p->cap = cap;
	return 0;
}

static inline void *pool_at(const struct pool *p, size_t i)
{
	return (char *)p->items + i * p->size;
}

#endif
