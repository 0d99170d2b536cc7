/* Encoding a builder (builder.h) as what pprof readers take: a profile.proto
 * message, packed by protobuf-c, then gzipped.
 *
 * The protobuf-c structs are laid over the builder's tables for the length of
 * one encode: the string table, the stacks and the values are pointed at in
 * place, the other tables translated into arrays allocated here. The builder
 * is not changed, so it can grow and be encoded again.
 */
#include "builder.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

/* protobuf-c wants repeated messages as arrays of pointers, hence each
 * array of structs has its array of pointers. */
struct message {
	Profile profile;
	ValueType *types; /* the sample types, then the period type */
	ValueType **type_ptrs;
	Sample *samples, **sample_ptrs;
	/* The profile's labels, then those of the sample_labels pool.
	 * label_ptrs starts with the profile's run, which every sample
	 * without labels of its own shares; a run per sample with some
	 * follows, the profile's again, then its own. */
	Label *labels, **label_ptrs;
	Mapping *mappings, **mapping_ptrs;
	Location *locations, **location_ptrs;
	Line *lines, **line_ptrs; /* as the builder's lines pool */
	Function *functions, **function_ptrs;
};

/* calloc(0) may return NULL, which must not read as out of memory. */
static void *alloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

static void message_free(struct message *m)
{
	free(m->types);
	free(m->type_ptrs);
	free(m->samples);
	free(m->sample_ptrs);
	free(m->labels);
	free(m->label_ptrs);
	free(m->mappings);
	free(m->mapping_ptrs);
	free(m->locations);
	free(m->location_ptrs);
	free(m->lines);
	free(m->line_ptrs);
	free(m->functions);
	free(m->function_ptrs);
}

/* The length of label_ptrs; false if it does not fit a size_t. */
static bool count_label_ptrs(const struct pprof_builder *b, size_t *n)
{
	*n = b->n_labels;
	for (size_t i = 0; i < intern_count(&b->samples); i++) {
		const struct pprof_sample *s = intern_at(&b->samples, i);

		if (s->n_labels > 0 &&
		    (__builtin_add_overflow(*n, b->n_labels, n) ||
		     __builtin_add_overflow(*n, s->n_labels, n)))
			return false;
	}
	return true;
}

static int message_alloc(const struct pprof_builder *b, struct message *m)
{
	size_t n_samples = intern_count(&b->samples);
	size_t n_mappings = intern_count(&b->mappings);
	size_t n_locations = intern_count(&b->locations);
	size_t n_functions = intern_count(&b->functions);
	size_t n_labels = b->n_labels + b->sample_labels.count, n_label_ptrs;

	if (!count_label_ptrs(b, &n_label_ptrs))
		return -ENOMEM;

	m->types = alloc_array(b->n_values + 1, sizeof(*m->types));
	m->type_ptrs = alloc_array(b->n_values, sizeof(*m->type_ptrs));
	m->samples = alloc_array(n_samples, sizeof(*m->samples));
	m->sample_ptrs = alloc_array(n_samples, sizeof(*m->sample_ptrs));
	m->labels = alloc_array(n_labels, sizeof(*m->labels));
	m->label_ptrs = alloc_array(n_label_ptrs, sizeof(*m->label_ptrs));
	m->mappings = alloc_array(n_mappings, sizeof(*m->mappings));
	m->mapping_ptrs = alloc_array(n_mappings, sizeof(*m->mapping_ptrs));
	m->locations = alloc_array(n_locations, sizeof(*m->locations));
	m->location_ptrs = alloc_array(n_locations, sizeof(*m->location_ptrs));
	m->lines = alloc_array(b->lines.count, sizeof(*m->lines));
	m->line_ptrs = alloc_array(b->lines.count, sizeof(*m->line_ptrs));
	m->functions = alloc_array(n_functions, sizeof(*m->functions));
	m->function_ptrs = alloc_array(n_functions, sizeof(*m->function_ptrs));
	if (!m->types || !m->type_ptrs || !m->samples || !m->sample_ptrs || !m->labels ||
	    !m->label_ptrs ||
	    !m->mappings || !m->mapping_ptrs || !m->locations ||
	    !m->location_ptrs || !m->lines || !m->line_ptrs || !m->functions ||
	    !m->function_ptrs)
		return -ENOMEM;
	return 0;
}

static void fill_type(ValueType *t, const struct pprof_value_type_ref *ref)
{
	perftools__profiles__value_type__init(t);
	t->type = ref->type;
	t->unit = ref->unit;
}

static void fill_label(Label *l, const struct pprof_label_ref *ref)
{
	perftools__profiles__label__init(l);
	l->key = ref->key;
	l->str = ref->value;
}

/* A sample's labels: the profile's shared run if it has none of its own,
 * else a run of its own at label_ptrs[*next_ptr], the profile's then its. */
static void fill_sample_labels(const struct pprof_builder *b,
			       struct message *m, const struct pprof_sample *src,
			       Sample *s, size_t *next_ptr)
{
	Label **run, *own;

	if (src->n_labels == 0) {
		s->n_label = b->n_labels;
		s->label = b->n_labels ? m->label_ptrs : NULL;
		return;
	}
	run = m->label_ptrs + *next_ptr;
	own = m->labels + b->n_labels + src->first_label;
	for (size_t j = 0; j < b->n_labels; j++)
		run[j] = m->label_ptrs[j];
	for (size_t j = 0; j < src->n_labels; j++)
		run[b->n_labels + j] = &own[j];
	s->n_label = b->n_labels + src->n_labels;
	s->label = run;
	*next_ptr += s->n_label;
}

static void fill_samples(const struct pprof_builder *b, struct message *m)
{
	size_t next_ptr = b->n_labels; /* in label_ptrs */

	for (size_t i = 0; i < b->n_labels; i++) {
		fill_label(&m->labels[i], &b->labels[i]);
		m->label_ptrs[i] = &m->labels[i];
	}
	for (size_t i = 0; i < b->sample_labels.count; i++)
		fill_label(&m->labels[b->n_labels + i], pool_at(&b->sample_labels, i));
	for (size_t i = 0; i < intern_count(&b->samples); i++) {
		const struct pprof_sample *src = intern_at(&b->samples, i);
		Sample *s = &m->samples[i];

		perftools__profiles__sample__init(s);
		s->n_location_id = src->n_locations;
		/* An empty stack may have no pool under it at all. */
		s->location_id = src->n_locations ?
			pool_at(&b->stacks, src->first_location) : NULL;
		s->n_value = b->n_values;
		s->value = pool_at(&b->values, i * b->n_values);
		fill_sample_labels(b, m, src, s, &next_ptr);
		m->sample_ptrs[i] = s;
	}
}

static void fill_mappings(const struct pprof_builder *b, struct message *m)
{
	for (size_t i = 0; i < intern_count(&b->mappings); i++) {
		const struct pprof_mapping *src = intern_at(&b->mappings, i);
		Mapping *p = &m->mappings[i];

		perftools__profiles__mapping__init(p);
		p->id = i + 1;
		p->memory_start = src->start;
		p->memory_limit = src->limit;
		p->file_offset = src->offset;
		p->filename = src->filename;
		p->build_id = src->build_id;
		p->has_functions = src->has_functions;
		p->has_filenames = src->has_filenames;
		p->has_line_numbers = src->has_line_numbers;
		p->has_inline_frames = src->has_inline_frames;
		m->mapping_ptrs[i] = p;
	}
}

static void fill_locations(const struct pprof_builder *b, struct message *m)
{
	for (size_t i = 0; i < b->lines.count; i++) {
		const struct pprof_line *src = pool_at(&b->lines, i);
		Line *l = &m->lines[i];

		perftools__profiles__line__init(l);
		l->function_id = src->function_id;
		l->line = src->line;
		m->line_ptrs[i] = l;
	}
	for (size_t i = 0; i < intern_count(&b->locations); i++) {
		const struct pprof_location *src = intern_at(&b->locations, i);
		Location *l = &m->locations[i];

		perftools__profiles__location__init(l);
		l->id = i + 1;
		l->mapping_id = src->mapping_id;
		l->address = src->address;
		l->n_line = src->n_lines;
		l->line = m->line_ptrs + src->first_line;
		m->location_ptrs[i] = l;
	}
}

static void fill_functions(const struct pprof_builder *b, struct message *m)
{
	for (size_t i = 0; i < intern_count(&b->functions); i++) {
		const struct pprof_function *src = intern_at(&b->functions, i);
		Function *f = &m->functions[i];

		perftools__profiles__function__init(f);
		f->id = i + 1;
		f->name = src->name;
		f->system_name = src->system_name;
		f->filename = src->filename;
		f->start_line = src->start_line;
		m->function_ptrs[i] = f;
	}
}

static void fill_profile(const struct pprof_builder *b, struct message *m)
{
	Profile *p = &m->profile;

	perftools__profiles__profile__init(p);
	for (size_t i = 0; i < b->n_values; i++) {
		fill_type(&m->types[i], &b->sample_types[i]);
		m->type_ptrs[i] = &m->types[i];
	}
	fill_type(&m->types[b->n_values], &b->period_type);
	fill_samples(b, m);
	fill_mappings(b, m);
	fill_locations(b, m);
	fill_functions(b, m);

	p->n_sample_type = b->n_values;
	p->sample_type = m->type_ptrs;
	p->n_sample = intern_count(&b->samples);
	p->sample = m->sample_ptrs;
	p->n_mapping = intern_count(&b->mappings);
	p->mapping = m->mapping_ptrs;
	p->n_location = intern_count(&b->locations);
	p->location = m->location_ptrs;
	p->n_function = intern_count(&b->functions);
	p->function = m->function_ptrs;
	p->n_string_table = intern_count(&b->strings);
	p->string_table = b->strings.records.items;
	p->time_nanos = b->time_nanos;
	p->duration_nanos = b->duration_nanos;
	p->period_type = &m->types[b->n_values];
	p->period = b->period;
}

/* One deflate call into a buffer of deflateBound's size, which zlib
 * promises is enough; 15 + 16 window bits ask for a gzip header. */
static int gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	uint8_t *buf, *shrunk;
	uLong bound;
	int ret;

	if (len > UINT_MAX)
		return -EFBIG; /* avail_in is an unsigned int */
	ret = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			   Z_DEFAULT_STRATEGY);
	if (ret != Z_OK)
		return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	bound = deflateBound(&zs, len);
	buf = bound <= UINT_MAX ? malloc(bound) : NULL;
	if (!buf) {
		deflateEnd(&zs);
		return bound <= UINT_MAX ? -ENOMEM : -EFBIG;
	}
	zs.next_in = (Bytef *)in; /* zlib does not write to it */
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	ret = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out_len = zs.total_out;
	shrunk = realloc(buf, zs.total_out);
	*out = shrunk ? shrunk : buf;
	return 0;
}

static int pack_gzip(const Profile *p, uint8_t **out, size_t *out_len)
{
	size_t len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *packed = alloc_array(len, 1);
	int err;

	if (!packed)
		return -ENOMEM;
	perftools__profiles__profile__pack(p, packed);
	err = gzip(packed, len, out, out_len);
	free(packed);
	return err;
}

int pprof_builder_encode(struct pprof_builder *b, uint8_t **out,
			 size_t *out_len)
{
	struct message m = { 0 };
	int err;

	if (!b || !out || !out_len)
		return -EINVAL;
	err = message_alloc(b, &m);
	if (!err) {
		fill_profile(b, &m);
		err = pack_gzip(&m.profile, out, out_len);
	}
	message_free(&m);
	return err;
}
