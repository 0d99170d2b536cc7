/* The two file chores local output and the spool share: making a
 * directory with its parents, and writing a whole buffer. */
#ifndef SMOLDER_FILE_UTIL_H
#define SMOLDER_FILE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p: parents 0755, the last directory leaf_mode; an existing one
 * is fine. Negative errno. */
int file_mkdir_p(const char *path, mode_t leaf_mode);

/* Writes all of data, through short writes and EINTR. Negative errno. */
int file_write_all(int fd, const uint8_t *data, size_t len);

#endif
