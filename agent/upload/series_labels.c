/* Series labels (see series_labels.h): the last check of a label set
 * before it leaves the host. Discovery already keeps its sets within
 * Pyroscope's rules; this is where names from elsewhere (Kubernetes labels,
 * tags) are sanitized and where the 30-name limit counts __name__. */
#include "series_labels.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

int series_label_name_sanitize(const char *name, char *out, size_t len)
{
	size_t o = 0;

	if (name[0] >= '0' && name[0] <= '9') {
		if (len < 2)
			return -ENAMETOOLONG;
		out[o++] = '_';
	}
	for (const char *p = name; *p; p++) {
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = name_char((unsigned char)*p) ? *p : '_';
	}
	if (o >= len)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (int)o;
}

int series_label_value_legacy_ok(const char *value)
{
	return strpbrk(value, ",}=") == NULL;
}

static void report_drop(struct series_report *r, const char *name, const char *reason)
{
	if (r->n_dropped < SERIES_DROPPED_REPORTED)
		r->dropped[r->n_dropped] = (struct series_dropped){ name, reason };
	r->n_dropped++;
}

const char *series_labels_get(const struct series_labels *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

/* Inserts in order; 0, 1 if the name is taken, or -ENOMEM. */
static int insert(struct series_labels *l, const char *name, const char *value)
{
	size_t at = 0;
	char *n, *v;

	while (at < l->n && strcmp(l->v[at].name, name) < 0)
		at++;
	if (at < l->n && strcmp(l->v[at].name, name) == 0)
		return 1;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof(l->v[0]));
	l->v[at] = (struct series_label){ n, v };
	l->n++;
	return 0;
}

/* Why a label cannot be sent, or NULL; its sanitized name in clean. */
static const char *problem(const struct disc_label *in, char *clean, size_t len)
{
	const char *why;

	if (!in->name[0])
		return "empty name";
	if (series_label_name_sanitize(in->name, clean, len) < 0 ||
	    strlen(clean) > DISC_LABEL_NAME_MAX)
		return "name longer than 1024 bytes";
	/* After sanitizing: "..delta__" would become Pyroscope's __delta__. */
	if (strncmp(clean, "__", 2) == 0)
		return "names starting with __ are reserved";
	if (!in->value || !*in->value)
		return "empty value";
	why = disc_label_value_problem(in->value);
	return why;
}

/* One pass over the input in the order that decides who wins the last
 * places: service_name first, then the set's own order. */
static int add_all(const struct disc_labels *in, const char *name, struct series_labels *out,
		   struct series_report *report)
{
	char clean[DISC_LABEL_NAME_MAX + 2];
	const char *svc = disc_labels_get(in, "service_name");
	int rc;

	if (!svc || !*svc || disc_label_value_problem(svc))
		return -EINVAL;
	if ((rc = insert(out, "__name__", name)) < 0 ||
	    (rc = insert(out, "service_name", svc)) < 0)
		return rc;
	for (size_t i = 0; i < in->n; i++) {
		const struct disc_label *l = &in->v[i];
		const char *why;

		if (strcmp(l->name, "service_name") == 0)
			continue;
		why = problem(l, clean, sizeof(clean));
		if (!why && out->n >= SERIES_LABELS_MAX)
			why = "more than 30 labels";
		if (!why) {
			rc = insert(out, clean, l->value);
			if (rc < 0)
				return rc;
			if (rc == 1)
				why = "its sanitized name is taken by another label";
		}
		if (why)
			report_drop(report, l->name, why);
	}
	return 0;
}

const char *series_profile_name(enum profile_type t)
{
	switch (t) {
	case PROFILE_OFFCPU:
		return "offcpu";
	case PROFILE_MUTEX:
		return "mutex";
	case PROFILE_MEMORY:
		return "memory";
	default:
		return "process_cpu";
	}
}

int series_labels_build(const struct disc_labels *in, const char *name,
			struct series_labels *out, struct series_report *report)
{
	int rc;

	memset(out, 0, sizeof(*out));
	memset(report, 0, sizeof(*report));
	rc = add_all(in, name, out, report);
	if (rc)
		series_labels_release(out);
	return rc;
}

void series_labels_release(struct series_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
}

int series_labels_copy(struct series_labels *dst, const struct series_labels *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		char *n = strdup(src->v[i].name), *v = strdup(src->v[i].value);

		dst->v[i] = (struct series_label){ n, v };
		dst->n = i + 1;
		if (!n || !v) {
			series_labels_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}
