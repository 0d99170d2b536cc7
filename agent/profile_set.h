/* The profiles of one interval: one pprof builder per profile type and
 * label set (the labels discovery's target rules gave the process:
 * service_name first).
 */
#ifndef SMOLDER_PROFILE_SET_H
#define SMOLDER_PROFILE_SET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "disc.h"
#include "pprof.h"

struct profile_set;

struct profile_set *profile_set_new(int64_t start_ns, int64_t end_ns,
				    unsigned int sample_rate);
void profile_set_free(struct profile_set *s);

/* Period of one sample, in nanoseconds: a sample's value is hits * this. */
int64_t profile_set_period(const struct profile_set *s);
unsigned int profile_set_sample_rate(const struct profile_set *s);
/* The period of memory profiles: --memory-sample-bytes. */
void profile_set_set_memory_period(struct profile_set *s, int64_t bytes);

/* The builder of this type for this label set (which must hold
 * service_name), created on first use; the labels are copied. Its sample
 * types are Pyroscope's for the type: cpu/nanoseconds; offcpu/nanoseconds
 * (as Grafana Alloy's pyroscope.ebpf sends off-CPU profiles);
 * contentions/count and delay/nanoseconds (Go's and Pyroscope's mutex
 * profiles); alloc_objects/count, alloc_space/bytes, inuse_objects/count
 * and inuse_space/bytes, period space/bytes (Go's heap profile, which is
 * Pyroscope's memory type). */
int profile_set_builder(struct profile_set *s, enum profile_type type,
			const struct disc_labels *labels, struct pprof_builder **b);

size_t profile_set_count(const struct profile_set *s);

struct profile_entry {
	enum profile_type type;
	const char *service_name;
	const struct disc_labels *labels;
	uint32_t labels_hash; /* tells label sets of one service apart */
	struct pprof_builder *builder;
};
void profile_set_entry(const struct profile_set *s, size_t i,
		       struct profile_entry *e);

int64_t profile_set_start_ns(const struct profile_set *s);
int64_t profile_set_end_ns(const struct profile_set *s);

#endif
