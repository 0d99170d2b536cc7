/* Local output: each interval's profiles as files,
 * <dir>/<service_name>/<start-unix>-<end-unix>[-<labels hash>].pb.gz.
 */
#ifndef SMOLDER_OUTPUT_H
#define SMOLDER_OUTPUT_H

#include <stddef.h>

#include "profile_set.h"

/* Makes a service name one safe path component: '/' becomes '_', and "",
 * "." and ".." are prefixed with '_'. Returns -ENAMETOOLONG if it won't fit. */
int output_escape_component(const char *name, char *out, size_t len);

struct output_result {
	size_t written;
	size_t failed;
	int first_error; /* negative errno of the first failure */
	char failed_path[4200];
};

/* Writes every profile of set under dir (created if missing). Each file
 * appears whole or not at all (written aside, then renamed). */
void output_write_set(const char *dir, const struct profile_set *set,
		      struct output_result *res);

#endif
