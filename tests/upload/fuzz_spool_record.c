/* libFuzzer target for the spool's record format: a spool file is read back
 * after a crash, a full disk or another version of the agent, so any bytes
 * under a valid name go through spool_record_decode, which must refuse them
 * cleanly (-EBADMSG), never crash, leak or read out of bounds. What it does
 * accept must be a profile the uploader can send as it is: its fields are
 * checked against spool.h's promises, and it must encode and decode again
 * to the same.
 *
 * An input starting with the magic is a whole file. Any other input is
 * taken as the record's protobuf and framed here (magic, zstd frame with
 * its checksum) first: mutations of a whole file almost never get past the
 * checksum, and the message and its field checks deserve fuzzing too.
 * Built with -Dfuzz=true (CC=clang); seeds in corpus/spool/: records made
 * by spool_record_encode, cut and bit-flipped copies, and the plain
 * protobuf of a few (named plain-*). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "spool.h"

#define MAGIC "SMOLDSP1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size)
{
	struct upload_profile *p = NULL, *again = NULL;
	uint8_t *enc = NULL;
	size_t len = 0;
	int rc = spool_record_decode(data, size, &p);

	if (rc) {
		if (p || (rc != -EBADMSG && rc != -ENOMEM))
			abort();
		return;
	}
	/* Accepted: an ID of 36, a profile, service_name among sorted labels. */
	if (strlen(p->id) != UPLOAD_ID_LEN || !p->pprof_len || !p->labels.n ||
	    p->labels.n > SERIES_LABELS_MAX || !series_labels_get(&p->labels, "service_name") ||
	    p->end_ns < p->start_ns)
		abort();
	for (size_t i = 1; i < p->labels.n; i++)
		if (strcmp(p->labels.v[i - 1].name, p->labels.v[i].name) >= 0)
			abort();
	if (spool_record_encode(p, &enc, &len) == 0) {
		if (spool_record_decode(enc, len, &again) != 0 || strcmp(again->id, p->id) ||
		    again->pprof_len != p->pprof_len ||
		    memcmp(again->pprof_gz, p->pprof_gz, p->pprof_len) ||
		    again->labels.n != p->labels.n || again->start_ns != p->start_ns ||
		    again->end_ns != p->end_ns || again->sample_rate != p->sample_rate)
			abort();
	}
	free(enc);
	upload_profile_free(again);
	upload_profile_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bound, z;
	uint8_t *buf;
	ZSTD_CCtx *c;

	if (size >= 8 && memcmp(data, MAGIC, 8) == 0) {
		decode(data, size);
		return 0;
	}
	bound = ZSTD_compressBound(size);
	buf = malloc(8 + bound);
	c = ZSTD_createCCtx();
	if (buf && c) {
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
		z = ZSTD_compress2(c, buf + 8, bound, data, size);
		if (!ZSTD_isError(z)) {
			memcpy(buf, MAGIC, 8);
			decode(buf, 8 + z);
		}
	}
	ZSTD_freeCCtx(c);
	free(buf);
	return 0;
}
