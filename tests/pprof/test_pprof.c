/* Unit test of the pprof builder: builds profiles through pprof.h, then
 * gunzips and unpacks the bytes with the protobuf-c code generated from
 * pprof/profile.proto and checks the message field by field: the string
 * table, deduplication of every table, merged samples, stack order, ids,
 * the header fields, and labels: the profile's and each sample's own, which
 * keep apart samples of one stack. Runs under ASan/UBSan/LSan in the sanitizer build,
 * which is what checks that pprof_builder_free frees everything.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "pprof.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Sample Sample;

#define N(a) (sizeof(a) / sizeof(*(a)))

static const struct pprof_value_type types[] = {
	{ "samples", "count" },
	{ "cpu", "nanoseconds" },
};

static const struct pprof_builder_opts opts = {
	.sz = sizeof(opts),
	.sample_types = types,
	.n_sample_types = N(types),
	.period_type = { "cpu", "nanoseconds" },
	.period = 10000000,
	.time_nanos = 1700000000123456789LL,
	.duration_nanos = 15000000000LL,
};

/* A builder with the default opts; NULL after a failed check. */
static struct pprof_builder *new_builder(void)
{
	struct pprof_builder *b = pprof_builder_new(&opts);

	CHECK(b != NULL, "pprof_builder_new: %s", strerror(errno));
	return b;
}

static uint8_t *gunzip(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = 4096;
	uint8_t *out = malloc(cap);
	int ret = Z_OK;

	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK) { /* gzip only */
		free(out);
		return NULL;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	while (ret == Z_OK) {
		if (zs.total_out == cap) {
			uint8_t *bigger = realloc(out, cap * 2);

			if (!bigger)
				break;
			out = bigger;
			cap *= 2;
		}
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		ret = inflate(&zs, Z_NO_FLUSH);
	}
	*out_len = zs.total_out;
	inflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* Encodes b and decodes it back; NULL (after a failed check) if either way
 * fails. */
static Profile *roundtrip(struct pprof_builder *b)
{
	uint8_t *gz = NULL, *raw;
	size_t gz_len = 0, raw_len;
	Profile *p;
	int err;

	err = pprof_builder_encode(b, &gz, &gz_len);
	CHECK(err == 0, "encode: %s", strerror(-err));
	if (err)
		return NULL;
	CHECK(gz_len > 18 && gz[0] == 0x1f && gz[1] == 0x8b,
	      "output is not gzip (%zu bytes)", gz_len);
	raw = gunzip(gz, gz_len, &raw_len);
	free(gz);
	CHECK(raw != NULL, "gunzip failed");
	if (!raw)
		return NULL;
	p = perftools__profiles__profile__unpack(NULL, raw_len, raw);
	free(raw);
	CHECK(p != NULL, "protobuf-c could not unpack the profile");
	return p;
}

static const char *str(const Profile *p, int64_t i)
{
	if (i < 0 || (size_t)i >= p->n_string_table)
		return "<string index out of range>";
	return p->string_table[i];
}

/* Checks the invariants every profile we write keeps: "" first, no string
 * twice, every id its position + 1, every reference resolvable. */
static void check_invariants(const Profile *p)
{
	CHECK(p->n_string_table > 0 && strcmp(p->string_table[0], "") == 0,
	      "string_table[0] is not \"\"");
	for (size_t i = 0; i < p->n_string_table; i++) {
		for (size_t j = i + 1; j < p->n_string_table; j++)
			CHECK(strcmp(p->string_table[i], p->string_table[j]) != 0,
			      "string '%s' at %zu and %zu", p->string_table[i], i, j);
	}
	for (size_t i = 0; i < p->n_mapping; i++)
		CHECK(p->mapping[i]->id == i + 1, "mapping %zu has id %llu", i,
		      (unsigned long long)p->mapping[i]->id);
	for (size_t i = 0; i < p->n_function; i++)
		CHECK(p->function[i]->id == i + 1, "function %zu has id %llu", i,
		      (unsigned long long)p->function[i]->id);
	for (size_t i = 0; i < p->n_location; i++) {
		const Location *l = p->location[i];

		CHECK(l->id == i + 1, "location %zu has id %llu", i,
		      (unsigned long long)l->id);
		CHECK(l->mapping_id <= p->n_mapping, "location %zu: mapping %llu",
		      i, (unsigned long long)l->mapping_id);
		for (size_t j = 0; j < l->n_line; j++)
			CHECK(l->line[j]->function_id >= 1 &&
			      l->line[j]->function_id <= p->n_function,
			      "location %zu line %zu: function %llu", i, j,
			      (unsigned long long)l->line[j]->function_id);
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Sample *s = p->sample[i];

		CHECK(s->n_value == p->n_sample_type, "sample %zu: %zu values", i,
		      s->n_value);
		for (size_t j = 0; j < s->n_location_id; j++)
			CHECK(s->location_id[j] >= 1 && s->location_id[j] <= p->n_location,
			      "sample %zu: location %llu", i,
			      (unsigned long long)s->location_id[j]);
	}
}

static void check_function(const Profile *p, uint64_t id, const char *name,
			   const char *system_name, const char *filename,
			   int64_t start_line)
{
	const Function *f;

	CHECK(id >= 1 && id <= p->n_function, "no function %llu", (unsigned long long)id);
	if (id < 1 || id > p->n_function)
		return;
	f = p->function[id - 1];
	CHECK(strcmp(str(p, f->name), name) == 0 &&
	      strcmp(str(p, f->system_name), system_name) == 0 &&
	      strcmp(str(p, f->filename), filename) == 0 &&
	      f->start_line == start_line,
	      "function %llu is (%s, %s, %s, %lld), want (%s, %s, %s, %lld)",
	      (unsigned long long)id, str(p, f->name), str(p, f->system_name),
	      str(p, f->filename), (long long)f->start_line, name, system_name,
	      filename, (long long)start_line);
}

/* Sample i has stack ids[0..n) and values {v0, v1}. */
static void check_sample(const Profile *p, size_t i, const uint64_t *ids,
			 size_t n, int64_t v0, int64_t v1)
{
	const Sample *s;

	CHECK(i < p->n_sample, "no sample %zu", i);
	if (i >= p->n_sample)
		return;
	s = p->sample[i];
	CHECK(s->n_location_id == n, "sample %zu: %zu locations, want %zu", i,
	      s->n_location_id, n);
	for (size_t j = 0; j < n && j < s->n_location_id; j++)
		CHECK(s->location_id[j] == ids[j], "sample %zu frame %zu: location %llu, want %llu",
		      i, j, (unsigned long long)s->location_id[j], (unsigned long long)ids[j]);
	CHECK(s->n_value == 2 && s->value[0] == v0 && s->value[1] == v1,
	      "sample %zu: values (%lld, %lld), want (%lld, %lld)", i,
	      (long long)(s->n_value > 0 ? s->value[0] : -1),
	      (long long)(s->n_value > 1 ? s->value[1] : -1), (long long)v0,
	      (long long)v1);
}

static void test_opts(void)
{
	struct {
		struct pprof_builder_opts o;
		uint64_t newer_field;
	} longer = { .o = opts };
	struct pprof_builder_opts o;
	struct pprof_builder *b;

	errno = 0;
	CHECK(pprof_builder_new(NULL) == NULL && errno == EINVAL, "NULL opts");
	o = opts;
	o.sz = 0;
	errno = 0;
	CHECK(pprof_builder_new(&o) == NULL && errno == EINVAL, "opts.sz 0");
	o = opts;
	o.n_sample_types = 0;
	errno = 0;
	CHECK(pprof_builder_new(&o) == NULL && errno == EINVAL, "no sample types");
	o = opts;
	o.sample_types = NULL;
	errno = 0;
	CHECK(pprof_builder_new(&o) == NULL && errno == EINVAL, "NULL sample types");
	struct pprof_value_type unnamed[] = { { NULL, "count" } };
	o = opts;
	o.sample_types = unnamed;
	o.n_sample_types = 1;
	errno = 0;
	CHECK(pprof_builder_new(&o) == NULL && errno == EINVAL, "sample type without a type");

	/* A newer caller's struct: fine while what we do not know is zero. */
	longer.o.sz = sizeof(longer);
	b = pprof_builder_new(&longer.o);
	CHECK(b != NULL, "longer opts, zero tail: %s", strerror(errno));
	pprof_builder_free(b);
	longer.newer_field = 1;
	errno = 0;
	CHECK(pprof_builder_new(&longer.o) == NULL && errno == EINVAL,
	      "longer opts with a non-zero unknown field accepted");

	/* An older caller's struct: what it lacks reads as zero. */
	o = opts;
	o.sz = offsetof(struct pprof_builder_opts, duration_nanos);
	b = pprof_builder_new(&o);
	CHECK(b != NULL, "shorter opts: %s", strerror(errno));
	Profile *p = b ? roundtrip(b) : NULL;
	if (p) {
		CHECK(p->duration_nanos == 0, "field beyond sz read: duration %lld",
		      (long long)p->duration_nanos);
		CHECK(p->time_nanos == opts.time_nanos, "time_nanos lost");
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

static void test_empty_profile(void)
{
	struct pprof_builder *b = new_builder();
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_sample_count(b) == 0, "empty builder has samples");
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		CHECK(p->n_sample == 0 && p->n_location == 0 && p->n_function == 0 &&
		      p->n_mapping == 0, "empty profile has contents");
		/* "", samples, count, cpu, nanoseconds */
		CHECK(p->n_string_table == 5, "empty profile: %zu strings",
		      p->n_string_table);
		CHECK(p->n_sample_type == 2, "sample types: %zu", p->n_sample_type);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* Location ids the structure test expects, in the order it adds them. */
enum {
	L_MAIN = 1, L_A, L_LEAF, L_LEAF_OTHER_LINE, L_INLINED, L_UNNAMED,
	L_NO_MAPPING, L_OTHER_MAPPING, L_INNER_ONLY, N_LOCATIONS = L_INNER_ONLY
};

static void add_structure(struct pprof_builder *b)
{
	struct pprof_mapping_desc app = {
		.start = 0x400000, .limit = 0x500000, .offset = 0x1000,
		.filename = "/usr/bin/app", .build_id = "abc123",
		.has_functions = true, .has_filenames = true,
	};
	struct pprof_mapping_desc app_lines = app, anon = { .start = 0x7f0000000000,
							    .limit = 0x7f0000010000 };
	struct pprof_mapping_desc anon_empty = anon;
	char *filename_copy = strdup(app.filename);
	struct pprof_mapping_desc app_copy = app, app_inline = app;
	uint64_t id, m_app, m_lines, m_anon;
	int err;

	app_lines.limit = 0x600000;
	app_lines.has_line_numbers = true;
	anon_empty.filename = "";
	anon_empty.build_id = "";
	app_copy.filename = filename_copy;

	CHECK(pprof_builder_add_mapping(b, &app, &m_app) == 0 && m_app == 1, "app mapping: %llu", (unsigned long long)m_app);
	CHECK(pprof_builder_add_mapping(b, &app, &id) == 0 && id == 1, "app again: %llu", (unsigned long long)id);
	CHECK(pprof_builder_add_mapping(b, &app_lines, &m_lines) == 0 && m_lines == 2,
	      "another range, so a new mapping: %llu", (unsigned long long)m_lines);
	CHECK(pprof_builder_add_mapping(b, &app_copy, &id) == 0 && id == 1,
	      "same filename elsewhere in memory: %llu", (unsigned long long)id);
	free(filename_copy); /* the builder copied it */
	CHECK(pprof_builder_add_mapping(b, &anon, &m_anon) == 0 && m_anon == 3, "anon: %llu", (unsigned long long)m_anon);
	CHECK(pprof_builder_add_mapping(b, &anon_empty, &id) == 0 && id == 3,
	      "NULL and \"\" strings are the same: %llu", (unsigned long long)id);
	app.offset = 0x2000;
	CHECK(pprof_builder_add_mapping(b, &app, &id) == 0 && id == 4, "offset differs: %llu", (unsigned long long)id);
	app_inline.has_inline_frames = true;
	CHECK(pprof_builder_add_mapping(b, &app_inline, &id) == 0 && id == 1,
	      "flags are not part of a mapping's identity: %llu", (unsigned long long)id);

	struct pprof_line_desc main_line = { "main", NULL, "app.c", 10, 12 };
	struct pprof_line_desc a_line = { "a", "_Z1av", "app.c", 20, 22 };
	struct pprof_line_desc leaf = { "leaf_x", NULL, "app.c", 30, 31 };
	struct pprof_line_desc leaf_other = { "leaf_x", NULL, "app.c", 30, 32 };
	struct pprof_line_desc inlined[] = {
		{ "inner", NULL, "inl.h", 5, 6 },  /* innermost first */
		{ "a", "_Z1av", "app.c", 20, 25 }, /* function a again */
	};
	struct { uint64_t mapping, address; const struct pprof_line_desc *lines; size_t n; uint64_t want; } adds[] = {
		{ m_app, 0x401000, &main_line, 1, L_MAIN },
		{ m_app, 0x402000, &a_line, 1, L_A },
		{ m_app, 0x403000, &leaf, 1, L_LEAF },
		{ m_app, 0x403000, &leaf, 1, L_LEAF },
		{ m_app, 0x403000, &leaf_other, 1, L_LEAF_OTHER_LINE },
		{ m_app, 0x404000, inlined, 2, L_INLINED },
		{ m_app, 0x404000, inlined, 2, L_INLINED },
		{ m_anon, 0x7f0000001234, NULL, 0, L_UNNAMED },
		{ m_anon, 0x7f0000001234, NULL, 0, L_UNNAMED },
		{ 0, 0x401000, &main_line, 1, L_NO_MAPPING },
		{ m_lines, 0x401000, &main_line, 1, L_OTHER_MAPPING },
		{ m_app, 0x404000, inlined, 1, L_INNER_ONLY }, /* a prefix of L_INLINED */
		{ m_app, 0x402000, &a_line, 1, L_A },
	};
	for (size_t i = 0; i < N(adds); i++) {
		id = 0;
		err = pprof_builder_add_location(b, adds[i].mapping, adds[i].address,
						 adds[i].lines, adds[i].n, &id);
		CHECK(err == 0 && id == adds[i].want, "location add %zu: err %d id %llu, want %llu",
		      i, err, (unsigned long long)id, (unsigned long long)adds[i].want);
	}

	struct { uint64_t ids[4]; size_t n; int64_t v[2]; } samples[] = {
		{ { L_LEAF, L_A, L_MAIN }, 3, { 1, 10000000 } },
		{ { L_LEAF_OTHER_LINE, L_A, L_MAIN }, 3, { 2, 20000000 } },
		{ { L_LEAF, L_A, L_MAIN }, 3, { 3, 30000000 } }, /* merges into the first */
		{ { L_INLINED, L_MAIN }, 2, { 1, 7 } },
		{ { L_UNNAMED }, 1, { 1, 1 } },
		{ { L_MAIN, L_A, L_LEAF }, 3, { 5, 5 } }, /* reversed: another stack */
		{ { 0 }, 0, { 1, 2 } },                   /* an empty stack is a stack */
		{ { L_INLINED, L_MAIN }, 2, { 1, 7 } },
		{ { 0 }, 0, { 1, 2 } },
	};
	for (size_t i = 0; i < N(samples); i++) {
		err = pprof_builder_add_sample(b, samples[i].ids, samples[i].n, samples[i].v);
		CHECK(err == 0, "sample add %zu: %s", i, strerror(-err));
	}
	CHECK(pprof_builder_sample_count(b) == 6, "%zu distinct samples, want 6",
	      pprof_builder_sample_count(b));
}

static void check_structure(const Profile *p)
{
	check_invariants(p);

	CHECK(p->n_sample_type == 2 &&
	      strcmp(str(p, p->sample_type[0]->type), "samples") == 0 &&
	      strcmp(str(p, p->sample_type[0]->unit), "count") == 0 &&
	      strcmp(str(p, p->sample_type[1]->type), "cpu") == 0 &&
	      strcmp(str(p, p->sample_type[1]->unit), "nanoseconds") == 0,
	      "sample types wrong");
	CHECK(p->period_type && strcmp(str(p, p->period_type->type), "cpu") == 0 &&
	      strcmp(str(p, p->period_type->unit), "nanoseconds") == 0,
	      "period type wrong");
	CHECK(p->period == 10000000, "period %lld", (long long)p->period);
	CHECK(p->time_nanos == 1700000000123456789LL, "time_nanos %lld", (long long)p->time_nanos);
	CHECK(p->duration_nanos == 15000000000LL, "duration_nanos %lld", (long long)p->duration_nanos);
	CHECK(p->n_comment == 0 && p->drop_frames == 0 && p->keep_frames == 0 &&
	      p->default_sample_type == 0, "fields we never set are set");

	CHECK(p->n_mapping == 4, "%zu mappings, want 4", p->n_mapping);
	if (p->n_mapping == 4) {
		const Mapping *app = p->mapping[0], *lines = p->mapping[1],
			      *anon = p->mapping[2], *moved = p->mapping[3];

		CHECK(app->memory_start == 0x400000 && app->memory_limit == 0x500000 &&
		      app->file_offset == 0x1000, "app mapping range");
		CHECK(strcmp(str(p, app->filename), "/usr/bin/app") == 0 &&
		      strcmp(str(p, app->build_id), "abc123") == 0, "app mapping names");
		CHECK(app->has_functions && app->has_filenames && !app->has_line_numbers &&
		      !app->has_inline_frames, "app mapping flags: true only where every add said so");
		CHECK(lines->has_line_numbers && lines->has_functions && lines->filename == app->filename &&
		      lines->memory_limit == 0x600000, "second mapping flags, range or filename");
		CHECK(anon->filename == 0 && anon->build_id == 0 && !anon->has_functions,
		      "anonymous mapping has names or flags");
		CHECK(moved->file_offset == 0x2000, "fourth mapping offset");
	}

	/* main, a, leaf_x, inner: leaf_x's two lines and a's inlined call
	 * reuse their functions. */
	CHECK(p->n_function == 4, "%zu functions, want 4", p->n_function);
	check_function(p, 1, "main", "main", "app.c", 10);
	check_function(p, 2, "a", "_Z1av", "app.c", 20);
	check_function(p, 3, "leaf_x", "leaf_x", "app.c", 30);
	check_function(p, 4, "inner", "inner", "inl.h", 5);

	CHECK(p->n_location == N_LOCATIONS, "%zu locations, want %d", p->n_location, N_LOCATIONS);
	if (p->n_location == N_LOCATIONS) {
		const Location *leaf = p->location[L_LEAF - 1];
		const Location *other = p->location[L_LEAF_OTHER_LINE - 1];
		const Location *inl = p->location[L_INLINED - 1];
		const Location *unnamed = p->location[L_UNNAMED - 1];

		CHECK(leaf->mapping_id == 1 && leaf->address == 0x403000 && leaf->n_line == 1 &&
		      leaf->line[0]->function_id == 3 && leaf->line[0]->line == 31, "leaf location");
		CHECK(other->address == 0x403000 && other->n_line == 1 &&
		      other->line[0]->function_id == 3 && other->line[0]->line == 32,
		      "leaf location, other line");
		CHECK(inl->n_line == 2, "inlined location has %zu lines", inl->n_line);
		if (inl->n_line == 2)
			CHECK(inl->line[0]->function_id == 4 && inl->line[0]->line == 6 &&
			      inl->line[1]->function_id == 2 && inl->line[1]->line == 25,
			      "inlined lines out of order: (%llu:%lld, %llu:%lld)",
			      (unsigned long long)inl->line[0]->function_id, (long long)inl->line[0]->line,
			      (unsigned long long)inl->line[1]->function_id, (long long)inl->line[1]->line);
		CHECK(unnamed->mapping_id == 3 && unnamed->address == 0x7f0000001234 &&
		      unnamed->n_line == 0, "unnamed location");
		CHECK(p->location[L_NO_MAPPING - 1]->mapping_id == 0, "location without mapping");
		CHECK(p->location[L_OTHER_MAPPING - 1]->mapping_id == 2, "location in mapping 2");
		const Location *inner = p->location[L_INNER_ONLY - 1];
		CHECK(inner->address == 0x404000 && inner->n_line == 1 &&
		      inner->line[0]->function_id == 4, "location of the inlined line alone");
	}

	CHECK(p->n_sample == 6, "%zu samples, want 6", p->n_sample);
	check_sample(p, 0, (uint64_t[]){ L_LEAF, L_A, L_MAIN }, 3, 4, 40000000);
	check_sample(p, 1, (uint64_t[]){ L_LEAF_OTHER_LINE, L_A, L_MAIN }, 3, 2, 20000000);
	check_sample(p, 2, (uint64_t[]){ L_INLINED, L_MAIN }, 2, 2, 14);
	check_sample(p, 3, (uint64_t[]){ L_UNNAMED }, 1, 1, 1);
	check_sample(p, 4, (uint64_t[]){ L_MAIN, L_A, L_LEAF }, 3, 5, 5);
	check_sample(p, 5, NULL, 0, 2, 4);
}

static void test_structure(void)
{
	struct pprof_builder *b = new_builder();
	Profile *p;

	if (!b)
		return;
	add_structure(b);
	p = roundtrip(b);
	if (p) {
		check_structure(p);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* Encoding does not consume the builder: the same bytes twice, and more
 * samples can follow. */
/* One unnamed frame in a mapping makes has_functions false for the whole
 * mapping: that is what tells a server to name its frames. */
static void test_mapping_flags_conjunction(void)
{
	struct pprof_builder *b = new_builder();
	struct pprof_mapping_desc named = {
		.start = 0x1000, .limit = 0x2000, .filename = "/lib/x.so",
		.has_functions = true, .has_filenames = true, .has_line_numbers = true,
	};
	struct pprof_mapping_desc unnamed = named;
	uint64_t id1 = 0, id2 = 0;
	Profile *p;

	unnamed.has_functions = false;
	CHECK(pprof_builder_add_mapping(b, &named, &id1) == 0 && id1 == 1, "first add");
	CHECK(pprof_builder_add_mapping(b, &unnamed, &id2) == 0 && id2 == 1, "same mapping");
	CHECK(pprof_builder_add_mapping(b, &named, &id2) == 0 && id2 == 1, "same mapping again");
	p = roundtrip(b);
	CHECK(p && p->n_mapping == 1, "one mapping");
	if (p && p->n_mapping == 1)
		CHECK(!p->mapping[0]->has_functions && p->mapping[0]->has_filenames &&
		      p->mapping[0]->has_line_numbers, "has_functions must be false, the others true");
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(b);
}

/* The label set of a profile goes on every sample, as string labels. */
static void test_profile_labels(void)
{
	static const struct pprof_label labels[] = {
		{ "host", "ci-1" }, { "service_name", "svc" },
	};
	struct pprof_builder_opts o = opts;
	struct pprof_builder *b;
	uint64_t loc = 0;
	int64_t v[2] = { 1, 10 };
	Profile *p;

	o.labels = labels;
	o.n_labels = 2;
	b = pprof_builder_new(&o);
	CHECK(b != NULL, "builder with labels");
	if (!b)
		return;
	CHECK(pprof_builder_add_location(b, 0, 0x10, NULL, 0, &loc) == 0, "location");
	CHECK(pprof_builder_add_sample(b, &loc, 1, v) == 0, "sample");
	CHECK(pprof_builder_add_sample(b, NULL, 0, v) == 0, "empty stack");
	p = roundtrip(b);
	CHECK(p && p->n_sample == 2, "two samples");
	for (size_t i = 0; p && i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		CHECK(s->n_label == 2, "sample %zu has %zu labels", i, s->n_label);
		for (size_t j = 0; j < s->n_label && j < 2; j++)
			CHECK(strcmp(str(p, s->label[j]->key), labels[j].key) == 0 &&
			      strcmp(str(p, s->label[j]->str), labels[j].value) == 0 &&
			      s->label[j]->num == 0, "sample %zu label %zu", i, j);
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(b);

	o.labels = NULL; /* labels promised, none given */
	CHECK(pprof_builder_new(&o) == NULL, "n_labels without labels accepted");
}

/* Sample i's labels are want[0..n), key then value, in that order. */
static void check_labels(const Profile *p, size_t i,
			 const struct pprof_label *want, size_t n)
{
	const Sample *s;

	CHECK(i < p->n_sample, "no sample %zu", i);
	if (i >= p->n_sample)
		return;
	s = p->sample[i];
	CHECK(s->n_label == n, "sample %zu has %zu labels, want %zu", i, s->n_label, n);
	for (size_t j = 0; j < n && j < s->n_label; j++)
		CHECK(strcmp(str(p, s->label[j]->key), want[j].key) == 0 &&
		      strcmp(str(p, s->label[j]->str), want[j].value) == 0 &&
		      s->label[j]->num == 0 && s->label[j]->num_unit == 0,
		      "sample %zu label %zu is %s=%s, want %s=%s", i, j,
		      str(p, s->label[j]->key), str(p, s->label[j]->str),
		      want[j].key, want[j].value);
}

/* Encodes b; NULL (after a failed check) on failure. */
static uint8_t *encode(struct pprof_builder *b, size_t *len)
{
	uint8_t *out = NULL;
	int err = pprof_builder_encode(b, &out, len);

	CHECK(err == 0, "encode: %s", strerror(-err));
	return err ? NULL : out;
}

/* A builder with the default opts and one profile label, with two
 * locations added: ids 1 and 2, so that {1, 2} is a stack. */
static const struct pprof_label svc = { "service_name", "svc" };

static struct pprof_builder *new_labeled_builder(void)
{
	struct pprof_builder_opts o = opts;
	struct pprof_builder *b;
	struct pprof_line_desc leaf = { .function_name = "leaf" };
	struct pprof_line_desc root = { .function_name = "root" };
	uint64_t id1 = 0, id2 = 0;

	o.labels = &svc;
	o.n_labels = 1;
	b = pprof_builder_new(&o);
	CHECK(b != NULL, "pprof_builder_new: %s", strerror(errno));
	if (!b)
		return NULL;
	CHECK(pprof_builder_add_location(b, 0, 0x10, &leaf, 1, &id1) == 0 && id1 == 1 &&
	      pprof_builder_add_location(b, 0, 0x20, &root, 1, &id2) == 0 && id2 == 2,
	      "locations");
	return b;
}

static const uint64_t stack[] = { 1, 2 };

/* The off-CPU case: one stack in three states is three samples, each with
 * the profile's label and then its state; a state seen twice merges. */
static void test_sample_labels_split(void)
{
	static const struct pprof_label sleep = { "state", "sleep" },
					io = { "state", "io" },
					runqueue = { "state", "runqueue" };
	struct pprof_builder *b = new_labeled_builder();
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 1, 10 }, &sleep, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 2, 20 }, &io, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 3, 30 }, &runqueue, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 4, 40 }, &sleep, 1) == 0,
	      "labeled samples");
	CHECK(pprof_builder_sample_count(b) == 3, "%zu samples, want 3",
	      pprof_builder_sample_count(b));
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		CHECK(p->n_sample == 3, "%zu samples, want 3", p->n_sample);
		check_sample(p, 0, stack, 2, 5, 50);
		check_labels(p, 0, (struct pprof_label[]){ svc, sleep }, 2);
		check_sample(p, 1, stack, 2, 2, 20);
		check_labels(p, 1, (struct pprof_label[]){ svc, io }, 2);
		check_sample(p, 2, stack, 2, 3, 30);
		check_labels(p, 2, (struct pprof_label[]){ svc, runqueue }, 2);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* Samples merge on equal labels, compared by value (the strings are
 * copies), and only on the same keys and values in the same order. */
static void test_sample_labels_merge(void)
{
	const struct pprof_label io_a[] = { { "state", "io" }, { "cgroup", "/a" } };
	const struct pprof_label a_io[] = { { "cgroup", "/a" }, { "state", "io" } };
	const struct pprof_label reason_io = { "reason", "io" };
	const struct pprof_label same = { "x", "x" }; /* one new string, twice */
	char key[] = "state", value[] = "io";
	struct pprof_label copied[] = { { key, value }, { "cgroup", "/a" } };
	struct pprof_builder *b = new_labeled_builder();
	Profile *p;
	int err;

	if (!b)
		return;
	err = pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 1, 10 }, io_a, 2);
	CHECK(err == 0, "first: %s", strerror(-err));
	err = pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 2, 20 }, copied, 2);
	CHECK(err == 0, "same labels, other pointers: %s", strerror(-err));
	strcpy(key, "XXXXX"); /* the builder kept copies, not our buffers */
	strcpy(value, "XX");
	err = pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 4, 40 }, io_a, 2);
	CHECK(err == 0, "third: %s", strerror(-err));
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 8, 80 }, a_io, 2) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 16, 160 }, io_a, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 32, 320 }, &reason_io, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 64, 640 }, &same, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 1, (int64_t[]){ 128, 1280 }, io_a, 2) == 0 &&
	      pprof_builder_add_sample_labeled(b, NULL, 0, (int64_t[]){ 256, 2560 }, io_a, 2) == 0 &&
	      pprof_builder_add_sample_labeled(b, NULL, 0, (int64_t[]){ 512, 5120 }, io_a, 2) == 0,
	      "other labels");
	CHECK(pprof_builder_sample_count(b) == 7, "%zu samples, want 7",
	      pprof_builder_sample_count(b));
	p = roundtrip(b);
	if (p) {
		check_invariants(p); /* "x" is in the table once */
		CHECK(p->n_sample == 7, "%zu samples, want 7", p->n_sample);
		check_sample(p, 0, stack, 2, 7, 70);
		check_labels(p, 0, (struct pprof_label[]){ svc, io_a[0], io_a[1] }, 3);
		check_sample(p, 1, stack, 2, 8, 80);
		check_labels(p, 1, (struct pprof_label[]){ svc, a_io[0], a_io[1] }, 3);
		check_sample(p, 2, stack, 2, 16, 160);
		check_labels(p, 2, (struct pprof_label[]){ svc, io_a[0] }, 2);
		check_sample(p, 3, stack, 2, 32, 320);
		check_labels(p, 3, (struct pprof_label[]){ svc, reason_io }, 2);
		check_sample(p, 4, stack, 2, 64, 640);
		check_labels(p, 4, (struct pprof_label[]){ svc, same }, 2);
		check_sample(p, 5, stack, 1, 128, 1280);
		check_labels(p, 5, (struct pprof_label[]){ svc, io_a[0], io_a[1] }, 3);
		check_sample(p, 6, NULL, 0, 768, 7680);
		check_labels(p, 6, (struct pprof_label[]){ svc, io_a[0], io_a[1] }, 3);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* A sample without labels of its own is not one with some, whichever call
 * adds it: add_sample_labeled with no labels is add_sample. */
static void test_sample_labels_unlabeled_apart(void)
{
	static const struct pprof_label sleep = { "state", "sleep" };
	struct pprof_builder *b = new_labeled_builder();
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_add_sample(b, stack, 2, (int64_t[]){ 1, 10 }) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 2, 20 }, &sleep, 1) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 4, 40 }, NULL, 0) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 8, 80 }, &sleep, 0) == 0 &&
	      pprof_builder_add_sample(b, stack, 2, (int64_t[]){ 16, 160 }) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, (int64_t[]){ 32, 320 }, &sleep, 1) == 0,
	      "samples");
	CHECK(pprof_builder_sample_count(b) == 2, "%zu samples, want 2",
	      pprof_builder_sample_count(b));
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		CHECK(p->n_sample == 2, "%zu samples, want 2", p->n_sample);
		check_sample(p, 0, stack, 2, 29, 290);
		check_labels(p, 0, &svc, 1);
		check_sample(p, 1, stack, 2, 34, 340);
		check_labels(p, 1, (struct pprof_label[]){ svc, sleep }, 2);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* A rejected labeled sample leaves the profile as it was, to the byte: not
 * even the strings of its other labels are added. */
static void test_sample_labels_errors(void)
{
	static const struct pprof_label sleep = { "state", "sleep" };
	const struct pprof_label no_key[] = { { "new_key", "new_value" }, { NULL, "io" } };
	const struct pprof_label no_value[] = { { "new_key", "new_value" }, { "state", NULL } };
	struct pprof_builder *b = new_labeled_builder();
	int64_t v[2] = { 1, 10 }, huge[2] = { 1, INT64_MAX };
	uint64_t unknown[] = { 1, 3 };
	uint8_t *before, *after;
	size_t before_len = 0, after_len = 0;
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_add_sample(b, stack, 2, v) == 0 &&
	      pprof_builder_add_sample_labeled(b, stack, 2, v, &sleep, 1) == 0, "samples");
	before = encode(b, &before_len);
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, v, no_key, 2) == -EINVAL,
	      "a NULL key");
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, v, no_value, 2) == -EINVAL,
	      "a NULL value");
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, v, NULL, 1) == -EINVAL,
	      "n_labels without labels");
	CHECK(pprof_builder_add_sample_labeled(b, unknown, 2, v, &sleep, 1) == -EINVAL,
	      "an unknown location");
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, NULL, &sleep, 1) == -EINVAL,
	      "NULL values");
	CHECK(pprof_builder_add_sample_labeled(NULL, stack, 2, v, &sleep, 1) == -EINVAL,
	      "NULL builder");
	CHECK(pprof_builder_add_sample_labeled(b, stack, 2, huge, &sleep, 1) == -EOVERFLOW,
	      "an overflowing merge");
	CHECK(pprof_builder_sample_count(b) == 2, "rejected samples counted: %zu",
	      pprof_builder_sample_count(b));
	after = encode(b, &after_len);
	CHECK(before && after && before_len == after_len &&
	      memcmp(before, after, before_len) == 0,
	      "rejected calls changed the profile");
	free(before);
	free(after);
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		for (size_t i = 0; i < p->n_string_table; i++)
			CHECK(strncmp(p->string_table[i], "new_", 4) != 0,
			      "a rejected label's string '%s' was kept", p->string_table[i]);
		check_sample(p, 0, stack, 2, 1, 10);
		check_labels(p, 0, &svc, 1);
		check_sample(p, 1, stack, 2, 1, 10);
		check_labels(p, 1, (struct pprof_label[]){ svc, sleep }, 2);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* Enough labeled samples to grow the string table, the samples and their
 * labels many times while labels are staged. */
static void test_sample_labels_scale(void)
{
	enum { N_VALUES = 3000 };
	struct pprof_builder *b = new_labeled_builder();
	int err = 0;
	Profile *p;

	if (!b)
		return;
	for (size_t round = 0; round < 2 && !err; round++) {
		for (size_t i = 0; i < N_VALUES && !err; i++) {
			char value[32];
			struct pprof_label l[] = { { "state", "sleep" }, { "pid", value } };

			snprintf(value, sizeof(value), "%zu", i);
			err = pprof_builder_add_sample_labeled(b, stack, 1 + i % 2,
							       (int64_t[]){ 1, (int64_t)i }, l, 2);
			CHECK(!err, "round %zu sample %zu: %s", round, i, strerror(-err));
		}
	}
	CHECK(pprof_builder_sample_count(b) == N_VALUES, "%zu samples, want %d",
	      pprof_builder_sample_count(b), N_VALUES);
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		for (size_t i = 0; i < p->n_sample && i < N_VALUES; i++) {
			const Sample *s = p->sample[i];
			char value[32];

			snprintf(value, sizeof(value), "%zu", i);
			if (s->n_location_id != 1 + i % 2 || s->value[0] != 2 ||
			    s->value[1] != 2 * (int64_t)i || s->n_label != 3 ||
			    strcmp(str(p, s->label[2]->str), value) != 0) {
				CHECK(false, "sample %zu: %zu frames, values %lld %lld, %zu labels",
				      i, s->n_location_id, (long long)s->value[0],
				      (long long)s->value[1], s->n_label);
				break;
			}
		}
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

static void test_encode_again(void)
{
	struct pprof_builder *b = new_builder();
	struct pprof_line_desc line = { .function_name = "main" };
	uint8_t *one = NULL, *two = NULL;
	size_t one_len = 0, two_len = 0;
	int64_t v[2] = { 1, 10 };
	uint64_t loc = 0;
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_add_location(b, 0, 0x10, &line, 1, &loc) == 0, "location");
	CHECK(pprof_builder_add_sample(b, &loc, 1, v) == 0, "sample");
	CHECK(pprof_builder_encode(b, &one, &one_len) == 0 &&
	      pprof_builder_encode(b, &two, &two_len) == 0, "encode twice");
	CHECK(one && two && one_len == two_len && memcmp(one, two, one_len) == 0,
	      "two encodes of one builder differ");
	free(one);
	free(two);
	CHECK(pprof_builder_add_sample(b, &loc, 1, v) == 0, "sample after encode");
	p = roundtrip(b);
	if (p) {
		CHECK(p->n_sample == 1 && p->sample[0]->value[0] == 2 &&
		      p->sample[0]->value[1] == 20, "sample after encode not merged");
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

static void test_errors(void)
{
	struct pprof_builder *b = new_builder();
	struct pprof_line_desc lines[] = { { .function_name = "ok" }, { .function_name = NULL } };
	struct pprof_mapping_desc m = { .start = 1 };
	int64_t v[2] = { 1, 1 }, huge[2] = { 1, INT64_MAX };
	uint64_t id = 0, bad[] = { 1, 2 }, zero = 0, one = 1;
	uint8_t *out;
	size_t len;
	Profile *p;

	if (!b)
		return;
	pprof_builder_free(NULL);
	CHECK(pprof_builder_sample_count(NULL) == 0, "count of NULL");
	CHECK(pprof_builder_add_mapping(NULL, &m, &id) == -EINVAL, "mapping, NULL builder");
	CHECK(pprof_builder_add_mapping(b, NULL, &id) == -EINVAL, "NULL mapping");
	CHECK(pprof_builder_add_mapping(b, &m, NULL) == -EINVAL, "mapping, NULL id");
	CHECK(pprof_builder_add_location(b, 1, 0x10, lines, 1, &id) == -EINVAL,
	      "location in a mapping not added yet");
	CHECK(pprof_builder_add_location(b, 0, 0x10, NULL, 1, &id) == -EINVAL, "NULL lines");
	CHECK(pprof_builder_add_location(b, 0, 0x10, lines, 2, &id) == -EINVAL,
	      "line without a function name");
	CHECK(pprof_builder_add_location(b, 0, 0x10, lines, 1, NULL) == -EINVAL, "location, NULL id");
	CHECK(pprof_builder_add_location(NULL, 0, 0x10, lines, 1, &id) == -EINVAL,
	      "location, NULL builder");
	CHECK(pprof_builder_add_sample(b, &zero, 1, v) == -EINVAL, "location id 0");
	CHECK(pprof_builder_add_sample(b, &one, 1, v) == -EINVAL, "unknown location id");
	CHECK(pprof_builder_add_location(b, 0, 0x10, lines, 1, &id) == 0 && id == 1,
	      "first good location: %llu", (unsigned long long)id);
	CHECK(pprof_builder_add_sample(b, bad, 2, v) == -EINVAL, "stack with an unknown id");
	CHECK(pprof_builder_add_sample(b, NULL, 1, v) == -EINVAL, "NULL stack");
	CHECK(pprof_builder_add_sample(b, &one, 1, NULL) == -EINVAL, "NULL values");
	CHECK(pprof_builder_add_sample(NULL, &one, 1, v) == -EINVAL, "sample, NULL builder");
	CHECK(pprof_builder_sample_count(b) == 0, "a rejected sample was counted");
	CHECK(pprof_builder_encode(b, NULL, &len) == -EINVAL &&
	      pprof_builder_encode(b, &out, NULL) == -EINVAL &&
	      pprof_builder_encode(NULL, &out, &len) == -EINVAL, "encode arguments");

	/* A merge that would overflow is refused whole. */
	CHECK(pprof_builder_add_sample(b, &one, 1, v) == 0, "sample");
	CHECK(pprof_builder_add_sample(b, &one, 1, huge) == -EOVERFLOW, "overflow not refused");

	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		/* The rejected location with two lines added nothing, not even "ok". */
		CHECK(p->n_function == 1 && p->n_location == 1 && p->n_mapping == 0,
		      "rejected calls left %zu functions, %zu locations, %zu mappings",
		      p->n_function, p->n_location, p->n_mapping);
		CHECK(p->n_sample == 1 && p->sample[0]->value[0] == 1 &&
		      p->sample[0]->value[1] == 1, "overflowing merge changed the sample");
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

/* Enough of everything to grow every table many times. */
static void test_scale(void)
{
	enum { LOCS = 5000, STACKS = 10000 };
	struct pprof_builder *b = new_builder();
	struct pprof_mapping_desc m = { .start = 0x1000, .limit = 0x100000, .filename = "/bin/big" };
	uint64_t map_id = 0, id;
	int err = 0;
	Profile *p;

	if (!b)
		return;
	CHECK(pprof_builder_add_mapping(b, &m, &map_id) == 0, "mapping");
	for (size_t i = 0; i < LOCS && !err; i++) {
		char name[32];
		struct pprof_line_desc line = { .function_name = name, .line = (int64_t)i };

		snprintf(name, sizeof(name), "f%zu", i % (LOCS / 2)); /* two lines a function */
		err = pprof_builder_add_location(b, map_id, 0x1000 + i, &line, 1, &id);
		CHECK(!err && id == i + 1, "location %zu: err %d id %llu", i, err,
		      (unsigned long long)id);
	}
	/* Each stack twice: the second merges. */
	for (size_t round = 0; round < 2; round++) {
		for (size_t i = 0; i < STACKS && !err; i++) {
			uint64_t stack[] = { i % LOCS + 1, i / LOCS + 1, 3, 4 };
			int64_t v[2] = { 1, (int64_t)i };

			err = pprof_builder_add_sample(b, stack, N(stack), v);
			CHECK(!err, "sample %zu: %s", i, strerror(-err));
		}
	}
	CHECK(pprof_builder_sample_count(b) == STACKS, "%zu samples, want %d",
	      pprof_builder_sample_count(b), STACKS);
	p = roundtrip(b);
	if (p) {
		check_invariants(p);
		CHECK(p->n_function == LOCS / 2 && p->n_location == LOCS && p->n_sample == STACKS,
		      "%zu functions, %zu locations, %zu samples", p->n_function,
		      p->n_location, p->n_sample);
		/* "", 4 type strings, "/bin/big", function names */
		CHECK(p->n_string_table == 1 + 4 + 1 + LOCS / 2, "%zu strings", p->n_string_table);
		for (size_t i = 0; i < p->n_sample && i < STACKS; i++) {
			const Sample *s = p->sample[i];

			if (s->location_id[0] != i % LOCS + 1 || s->location_id[1] != i / LOCS + 1 ||
			    s->value[0] != 2 || s->value[1] != 2 * (int64_t)i) {
				CHECK(false, "sample %zu: stack starts %llu %llu, values %lld %lld",
				      i, (unsigned long long)s->location_id[0],
				      (unsigned long long)s->location_id[1],
				      (long long)s->value[0], (long long)s->value[1]);
				break;
			}
		}
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	pprof_builder_free(b);
}

int main(void)
{
	test_opts();
	test_empty_profile();
	test_structure();
	test_mapping_flags_conjunction();
	test_profile_labels();
	test_sample_labels_split();
	test_sample_labels_merge();
	test_sample_labels_unlabeled_apart();
	test_sample_labels_errors();
	test_sample_labels_scale();
	test_encode_again();
	test_errors();
	test_scale();
	return check_report("test_pprof");
}
