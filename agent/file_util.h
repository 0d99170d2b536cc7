/* The two file chores local output and the spool share: making a
 * directory with its parents, and writing a whole buffer. */
#ifndef SMOLDER_FILE_UTIL_H
#define SMOLDER_FILE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p: every directory it makes is made mode (the agent's are 0700:
 * its profiles are for root, and whoever root lets in); an existing one is
 * fine, and left as it is. Negative errno. */
int file_mkdir_p(const char *path, mode_t mode);

/* Writes all of data, through short writes and EINTR. Negative errno. */
int file_write_all(int fd, const uint8_t *data, size_t len);

#endif
