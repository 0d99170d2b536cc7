/* pprof: builds one gzipped pprof Profile (profile.proto) from samples.
 *
 * Sits at the end of the data flow: agent/ has counted and named the stacks
 * of one label set for one interval; this module deduplicates strings,
 * functions, locations and mappings, merges identical samples (same stack,
 * same labels of their own), and encodes the result with protobuf-c and
 * gzip. It knows nothing of BPF or processes.
 *
 * Errors are negative errno values; nothing here prints.
 */
#ifndef SMOLDER_PPROF_H
#define SMOLDER_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pprof_builder;

struct pprof_value_type {
	const char *type; /* e.g. "cpu" */
	const char *unit; /* e.g. "nanoseconds" */
};

struct pprof_label {
	const char *key;
	const char *value;
};

struct pprof_builder_opts {
	size_t sz; /* sizeof(struct pprof_builder_opts), as libbpf's opts */
	const struct pprof_value_type *sample_types;
	size_t n_sample_types; /* every sample carries this many values */
	struct pprof_value_type period_type;
	int64_t period;
	int64_t time_nanos;     /* interval start, Unix ns */
	int64_t duration_nanos; /* interval length */
	/* String labels every sample carries: the label set a profile is
	 * for, so a file read on its own still says whose it is. Copied. */
	const struct pprof_label *labels;
	size_t n_labels;
};

/* One pprof Mapping. Strings are copied. */
struct pprof_mapping_desc {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	const char *filename; /* may be NULL or "" */
	const char *build_id; /* hex; may be NULL or "" */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

/* One pprof Line of a Location; a Location with inlined calls has several,
 * innermost first. Strings are copied. */
struct pprof_line_desc {
	const char *function_name; /* required */
	const char *system_name;   /* NULL: same as function_name */
	const char *filename;      /* may be NULL */
	int64_t start_line;
	int64_t line;
};

/* NULL on failure, errno EINVAL (no sample types, a type without a name, a
 * bad sz) or ENOMEM. */
struct pprof_builder *pprof_builder_new(const struct pprof_builder_opts *opts);
void pprof_builder_free(struct pprof_builder *b);

/* Adds a mapping, or finds the one already added with the same range,
 * offset, file and build-id. Ids start at 1. The has_* flags describe every
 * location of the mapping, so they end up true only if every add said so:
 * add the mapping once per location, with the flags true of that location. */
int pprof_builder_add_mapping(struct pprof_builder *b,
			      const struct pprof_mapping_desc *m,
			      uint64_t *id);

/* Adds a location, or finds the one already added for (mapping_id, address,
 * lines). mapping_id 0 means none. n_lines 0 leaves the address unnamed. */
int pprof_builder_add_location(struct pprof_builder *b, uint64_t mapping_id,
			       uint64_t address,
			       const struct pprof_line_desc *lines,
			       size_t n_lines, uint64_t *id);

/* Adds values (n_sample_types of them) to the sample whose stack is
 * location_ids[0..n) (leaf first); identical stacks are merged by adding
 * their values. -EINVAL for an id no add_location returned; -EOVERFLOW, with
 * nothing added, if a merged value would overflow. */
int pprof_builder_add_sample(struct pprof_builder *b,
			     const uint64_t *location_ids, size_t n,
			     const int64_t *values);

/* As pprof_builder_add_sample, with string labels of this sample alone
 * (encoded after the profile's own labels): samples merge only when their
 * stacks and these labels (same keys and values, same order) are equal.
 * Strings are copied. -EINVAL for a label without key or value. */
int pprof_builder_add_sample_labeled(struct pprof_builder *b,
				     const uint64_t *location_ids, size_t n,
				     const int64_t *values,
				     const struct pprof_label *labels,
				     size_t n_labels);

/* Number of distinct samples so far. */
size_t pprof_builder_sample_count(const struct pprof_builder *b);

/* Encodes the profile and gzips it. *out is malloc'ed; the caller frees it.
 * The builder can still be used (and encoded again) afterwards. */
int pprof_builder_encode(struct pprof_builder *b, uint8_t **out,
			 size_t *out_len);

#endif
