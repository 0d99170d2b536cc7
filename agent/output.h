/* Local output: each interval's profiles as files,
 * <dir>/<service_name>/<start-unix>-<end-unix>[-<labels hash>].pb.gz.
 * Interval ends fall on whole seconds; the first start and a last partial
 * end are rounded outwards (down and up) so names never run backwards.
 */
#ifndef SMOLDER_OUTPUT_H
#define SMOLDER_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "profile_set.h"

/* Makes a service name one safe path component: '/' becomes '_', and "",
 * "." and ".." are prefixed with '_'. Returns -ENAMETOOLONG if it won't fit. */
int output_escape_component(const char *name, char *out, size_t len);

/* The whole seconds that name the interval [start_ns, end_ns). */
void output_interval_seconds(int64_t start_ns, int64_t end_ns, int64_t *start_s,
			     int64_t *end_s);

struct output_result {
	size_t written;
	uint64_t bytes;  /* of the files written */
	size_t failed;
	int first_error; /* negative errno of the first failure */
	char failed_path[4200];
};

/* Writes every profile of set under dir (created if missing). Each file
 * appears whole or not at all (written aside, then renamed). */
void output_write_set(const char *dir, const struct profile_set *set,
		      struct output_result *res);

#endif
