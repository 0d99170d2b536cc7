/* discovery: opening a process's /proc directory and reading one of its files
 * whole.
 *
 * /proc files report a size of 0 and are produced as they are read, so the
 * only way to get all of one is to read until end of file into a buffer
 * that grows; maps files of large processes run to megabytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "proc.h"

int disc_proc_dir_open(const char *proc_root, int pid)
{
	char path[PATH_MAX];
	int n, fd;

	if (pid <= 0)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%d", proc_root ? proc_root : "/proc", pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int disc_proc_file_read(int dirfd, const char *name, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b;
	int fd, err;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	b = malloc(cap);
	if (!b) {
		err = -ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t r;

		if (cap - n < 2) { /* one byte stays free for the NUL */
			char *nb = realloc(b, cap * 2);

			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > DISC_PROC_FILE_MAX) {
			err = -EFBIG;
			goto fail;
		}
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	close(fd);
	free(b);
	return err;
}
