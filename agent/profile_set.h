/* The profiles of one interval: one pprof builder per label set. For now a
 * label set is just service_name; discovery will add more labels.
 */
#ifndef SMOLDER_PROFILE_SET_H
#define SMOLDER_PROFILE_SET_H

#include <stddef.h>
#include <stdint.h>

#include "pprof.h"

struct profile_set;

struct profile_set *profile_set_new(int64_t start_ns, int64_t end_ns,
				    unsigned int sample_rate);
void profile_set_free(struct profile_set *s);

/* Period of one sample, in nanoseconds: a sample's value is hits * this. */
int64_t profile_set_period(const struct profile_set *s);

/* The builder for service_name's label set, created on first use. */
int profile_set_builder(struct profile_set *s, const char *service_name,
			struct pprof_builder **b);

size_t profile_set_count(const struct profile_set *s);

struct profile_entry {
	const char *service_name;
	uint32_t labels_hash; /* tells label sets of one service apart */
	struct pprof_builder *builder;
};
void profile_set_entry(const struct profile_set *s, size_t i,
		       struct profile_entry *e);

int64_t profile_set_start_ns(const struct profile_set *s);
int64_t profile_set_end_ns(const struct profile_set *s);

#endif
