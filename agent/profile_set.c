/* One interval's profiles, one per type and label set. Label sets are few
 * (tens to hundreds on a host), so a sorted array keeps this small and
 * obvious; sorted by type, then set, so the sets of one service sit side by
 * side. */
#include "profile_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct profile_slot {
	enum profile_type type;
	struct disc_labels labels;
	uint32_t labels_hash;
	struct pprof_builder *builder;
};

struct profile_set {
	int64_t start_ns, end_ns, period;
	int64_t memory_period; /* bytes between sampled allocations, on average */
	unsigned int sample_rate;
	struct profile_slot *slots;
	size_t n, cap;
};

struct profile_set *profile_set_new(int64_t start_ns, int64_t end_ns,
				    unsigned int sample_rate)
{
	struct profile_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->start_ns = start_ns;
	s->end_ns = end_ns;
	s->sample_rate = sample_rate ? sample_rate : 1;
	s->period = 1000000000LL / s->sample_rate;
	s->memory_period = 1;
	return s;
}

void profile_set_set_memory_period(struct profile_set *s, int64_t bytes)
{
	s->memory_period = bytes > 0 ? bytes : 1;
}

void profile_set_free(struct profile_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		disc_labels_release(&s->slots[i].labels);
		pprof_builder_free(s->slots[i].builder);
	}
	free(s->slots);
	free(s);
}

int64_t profile_set_period(const struct profile_set *s)
{
	return s->period;
}

unsigned int profile_set_sample_rate(const struct profile_set *s)
{
	return s->sample_rate;
}

/* Pyroscope's sample types of each profile type, the period's first. */
static const struct pprof_value_type cpu_types[] = { { "cpu", "nanoseconds" } };
static const struct pprof_value_type offcpu_types[] = { { "offcpu", "nanoseconds" } };
static const struct pprof_value_type mutex_types[] = {
	{ "contentions", "count" },
	{ "delay", "nanoseconds" },
};
/* Go's heap profile, as Pyroscope's memory type reads it: period space. */
static const struct pprof_value_type memory_types[] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
};
static const struct pprof_value_type memory_period = { "space", "bytes" };

static const struct type_format {
	const struct pprof_value_type *types;
	size_t n;
	const struct pprof_value_type *period_type;
} formats[PROFILE__COUNT] = {
	[PROFILE_CPU] = { cpu_types, 1, &cpu_types[0] },
	[PROFILE_OFFCPU] = { offcpu_types, 1, &offcpu_types[0] },
	[PROFILE_MUTEX] = { mutex_types, 2, &mutex_types[0] },
	[PROFILE_MEMORY] = { memory_types, 4, &memory_period },
};

static struct pprof_builder *new_builder(const struct profile_set *s, enum profile_type type,
					 const struct disc_labels *labels)
{
	const struct type_format *f = &formats[type < PROFILE__COUNT ? type : PROFILE_CPU];
	struct pprof_label pl[DISC_LABELS_MAX];
	struct pprof_builder_opts opts = {
		.sz = sizeof(opts),
		.sample_types = f->types,
		.n_sample_types = f->n,
		.period_type = *f->period_type,
		/* A CPU sample is a period of the clock; a memory sample the
		 * bytes between samples, on average; the others count one. */
		.period = type == PROFILE_CPU ? s->period
			  : type == PROFILE_MEMORY ? s->memory_period : 1,
		.time_nanos = s->start_ns,
		.duration_nanos = s->end_ns - s->start_ns,
		.labels = pl,
	};

	for (size_t i = 0; i < labels->n && i < DISC_LABELS_MAX; i++)
		pl[opts.n_labels++] = (struct pprof_label){ labels->v[i].name, labels->v[i].value };
	return pprof_builder_new(&opts);
}

/* By type, then service_name, then the rest: files of one service stay
 * together. */
static int compare_slot(const struct profile_slot *slot, enum profile_type type,
			const struct disc_labels *b)
{
	const struct disc_labels *a = &slot->labels;
	int c;

	if (slot->type != type)
		return slot->type < type ? -1 : 1;
	c = strcmp(disc_labels_get(a, "service_name"), disc_labels_get(b, "service_name"));
	return c ? c : disc_labels_compare(a, b);
}

int profile_set_builder(struct profile_set *s, enum profile_type type,
			const struct disc_labels *labels, struct pprof_builder **b)
{
	size_t lo = 0, hi = s->n;

	if (!disc_labels_get(labels, "service_name"))
		return -EINVAL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = compare_slot(&s->slots[mid], type, labels);

		if (c == 0) {
			*b = s->slots[mid].builder;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct profile_slot *v = realloc(s->slots, ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->slots = v;
		s->cap = ncap;
	}
	struct profile_slot slot = {
		.type = type,
		.labels_hash = disc_labels_hash(labels),
		.builder = new_builder(s, type, labels),
	};
	if (!slot.builder || disc_labels_copy(&slot.labels, labels)) {
		disc_labels_release(&slot.labels);
		pprof_builder_free(slot.builder);
		return -ENOMEM;
	}
	memmove(&s->slots[lo + 1], &s->slots[lo], (s->n - lo) * sizeof(*s->slots));
	s->slots[lo] = slot;
	s->n++;
	*b = slot.builder;
	return 0;
}

size_t profile_set_count(const struct profile_set *s)
{
	return s->n;
}

void profile_set_entry(const struct profile_set *s, size_t i, struct profile_entry *e)
{
	e->type = s->slots[i].type;
	e->labels = &s->slots[i].labels;
	e->service_name = disc_labels_get(e->labels, "service_name");
	e->labels_hash = s->slots[i].labels_hash;
	e->builder = s->slots[i].builder;
}

int64_t profile_set_start_ns(const struct profile_set *s)
{
	return s->start_ns;
}

int64_t profile_set_end_ns(const struct profile_set *s)
{
	return s->end_ns;
}
