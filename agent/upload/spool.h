/* The spool: profiles the server could not take yet, one file each in a
 * directory of the agent's own, sent oldest first when it can, also by an
 * agent restarted later.
 *
 * A file is <seq>.spool (20 decimal digits: names sort in delivery order)
 * holding "SMOLDSP1" and a zstd frame, with its checksum, of a
 * smolder.spool.v1.Record (proto/spool.proto). Files appear whole or not
 * at all (written aside, then renamed). The spool is bounded in bytes and
 * in age: past either bound the oldest files go first, and are counted; a
 * file that cannot be read back is removed and counted, never fatal.
 *
 * Thread-safe: the run loop puts profiles here when the uploader is
 * behind, the uploader takes them out.
 */
#ifndef SMOLDER_SPOOL_H
#define SMOLDER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "upload_profile.h"

struct spool;

struct spool_opts {
	size_t sz;
	const char *dir;       /* created (0700) if missing */
	uint64_t max_bytes;    /* 0: no bound */
	uint64_t max_age_ms;   /* by the profile's end; 0: no bound */
};

struct spool_stats {
	uint64_t files, bytes;  /* now */
	uint64_t dropped_full;  /* oldest removed to stay within max_bytes */
	uint64_t dropped_age;   /* removed for being older than max_age_ms */
	uint64_t corrupt;       /* files that could not be read back */
	uint64_t write_errors;
};

/* Opens the spool and lists what a previous run left in it (stray
 * temporary files are removed). NULL with errno set on failure. */
struct spool *spool_new(const struct spool_opts *opts);
void spool_free(struct spool *s);

/* Writes p (whose seq names the file). Then removes the oldest files
 * while over max_bytes. A profile larger than max_bytes alone is not
 * written, but dropped and counted (dropped_full), and 0 returned. */
int spool_put(struct spool *s, const struct upload_profile *p);

/* The seq of the oldest file, or UINT64_MAX when the spool is empty. */
uint64_t spool_oldest_seq(struct spool *s);
/* The seq after the newest file (0 when empty): a restarted agent numbers
 * its profiles from there, so they queue behind what was spooled. */
uint64_t spool_next_seq(struct spool *s);

/* Reads the oldest profile into *out (malloc'd, with its seq), first
 * removing (and counting) files past max_age_ms or not spool records.
 * -ENOENT when nothing is left; another negative errno (out of
 * descriptors, EIO) leaves the file for a later try. The file stays until
 * spool_remove. */
int spool_read_oldest(struct spool *s, struct upload_profile **out);
/* Removes the file of seq, if it is still there. */
void spool_remove(struct spool *s, uint64_t seq);

void spool_get_stats(struct spool *s, struct spool_stats *st);

/* The record format alone, for the fuzz target and the tests: encode a
 * profile into a file's bytes, and decode a file's bytes. Decoding checks
 * the magic, the frame's checksum, the message and its fields (an ID of 36
 * characters, labels with a service_name, a non-empty profile): -EBADMSG
 * if any is wrong. */
int spool_record_encode(const struct upload_profile *p, uint8_t **out, size_t *len);
int spool_record_decode(const uint8_t *data, size_t len, struct upload_profile **out);

#endif
