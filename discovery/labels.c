/* discovery: label sets, and Pyroscope's rules for label names and values.
 *
 * The rules engine (targets.c) builds a process's labels here; agent/ then
 * groups profiles by label set and names files by its hash. A set is a
 * sorted array of (name, value), names unique and values never empty, so
 * that two equal sets are equal element by element: comparing and hashing
 * need no normalising first.
 *
 * The limits are those of Pyroscope's distributor (grafana/pyroscope,
 * pkg/validation/validate.go ValidateLabels, defaults in limits.go): names
 * [a-zA-Z_][a-zA-Z0-9_]* of at most 1024 bytes (it rewrites '.' to '_',
 * which we refuse rather than let two names become one), values valid
 * UTF-8 of at most 2048 bytes, 30 names a series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"

static bool name_start(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

const char *disc_label_name_problem(const char *name)
{
	size_t i;

	if (!name || !name[0])
		return "a label name may not be empty";
	if (name[0] == '.')
		return "a label name may not hold '.' (Pyroscope would turn it into '_')";
	if (!name_start((unsigned char)name[0]))
		return name[0] >= '0' && name[0] <= '9'
			       ? "a label name may not start with a digit"
			       : "a label name must be [a-zA-Z_][a-zA-Z0-9_]*";
	for (i = 1; name[i]; i++) {
		if (name[i] == '.')
			return "a label name may not hold '.' (Pyroscope would turn it into '_')";
		if (!name_char((unsigned char)name[i]))
			return "a label name must be [a-zA-Z_][a-zA-Z0-9_]*";
	}
	if (i > DISC_LABEL_NAME_MAX)
		return "a label name may be at most 1024 bytes";
	return NULL;
}

int disc_label_name_valid(const char *name)
{
	return disc_label_name_problem(name) == NULL;
}

/* The length of the valid UTF-8 character at s (n bytes left), or 0: the
 * same as Go's utf8 package, which Pyroscope validates with (no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_char(p + i, n - i)) == 0)
			return false;
	return true;
}

const char *disc_label_value_problem(const char *value)
{
	size_t n = value ? strlen(value) : 0;

	if (n == 0)
		return "a label value may not be empty";
	if (n > DISC_LABEL_VALUE_MAX)
		return "a label value may be at most 2048 bytes";
	if (!utf8_valid(value, n))
		return "a label value must be UTF-8";
	return NULL;
}

char *disc_label_value_clean(const char *value)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)value;
	size_t n = strlen(value), i = 0, o = 0;
	/* A bad byte becomes at most 3 (U+FFFD): never more than this. */
	char *out = malloc((n < DISC_LABEL_VALUE_MAX / 3 ? 3 * n : DISC_LABEL_VALUE_MAX) + 1);
	bool in_bad = false;

	if (!out)
		return NULL;
	while (i < n) {
		size_t k = utf8_char(p + i, n - i);

		if (k == 0) {
			/* One U+FFFD for a run of bad bytes, as Go's
			 * strings.ToValidUTF8. */
			if (!in_bad) {
				if (o + 3 > DISC_LABEL_VALUE_MAX)
					break;
				memcpy(out + o, replacement, 3);
				o += 3;
			}
			in_bad = true;
			i++;
			continue;
		}
		if (o + k > DISC_LABEL_VALUE_MAX)
			break;
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
		in_bad = false;
	}
	out[o] = '\0';
	return out;
}

/* The index of name, or where it would go; *found says which. */
static size_t find(const struct disc_labels *l, const char *name, bool *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *disc_labels_get(const struct disc_labels *l, const char *name)
{
	bool found;
	size_t i = find(l, name, &found);

	return found ? l->v[i].value : NULL;
}

int disc_labels_set(struct disc_labels *l, const char *name, const char *value)
{
	bool found;
	size_t i = find(l, name, &found);
	struct disc_label *v;
	char *nv, *nn;

	if (!value || !value[0]) {
		if (found) {
			free(l->v[i].name);
			free(l->v[i].value);
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
		}
		return 0;
	}
	nv = strdup(value);
	if (!nv)
		return -ENOMEM;
	if (found) {
		free(l->v[i].value);
		l->v[i].value = nv;
		return 0;
	}
	/* Sets are small (30 labels at most reach Pyroscope): growing by one
	 * costs less thought than a capacity, and nothing measurable. */
	nn = strdup(name);
	v = nn ? realloc(l->v, (l->n + 1) * sizeof(*l->v)) : NULL;
	if (!v) {
		free(nn);
		free(nv);
		return -ENOMEM;
	}
	l->v = v;
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
	l->v[i] = (struct disc_label){ .name = nn, .value = nv };
	l->n++;
	return 0;
}

void disc_labels_remove_if(struct disc_labels *l,
			   bool (*drop)(const struct disc_label *, void *),
			   void *arg)
{
	size_t o = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (drop(&l->v[i], arg)) {
			free(l->v[i].name);
			free(l->v[i].value);
		} else {
			l->v[o++] = l->v[i];
		}
	}
	l->n = o;
}

int disc_labels_copy(struct disc_labels *dst, const struct disc_labels *src)
{
	struct disc_labels c = { 0 };

	if (src->n) {
		c.v = calloc(src->n, sizeof(*c.v));
		if (!c.v)
			return -ENOMEM;
	}
	for (; c.n < src->n; c.n++) {
		c.v[c.n].name = strdup(src->v[c.n].name);
		c.v[c.n].value = strdup(src->v[c.n].value);
		if (!c.v[c.n].name || !c.v[c.n].value) {
			c.n++; /* release the half-made pair too */
			disc_labels_release(&c);
			return -ENOMEM;
		}
	}
	*dst = c;
	return 0;
}

int disc_labels_compare(const struct disc_labels *a, const struct disc_labels *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->v[i].name, b->v[i].name);

		if (c == 0)
			c = strcmp(a->v[i].value, b->v[i].value);
		if (c)
			return c < 0 ? -1 : 1;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

uint32_t disc_labels_hash(const struct disc_labels *l)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < l->n; i++) {
		/* NUL between pairs: neither names nor values hold one, so
		 * no two sets join to the same bytes. */
		if (i)
			h = (h ^ 0) * 16777619u;
		h = fnv1a(h, l->v[i].name);
		h = (h ^ '=') * 16777619u;
		h = fnv1a(h, l->v[i].value);
	}
	return h;
}

void disc_labels_release(struct disc_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
