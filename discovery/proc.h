/* discovery internals: reading the files of one process's /proc directory.
 *
 * Every file of a process is read through one directory fd opened on
 * <proc_root>/<pid>. The kernel ties that fd to the process it was opened
 * for: once the process is gone, opening a file under it fails, even if the
 * pid has been given to another process since. So stat, exe, maps, cgroup
 * and cmdline read through the same fd always describe the same process.
 */
#ifndef SMOLDER_DISC_PROC_H
#define SMOLDER_DISC_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "disc.h"

/* A /proc file larger than this is refused (-EFBIG) rather than read whole
 * (maps, which may run to tens of megabytes, is read in pieces instead). */
#define DISC_PROC_FILE_MAX (64u << 20)

/* Opens <proc_root>/<pid> (proc_root NULL: /proc) as a directory fd, or
 * returns -errno (-ENOENT when there is no such process). */
int disc_proc_dir_open(const char *proc_root, int pid);

/* Reads the whole file name under dirfd into *buf (malloc'd, NUL-terminated,
 * *len bytes before the NUL). */
int disc_proc_file_read(int dirfd, const char *name, char **buf, size_t *len);

/* Reads a number in base 10 or 16 at *pos (at least one digit, no sign, no
 * prefix) and moves *pos past it; -EINVAL when there is none or it exceeds
 * max. */
int disc_text_number(const char **pos, const char *end, unsigned int base,
		     uint64_t max, uint64_t *out);
/* Moves *pos past the character c, or returns -EINVAL if it is not there. */
int disc_text_char(const char **pos, const char *end, char c);

int disc_stat_read_at(int dirfd, struct disc_stat *out);
int disc_status_read_nspid_at(int dirfd, int *nspid);
int disc_maps_read_at(int dirfd, struct disc_mappings *out);
int disc_cgroup_read_at(int dirfd, struct disc_cgroup *out);
int disc_cmdline_read_at(int dirfd, char **out);

#endif
