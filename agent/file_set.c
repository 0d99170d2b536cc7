/* A sorted array of file ids (see file_set.h): looked up at every mapping
 * a process is published with, added to rarely. */
#include "file_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int file_id_cmp(struct file_id a, struct file_id b)
{
	if (a.dev_major != b.dev_major)
		return a.dev_major < b.dev_major ? -1 : 1;
	if (a.dev_minor != b.dev_minor)
		return a.dev_minor < b.dev_minor ? -1 : 1;
	return (a.inode > b.inode) - (a.inode < b.inode);
}

/* The index of the first id not below id. */
static size_t lower_bound(const struct file_set *s, struct file_id id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (file_id_cmp(s->v[mid], id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool file_set_has(const struct file_set *s, struct file_id id)
{
	size_t at = lower_bound(s, id);

	return at < s->n && file_id_cmp(s->v[at], id) == 0;
}

int file_set_add(struct file_set *s, struct file_id id)
{
	size_t at = lower_bound(s, id);

	if (at < s->n && file_id_cmp(s->v[at], id) == 0)
		return 0;
	if (s->n >= FILE_SET_MAX)
		return -E2BIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct file_id *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->v[at] = id;
	s->n++;
	return 1;
}

void file_set_release(struct file_set *s)
{
	free(s->v);
	*s = (struct file_set){ 0 };
}
