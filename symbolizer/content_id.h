/* A file's content id: the SHA-256 of its bytes (its holes, where the
 * file system says it has some, as their place and length), as lowercase
 * hex: the sha256sum of any file without holes. What
 * the symbol cache and the unwind loader share between two files, with
 * the build-id: a build-id is only what a file says of itself (any
 * process can write any note), its digest is what it is. Computed by the
 * parser worker for the files it reads (and by sym_cache.c's local path),
 * over the whole file as read through the descriptor, streamed.
 * Internal to symbolizer/. */
#ifndef SMOLDER_CONTENT_ID_H
#define SMOLDER_CONTENT_ID_H

#include <stdbool.h>
#include <stdint.h>

/* Hex digits of a content id; its buffer holds one more, the '\0'. */
#define SYM_CONTENT_ID_LEN 64

/* Sets up the digest (OpenSSL's provider and method) while files may still
 * be opened: the parser worker calls it before its confinement, after
 * which OpenSSL could not read its configuration. Cheap to call again. */
int sym_content_id_init(void);

/* The content id of the regular file open at fd (its offset is restored
 * after the seeks for holes) into hex ("" on failure). -EFBIG for a file over
 * SYM_CONTENT_HASH_MAX (refusals.h), not read; -EIO when the file changed
 * size while it was read; -ENOMEM, or the read's -errno. */
int sym_content_id_fd(int fd, char hex[SYM_CONTENT_ID_LEN + 1]);

/* Is s a content id: exactly SYM_CONTENT_ID_LEN lowercase hex digits? */
bool sym_content_id_valid(const char *s);

#endif
