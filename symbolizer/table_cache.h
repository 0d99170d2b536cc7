/* The unwind table cache on disk (--cache-dir): the tables the parser
 * worker built, kept across restarts as DIR/unwind/<content id>.zst, so
 * that a restarted agent does not build them again (a large binary's takes
 * hundreds of milliseconds of the worker). Written by the agent when a
 * table it did not have arrives; read when a peek's content id names a
 * file here, and the worker is then asked not to build it
 * (sym_cache_worker.c). The content id is the SHA-256 of the file's bytes,
 * computed by the worker: a file can make no other file's entry its own.
 *
 * A file: struct sym_table_file_header, then one zstd frame of the rows
 * (struct smolder_unwind_row[], sorted by pc). Everything read is checked
 * (the directory is a host path, but its bytes are taken for untrusted):
 * magic, version, row size, content id, row count under the cap, the
 * frame's size exactly rows * 16, rows sorted. A file that fails is
 * removed and counted. Internal to symbolizer/; sym.h offers new/free. */
#ifndef SMOLDER_SYM_TABLE_CACHE_H
#define SMOLDER_SYM_TABLE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "content_id.h"
#include "sym.h"

#define SYM_TABLE_FILE_MAGIC "SMOLDUT"
#define SYM_TABLE_FILE_VERSION 1
/* As many rows as one worker reply may carry (SYM_WIRE_MAX_BYTES). */
#define SYM_TABLE_FILE_ROWS_MAX ((64u << 20) / 16u)

/* 104 bytes, no padding; host byte order (x86_64: the walk's only one). */
struct sym_table_file_header {
	char magic[8];           /* SYM_TABLE_FILE_MAGIC, NUL-padded */
	uint32_t version;        /* SYM_TABLE_FILE_VERSION */
	uint32_t row_size;       /* sizeof(struct smolder_unwind_row) */
	char content_id[SYM_CONTENT_ID_LEN]; /* hex, no NUL */
	uint64_t rows;
	uint64_t unsupported_rows;
	uint64_t skipped_fdes;
};

/* t as a cache file of content_id: *buf malloc'd, *len its size.
 * -EINVAL: content_id not valid, or t over the cap; -ENOMEM; -EIO. */
int sym_table_file_encode(const char *content_id, const struct sym_unwind_table *t,
			  void **buf, size_t *len);
/* The table of a cache file's bytes, if they are one of content_id with
 * at most max_rows rows (0: SYM_TABLE_FILE_ROWS_MAX): *t filled in (rows
 * malloc'd). -EBADMSG: they are not; -ENOMEM. */
int sym_table_file_decode(const void *buf, size_t len, const char *content_id,
			  size_t max_rows, struct sym_unwind_table *t);

/* The table of content_id, when the cache holds it (the file's time is
 * touched: the most recently used is evicted last). -ENOENT: not held;
 * -EBADMSG: held but refused, and removed. */
int sym_table_cache_read(struct sym_table_cache *tc, const char *content_id,
			 struct sym_unwind_table *t);
/* Keeps t as content_id's table (atomically: a temporary file renamed),
 * evicting the least recently used files to stay within max_bytes. */
int sym_table_cache_write(struct sym_table_cache *tc, const char *content_id,
			  const struct sym_unwind_table *t);

#endif
