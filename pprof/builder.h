/* The inside of a pprof builder, shared by builder.c, which fills it, and
 * encode.c, which turns it into a profile.proto message. Not for users of
 * pprof.h.
 *
 * The tables hold what the message will: strings are string-table indices
 * and ids are table index + 1, as pprof numbers them, so encoding is a walk
 * with no lookups.
 */
#ifndef SMOLDER_PPROF_BUILDER_H
#define SMOLDER_PPROF_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "intern.h"
#include "pool.h"
#include "pprof.h"

/* All strings are indices into the string table. */
struct pprof_value_type_ref {
	int64_t type, unit;
};

struct pprof_label_ref {
	int64_t key, value; /* string ids */
};

struct pprof_function {
	int64_t name, system_name, filename;
	int64_t start_line;
};

struct pprof_mapping {
	uint64_t start, limit, offset;
	int64_t filename, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct pprof_location {
	uint64_t mapping_id; /* 0: none */
	uint64_t address;
	size_t first_line, n_lines; /* in pprof_builder.lines */
};

/* Its values are pprof_builder.values[index * n_values ...]. Its labels are
 * its own, which follow the profile's (pprof_builder.labels) when encoded. */
struct pprof_sample {
	size_t first_location, n_locations; /* in pprof_builder.stacks */
	size_t first_label, n_labels;       /* in pprof_builder.sample_labels */
};

struct pprof_builder {
	struct intern strings;   /* char *, owned; 0 is "" */
	struct intern functions; /* struct pprof_function */
	struct intern mappings;  /* struct pprof_mapping */
	struct intern locations; /* struct pprof_location */
	struct intern samples;   /* struct pprof_sample */
	struct pool lines;       /* struct pprof_line, a run per location */
	struct pool stacks;      /* uint64_t location ids, a run per sample */
	struct pool values;      /* int64_t, n_values per sample */
	struct pool sample_labels; /* struct pprof_label_ref, a run per sample */

	size_t n_values; /* values per sample */
	struct pprof_value_type_ref *sample_types; /* n_values of them */
	struct pprof_value_type_ref period_type;
	int64_t period, time_nanos, duration_nanos;
	struct pprof_label_ref *labels; /* the profile's, on every sample */
	size_t n_labels;
};

#endif
