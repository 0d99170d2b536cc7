/* Slim rows (see slim_rows.h): the rules are told apart by their 8 bytes,
 * in an open-addressing set that grows as they come (a file has hundreds). */
#include "slim_rows.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rule_set {
	uint64_t *keys;    /* a rule's bytes; 0 marks a free slot, so keys are stored + 1 */
	uint32_t *index;   /* its index among the rules */
	size_t cap;        /* a power of two */
	size_t n;
	struct smolder_unwind_rule *rules; /* in index order */
	size_t rules_cap;
};

static struct smolder_unwind_rule rule_of(const struct smolder_unwind_row *r)
{
	struct smolder_unwind_rule u;

	memset(&u, 0, sizeof(u)); /* no stray bits: its bytes are its key */
	u.cfa_offset = r->cfa_offset;
	u.rbp_offset = r->rbp_offset;
	u.cfa_rule = r->cfa_rule;
	u.cfa_reg = r->cfa_reg;
	u.rbp_rule = r->rbp_rule;
	u.cfa_arg = r->cfa_arg;
	return u;
}

static uint64_t rule_key(const struct smolder_unwind_rule *u)
{
	uint64_t k;

	memcpy(&k, u, sizeof(k));
	return k;
}

static size_t slot_of(const struct rule_set *s, uint64_t k)
{
	/* Fibonacci hashing: the rules' bytes differ in few bits. */
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 32) & (s->cap - 1);

	while (s->keys[i] && s->keys[i] != k + 1)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int grow(struct rule_set *s)
{
	struct rule_set g = { .cap = s->cap ? 2 * s->cap : 256 };

	g.keys = calloc(g.cap, sizeof(*g.keys));
	g.index = calloc(g.cap, sizeof(*g.index));
	if (!g.keys || !g.index) {
		free(g.keys);
		free(g.index);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->keys[i]) {
			size_t j = slot_of(&g, s->keys[i] - 1);

			g.keys[j] = s->keys[i];
			g.index[j] = s->index[i];
		}
	free(s->keys);
	free(s->index);
	s->keys = g.keys;
	s->index = g.index;
	s->cap = g.cap;
	return 0;
}

/* The index of u among the rules, added if new; -ENOMEM. */
static int64_t rule_index(struct rule_set *s, const struct smolder_unwind_rule *u)
{
	uint64_t k = rule_key(u);
	size_t i;

	if (2 * (s->n + 1) > s->cap && grow(s))
		return -ENOMEM;
	i = slot_of(s, k);
	if (s->keys[i])
		return s->index[i];
	if (s->n == s->rules_cap) {
		size_t cap = s->rules_cap ? 2 * s->rules_cap : 256;
		struct smolder_unwind_rule *v = realloc(s->rules, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->rules = v;
		s->rules_cap = cap;
	}
	s->keys[i] = k + 1;
	s->index[i] = (uint32_t)s->n;
	s->rules[s->n] = *u;
	return (int64_t)s->n++;
}

static void rule_set_free(struct rule_set *s)
{
	free(s->keys);
	free(s->index);
	free(s->rules);
}

int slim_rows_make(const struct smolder_unwind_row *rows, size_t n,
		   union smolder_unwind_elem **out, size_t *n_elems)
{
	struct rule_set s = { 0 };
	union smolder_unwind_elem *e;
	int rc = 0;

	*out = NULL;
	*n_elems = 0;
	if (n && rows[n - 1].pc > UINT32_MAX)
		return -ERANGE; /* sorted: the last is the largest */
	/* Rows first, in place; their rules after, once their number is known. */
	e = malloc(n * sizeof(*e));
	if (!e && n)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct smolder_unwind_rule u = rule_of(&rows[i]);
		int64_t k = rule_index(&s, &u);

		if (k < 0) {
			rc = -ENOMEM;
			goto out;
		}
		e[i].row = (struct smolder_unwind_slim_row){ .pc = (uint32_t)rows[i].pc,
							      .rule = (uint32_t)k };
	}
	{
		union smolder_unwind_elem *v = realloc(e, (n + s.n) * sizeof(*v));

		if (!v && n + s.n) {
			rc = -ENOMEM;
			goto out;
		}
		e = v;
	}
	for (size_t i = 0; i < s.n; i++)
		e[n + i].rule = s.rules[i];
	*out = e;
	*n_elems = n + s.n;
	e = NULL;
out:
	free(e);
	rule_set_free(&s);
	return rc;
}
