/* One profile on its way to the server: what the uploader queues, retries
 * and spools, and what the request encoders (upload_request.h) turn into a
 * push or an /ingest request. The same profile keeps its ID on every retry
 * and across a restart, so the server can drop copies it has taken. */
#ifndef SMOLDER_UPLOAD_PROFILE_H
#define SMOLDER_UPLOAD_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "series_labels.h"

#define UPLOAD_ID_LEN 36 /* a UUID: 8-4-4-4-12 hex digits */

struct upload_profile {
	uint64_t seq;             /* delivery order, set by the uploader */
	char id[UPLOAD_ID_LEN + 1];
	int64_t start_ns, end_ns; /* the interval, Unix ns */
	uint32_t sample_rate;     /* Hz */
	struct series_labels labels;
	uint8_t *pprof_gz;        /* the profile, gzipped */
	size_t pprof_len;
};

/* A new profile with a fresh random (version 4) UUID, taking labels and
 * the malloc'd pprof_gz (both released by upload_profile_free, also on
 * failure). NULL if out of memory. */
struct upload_profile *upload_profile_new(int64_t start_ns, int64_t end_ns,
					  uint32_t sample_rate, struct series_labels *labels,
					  uint8_t *pprof_gz, size_t pprof_len);
void upload_profile_free(struct upload_profile *p);

/* Memory the profile holds, near enough for the queue's bound. */
size_t upload_profile_bytes(const struct upload_profile *p);

/* Writes a version 4 UUID into out (UPLOAD_ID_LEN + 1 bytes). */
void upload_uuid_v4(char *out);

#endif
