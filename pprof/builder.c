/* Building a pprof profile: every add call deduplicates what it is given
 * into the builder's tables (builder.h), so that a profile of n frames costs
 * O(n) time and holds each string, function, mapping, location and stack
 * once. Arguments are checked before anything is added, so that a rejected
 * call leaves the profile as it was.
 */
#include "builder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool string_eq(const void *key, const void *record, const void *ctx)
{
	(void)ctx;
	return strcmp(key, *(char *const *)record) == 0;
}

static bool function_eq(const void *key, const void *record, const void *ctx)
{
	const struct pprof_function *a = key, *b = record;

	(void)ctx;
	return a->name == b->name && a->system_name == b->system_name &&
	       a->filename == b->filename && a->start_line == b->start_line;
}

static bool mapping_eq(const void *key, const void *record, const void *ctx)
{
	const struct pprof_mapping *a = key, *b = record;

	(void)ctx;
	return a->start == b->start && a->limit == b->limit &&
	       a->offset == b->offset && a->filename == b->filename &&
	       a->build_id == b->build_id;
}

/* The key's lines are staged in the lines pool, past its count. */
static bool location_eq(const void *key, const void *record, const void *ctx)
{
	const struct pprof_location *a = key, *b = record;
	const struct pprof_builder *builder = ctx;

	if (a->mapping_id != b->mapping_id || a->address != b->address ||
	    a->n_lines != b->n_lines)
		return false;
	for (size_t i = 0; i < a->n_lines; i++) {
		const struct pprof_line *x = pool_at(&builder->lines, a->first_line + i);
		const struct pprof_line *y = pool_at(&builder->lines, b->first_line + i);

		if (x->function_id != y->function_id || x->line != y->line)
			return false;
	}
	return true;
}

/* A sample's key: its stack, as the caller holds it, and its own labels,
 * staged in the sample_labels pool past its count. */
struct sample_key {
	const uint64_t *ids;
	size_t n;
	size_t first_label, n_labels; /* in pprof_builder.sample_labels */
};

static bool sample_eq(const void *key, const void *record, const void *ctx)
{
	const struct sample_key *k = key;
	const struct pprof_sample *s = record;
	const struct pprof_builder *b = ctx;

	if (k->n != s->n_locations || k->n_labels != s->n_labels)
		return false;
	if (k->n > 0 && memcmp(k->ids, pool_at(&b->stacks, s->first_location),
			       k->n * sizeof(*k->ids)) != 0)
		return false;
	for (size_t i = 0; i < k->n_labels; i++) {
		const struct pprof_label_ref *x = pool_at(&b->sample_labels, k->first_label + i);
		const struct pprof_label_ref *y = pool_at(&b->sample_labels, s->first_label + i);

		if (x->key != y->key || x->value != y->value)
			return false;
	}
	return true;
}

static uint64_t string_hash(const char *s)
{
	return intern_hash_bytes(INTERN_HASH_SEED, s, strlen(s));
}

/* Looks s up without adding it. */
static bool find_string(const struct pprof_builder *b, const char *s,
			int64_t *index)
{
	size_t i;

	if (!intern_find(&b->strings, string_hash(s), s, &i))
		return false;
	*index = (int64_t)i;
	return true;
}

/* NULL is "", which pprof keeps at index 0. */
static int add_string(struct pprof_builder *b, const char *s, int64_t *index)
{
	uint64_t hash;
	size_t i;
	char *copy;
	int err;

	if (!s)
		s = "";
	hash = string_hash(s);
	if (!intern_find(&b->strings, hash, s, &i)) {
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
		err = intern_append(&b->strings, hash, &copy, &i);
		if (err) {
			free(copy);
			return err;
		}
	}
	*index = (int64_t)i;
	return 0;
}

static int add_value_type(struct pprof_builder *b,
			  const struct pprof_value_type *vt,
			  struct pprof_value_type_ref *ref)
{
	int err = add_string(b, vt->type, &ref->type);

	return err ? err : add_string(b, vt->unit, &ref->unit);
}

/* As libbpf does: a caller built against a shorter, older struct gets zeros
 * for what it does not know; a longer, newer one is refused unless what we do
 * not know is zero. */
static bool copy_opts(const struct pprof_builder_opts *opts,
		      struct pprof_builder_opts *o)
{
	*o = (struct pprof_builder_opts){ 0 };
	if (!opts || opts->sz < sizeof(opts->sz))
		return false;
	for (size_t i = sizeof(*o); i < opts->sz; i++) {
		if (((const unsigned char *)opts)[i] != 0)
			return false;
	}
	memcpy(o, opts, opts->sz < sizeof(*o) ? opts->sz : sizeof(*o));
	return true;
}

static bool opts_valid(const struct pprof_builder_opts *o)
{
	if (o->n_sample_types == 0 || !o->sample_types)
		return false;
	for (size_t i = 0; i < o->n_sample_types; i++) {
		if (!o->sample_types[i].type)
			return false;
	}
	for (size_t i = 0; i < o->n_labels; i++) {
		if (!o->labels || !o->labels[i].key || !o->labels[i].value)
			return false;
	}
	return true;
}

static int init_builder(struct pprof_builder *b,
			const struct pprof_builder_opts *o)
{
	int64_t empty;
	int err;

	intern_init(&b->strings, sizeof(char *), string_eq, b);
	intern_init(&b->functions, sizeof(struct pprof_function), function_eq, b);
	intern_init(&b->mappings, sizeof(struct pprof_mapping), mapping_eq, b);
	intern_init(&b->locations, sizeof(struct pprof_location), location_eq, b);
	intern_init(&b->samples, sizeof(struct pprof_sample), sample_eq, b);
	pool_init(&b->lines, sizeof(struct pprof_line));
	pool_init(&b->stacks, sizeof(uint64_t));
	pool_init(&b->values, sizeof(int64_t));
	pool_init(&b->sample_labels, sizeof(struct pprof_label_ref));
	b->n_values = o->n_sample_types;
	b->period = o->period;
	b->time_nanos = o->time_nanos;
	b->duration_nanos = o->duration_nanos;

	err = add_string(b, "", &empty); /* first, so at index 0 */
	if (err)
		return err;
	b->sample_types = calloc(b->n_values, sizeof(*b->sample_types));
	if (!b->sample_types)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_values && !err; i++)
		err = add_value_type(b, &o->sample_types[i], &b->sample_types[i]);
	if (!err)
		err = add_value_type(b, &o->period_type, &b->period_type);
	if (err || !o->n_labels)
		return err;
	b->labels = calloc(o->n_labels, sizeof(*b->labels));
	if (!b->labels)
		return -ENOMEM;
	b->n_labels = o->n_labels;
	for (size_t i = 0; i < o->n_labels && !err; i++) {
		err = add_string(b, o->labels[i].key, &b->labels[i].key);
		if (!err)
			err = add_string(b, o->labels[i].value, &b->labels[i].value);
	}
	return err;
}

struct pprof_builder *pprof_builder_new(const struct pprof_builder_opts *opts)
{
	struct pprof_builder_opts o;
	struct pprof_builder *b;
	int err;

	if (!copy_opts(opts, &o) || !opts_valid(&o)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	err = init_builder(b, &o);
	if (err) {
		pprof_builder_free(b);
		errno = -err;
		return NULL;
	}
	return b;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < intern_count(&b->strings); i++)
		free(*(char **)intern_at(&b->strings, i));
	intern_free(&b->strings);
	intern_free(&b->functions);
	intern_free(&b->mappings);
	intern_free(&b->locations);
	intern_free(&b->samples);
	pool_free(&b->lines);
	pool_free(&b->stacks);
	pool_free(&b->values);
	pool_free(&b->sample_labels);
	free(b->sample_types);
	free(b->labels);
	free(b);
}

static uint64_t mapping_hash(const struct pprof_mapping *m)
{
	uint64_t h = INTERN_HASH_SEED;

	h = intern_hash_u64(h, m->start);
	h = intern_hash_u64(h, m->limit);
	h = intern_hash_u64(h, m->offset);
	h = intern_hash_u64(h, (uint64_t)m->filename);
	return intern_hash_u64(h, (uint64_t)m->build_id);
}

/* A mapping's has_* flags say something of every location in it, so they
 * are the conjunction of what each add said: one unnamed frame makes
 * has_functions false, and a server knows to name the mapping's frames. */
static void mapping_and_flags(struct pprof_mapping *stored, const struct pprof_mapping *added)
{
	stored->has_functions &= added->has_functions;
	stored->has_filenames &= added->has_filenames;
	stored->has_line_numbers &= added->has_line_numbers;
	stored->has_inline_frames &= added->has_inline_frames;
}

int pprof_builder_add_mapping(struct pprof_builder *b,
			      const struct pprof_mapping_desc *m,
			      uint64_t *id)
{
	struct pprof_mapping rec;
	size_t index;
	int err;

	if (!b || !m || !id)
		return -EINVAL;
	rec = (struct pprof_mapping){
		.start = m->start,
		.limit = m->limit,
		.offset = m->offset,
		.has_functions = m->has_functions,
		.has_filenames = m->has_filenames,
		.has_line_numbers = m->has_line_numbers,
		.has_inline_frames = m->has_inline_frames,
	};
	err = add_string(b, m->filename, &rec.filename);
	if (!err)
		err = add_string(b, m->build_id, &rec.build_id);
	if (!err)
		err = intern_add(&b->mappings, mapping_hash(&rec), &rec, &index);
	if (err)
		return err;
	mapping_and_flags(intern_at(&b->mappings, index), &rec);
	*id = index + 1;
	return 0;
}

static uint64_t function_hash(const struct pprof_function *f)
{
	uint64_t h = INTERN_HASH_SEED;

	h = intern_hash_u64(h, (uint64_t)f->name);
	h = intern_hash_u64(h, (uint64_t)f->system_name);
	h = intern_hash_u64(h, (uint64_t)f->filename);
	return intern_hash_u64(h, (uint64_t)f->start_line);
}

static int add_function(struct pprof_builder *b, const struct pprof_line_desc *l,
			uint64_t *id)
{
	struct pprof_function f = { .start_line = l->start_line };
	size_t index;
	int err;

	err = add_string(b, l->function_name, &f.name);
	if (!err)
		err = add_string(b, l->system_name ? l->system_name : l->function_name,
				 &f.system_name);
	if (!err)
		err = add_string(b, l->filename, &f.filename);
	if (!err)
		err = intern_add(&b->functions, function_hash(&f), &f, &index);
	if (!err)
		*id = index + 1;
	return err;
}

/* The location's lines must be staged in the lines pool already. */
static uint64_t location_hash(const struct pprof_builder *b,
			      const struct pprof_location *loc)
{
	uint64_t h = INTERN_HASH_SEED;

	h = intern_hash_u64(h, loc->mapping_id);
	h = intern_hash_u64(h, loc->address);
	h = intern_hash_u64(h, loc->n_lines);
	for (size_t i = 0; i < loc->n_lines; i++) {
		const struct pprof_line *l = pool_at(&b->lines, loc->first_line + i);

		h = intern_hash_u64(h, l->function_id);
		h = intern_hash_u64(h, (uint64_t)l->line);
	}
	return h;
}

static bool lines_valid(const struct pprof_line_desc *lines, size_t n)
{
	if (n > 0 && !lines)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!lines[i].function_name)
			return false;
	}
	return true;
}

int pprof_builder_add_location(struct pprof_builder *b, uint64_t mapping_id,
			       uint64_t address,
			       const struct pprof_line_desc *lines,
			       size_t n_lines, uint64_t *id)
{
	struct pprof_location loc;
	size_t index, before;
	int err;

	if (!b || !id || mapping_id > intern_count(&b->mappings) ||
	    !lines_valid(lines, n_lines))
		return -EINVAL;
	loc = (struct pprof_location){
		.mapping_id = mapping_id,
		.address = address,
		.first_line = b->lines.count,
		.n_lines = n_lines,
	};
	/* Stage the lines past the pool's count: they are the key, and they
	 * are kept only if the location is new. */
	err = pool_reserve(&b->lines, n_lines);
	for (size_t i = 0; i < n_lines && !err; i++) {
		struct pprof_line *l = pool_at(&b->lines, loc.first_line + i);

		l->line = lines[i].line;
		err = add_function(b, &lines[i], &l->function_id);
	}
	if (err)
		return err;
	before = intern_count(&b->locations);
	err = intern_add(&b->locations, location_hash(b, &loc), &loc, &index);
	if (err)
		return err;
	if (intern_count(&b->locations) > before)
		b->lines.count += n_lines;
	*id = index + 1;
	return 0;
}

/* The key's labels must be staged in the sample_labels pool already. */
static uint64_t sample_hash(const struct pprof_builder *b,
			    const struct sample_key *k)
{
	uint64_t h = intern_hash_u64(INTERN_HASH_SEED, k->n);

	for (size_t i = 0; i < k->n; i++)
		h = intern_hash_u64(h, k->ids[i]);
	h = intern_hash_u64(h, k->n_labels);
	for (size_t i = 0; i < k->n_labels; i++) {
		const struct pprof_label_ref *l = pool_at(&b->sample_labels, k->first_label + i);

		h = intern_hash_u64(h, (uint64_t)l->key);
		h = intern_hash_u64(h, (uint64_t)l->value);
	}
	return h;
}

static bool sample_valid(const struct pprof_builder *b, const uint64_t *ids,
			 size_t n, const int64_t *values,
			 const struct pprof_label *labels, size_t n_labels)
{
	if (!b || (n > 0 && !ids) || !values || (n_labels > 0 && !labels))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == 0 || ids[i] > intern_count(&b->locations))
			return false;
	}
	for (size_t i = 0; i < n_labels; i++) {
		if (!labels[i].key || !labels[i].value)
			return false;
	}
	return true;
}

/* The i-th string of labels, counting key, value, key, value..., and where
 * its ref goes. */
static int64_t *label_string(const struct pprof_label *labels,
			     struct pprof_label_ref *refs, size_t i,
			     const char **s)
{
	*s = i % 2 ? labels[i / 2].value : labels[i / 2].key;
	return i % 2 ? &refs[i / 2].value : &refs[i / 2].key;
}

/* Fills refs with the labels' strings as far as the string table has them,
 * -1 for the others: true if it has every one. A sample with a string the
 * table lacks cannot be one already added. */
static bool find_labels(const struct pprof_builder *b,
			const struct pprof_label *labels, size_t n,
			struct pprof_label_ref *refs)
{
	bool all = true;

	for (size_t i = 0; i < 2 * n; i++) {
		const char *s;
		int64_t *ref = label_string(labels, refs, i, &s);

		if (!find_string(b, s, ref)) {
			*ref = -1;
			all = false;
		}
	}
	return all;
}

/* Adds the strings find_labels left at -1, all or none: every copy is made
 * and every slot reserved before the first string goes in. */
static int add_label_strings(struct pprof_builder *b,
			     const struct pprof_label *labels, size_t n,
			     struct pprof_label_ref *refs)
{
	size_t missing = 0, k = 0;
	const char *s;
	char **copies;
	int err;

	for (size_t i = 0; i < 2 * n; i++)
		missing += *label_string(labels, refs, i, &s) < 0;
	if (missing == 0)
		return 0;
	copies = calloc(missing, sizeof(*copies));
	err = copies ? intern_reserve(&b->strings, missing) : -ENOMEM;
	for (size_t i = 0; i < 2 * n && !err; i++) {
		if (*label_string(labels, refs, i, &s) >= 0)
			continue;
		copies[k] = strdup(s);
		if (!copies[k++])
			err = -ENOMEM;
	}
	/* From here nothing fails. A string twice among the new ones is
	 * found the second time, and its copy freed. */
	k = 0;
	for (size_t i = 0; i < 2 * n && !err; i++) {
		int64_t *ref = label_string(labels, refs, i, &s);
		size_t index;

		if (*ref >= 0)
			continue;
		if (!find_string(b, s, ref)) {
			err = intern_append(&b->strings, string_hash(s), &copies[k], &index);
			if (!err) {
				*ref = (int64_t)index;
				copies[k] = NULL; /* the table's now */
			}
		}
		k++;
	}
	for (size_t i = 0; copies && i < missing; i++)
		free(copies[i]);
	free(copies);
	return err;
}

/* All or nothing, so that an overflow does not leave a half-merged sample. */
static int merge_values(struct pprof_builder *b, size_t sample,
			const int64_t *values)
{
	int64_t *sum = pool_at(&b->values, sample * b->n_values);
	int64_t unused;

	for (size_t i = 0; i < b->n_values; i++) {
		if (__builtin_add_overflow(sum[i], values[i], &unused))
			return -EOVERFLOW;
	}
	for (size_t i = 0; i < b->n_values; i++)
		sum[i] += values[i];
	return 0;
}

/* Every allocation comes first, the label strings last (they are added as
 * they go), so that a failure adds nothing. */
static int append_sample(struct pprof_builder *b, const struct sample_key *k,
			 const struct pprof_label *labels, const int64_t *values)
{
	struct pprof_sample s = {
		.first_location = b->stacks.count,
		.n_locations = k->n,
		.first_label = k->first_label,
		.n_labels = k->n_labels,
	};
	size_t index;
	int err;

	err = pool_reserve(&b->stacks, k->n);
	if (!err)
		err = pool_reserve(&b->values, b->n_values);
	if (!err)
		err = intern_reserve(&b->samples, 1);
	if (!err && k->n_labels > 0)
		err = add_label_strings(b, labels, k->n_labels,
					pool_at(&b->sample_labels, k->first_label));
	if (!err)
		err = intern_append(&b->samples, sample_hash(b, k), &s, &index);
	if (err)
		return err;
	if (k->n > 0)
		memcpy(pool_at(&b->stacks, s.first_location), k->ids,
		       k->n * sizeof(*k->ids));
	b->stacks.count += k->n;
	memcpy(pool_at(&b->values, b->values.count), values,
	       b->n_values * sizeof(*values));
	b->values.count += b->n_values;
	b->sample_labels.count += k->n_labels;
	return 0;
}

int pprof_builder_add_sample(struct pprof_builder *b,
			     const uint64_t *location_ids, size_t n,
			     const int64_t *values)
{
	return pprof_builder_add_sample_labeled(b, location_ids, n, values,
						NULL, 0);
}

int pprof_builder_add_sample_labeled(struct pprof_builder *b,
				     const uint64_t *location_ids, size_t n,
				     const int64_t *values,
				     const struct pprof_label *labels,
				     size_t n_labels)
{
	struct sample_key key = { .ids = location_ids, .n = n, .n_labels = n_labels };
	size_t index;
	int err;

	if (!sample_valid(b, location_ids, n, values, labels, n_labels))
		return -EINVAL;
	/* Stage the labels' refs past the pool's count: they are the key,
	 * and they are kept only if the sample is new. */
	err = pool_reserve(&b->sample_labels, n_labels);
	if (err)
		return err;
	key.first_label = b->sample_labels.count;
	if ((n_labels == 0 ||
	     find_labels(b, labels, n_labels, pool_at(&b->sample_labels, key.first_label))) &&
	    intern_find(&b->samples, sample_hash(b, &key), &key, &index))
		return merge_values(b, index, values);
	return append_sample(b, &key, labels, values);
}

size_t pprof_builder_sample_count(const struct pprof_builder *b)
{
	return b ? intern_count(&b->samples) : 0;
}
