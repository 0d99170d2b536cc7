/* Opening a file inside a process's root, for the files a process names by
 * path (a JIT's /tmp/perf-PID.map), whose contents are the process's to set.
 *
 * /proc/PID/root/PATH looks like the way, but the kernel resolves what
 * follows the magic link with the host as "/": a container that makes
 * /tmp/perf-1.map a symlink to /etc/shadow, or to the host's own perf map
 * of another process, would have us read the host's file. openat2's
 * RESOLVE_IN_ROOT resolves every absolute symlink and ".." as if the
 * process's root were "/" (like chroot), and RESOLVE_NO_MAGICLINKS refuses
 * /proc/self/fd/N-style links, which jump anywhere. glibc 2.36 has no
 * wrapper, so it is called through syscall(2).
 */
#include "root_open.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* O_NOCTTY: a tty planted at the path must not become ours. */
#define BASE_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
/* openat2 gives EAGAIN when a rename or mount raced with a RESOLVE_IN_ROOT
 * lookup (it cannot then vouch for the result); the next try usually
 * succeeds, and a root under constant churn is not worth more. */
#define EAGAIN_TRIES 8
#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

int sym_root_dirfd(const char *proc_root, int pid)
{
	char path[PATH_MAX];
	int n, fd;

	if (pid <= 0)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%d/root", proc_root ? proc_root : "/proc", pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* Following the magic link here is the point: it is the root. */
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* openat2 with exactly these flags (it refuses O_PATH with any but a few)
 * and resolve flags. */
static int openat2_retrying(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {
		.flags = flags,
		.resolve = resolve,
	};

	for (int i = 0; i < EAGAIN_TRIES; i++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

static int openat_in_root(int rootfd, const char *path, uint64_t flags)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	return openat2_retrying(rootfd, path, flags, IN_ROOT);
}

int sym_root_openat(int rootfd, const char *path, int flags)
{
	return openat_in_root(rootfd, path, (uint64_t)(BASE_FLAGS | flags));
}

int sym_root_open(const char *proc_root, int pid, const char *path, int flags)
{
	int rootfd, fd;

	if (!path || path[0] != '/' || pid < 0)
		return -EINVAL;
	if (pid == 0) {
		fd = open(path, BASE_FLAGS | flags);
		return fd < 0 ? -errno : fd;
	}
	rootfd = sym_root_dirfd(proc_root, pid);
	if (rootfd < 0)
		return rootfd;
	fd = sym_root_openat(rootfd, path, flags);
	close(rootfd);
	return fd;
}

/* An O_PATH fd on path: the file itself is not opened (no device's open
 * routine runs, no FIFO waits for a writer). Without resolve flags, plain
 * openat, which needs no openat2 (a seccomp filter may hide it). */
static int open_path(int dirfd, const char *path, uint64_t resolve)
{
	int fd;

	if (resolve)
		return openat2_retrying(dirfd, path, O_PATH | O_CLOEXEC, resolve);
	fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The type is checked before the file is really opened: opening a device
 * node a container planted there (a tape rewinds, a modem hangs up) acts
 * even if nothing is read. The O_PATH fd is then opened for reading
 * through /proc/self/fd, which reopens that inode, whatever the path names
 * by now; the dev/ino check makes that an invariant we test rather than
 * one we trust. */
int sym_open_regular(int dirfd, const char *path, uint64_t resolve, struct stat *st)
{
	struct stat opened;
	char self[64];
	int pathfd, fd;

	if (!path || !st)
		return -EINVAL;
	pathfd = open_path(dirfd, path, resolve);
	if (pathfd < 0)
		return pathfd;
	if (fstat(pathfd, st)) {
		fd = -errno;
	} else if (!S_ISREG(st->st_mode)) {
		fd = -ENOEXEC;
	} else {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", pathfd);
		fd = open(self, BASE_FLAGS);
		if (fd < 0)
			fd = -errno;
	}
	close(pathfd);
	if (fd < 0)
		return fd;
	if (fstat(fd, &opened) || opened.st_dev != st->st_dev || opened.st_ino != st->st_ino) {
		close(fd);
		return -ESTALE;
	}
	*st = opened;
	return fd;
}

int sym_root_open_file(const char *proc_root, int pid, const char *path,
		       struct stat *st)
{
	int rootfd, fd;

	if (!path || path[0] != '/' || pid < 0)
		return -EINVAL;
	if (pid == 0)
		return sym_open_regular(AT_FDCWD, path, 0, st);
	rootfd = sym_root_dirfd(proc_root, pid);
	if (rootfd < 0)
		return rootfd;
	fd = sym_open_regular(rootfd, path, IN_ROOT, st);
	close(rootfd);
	return fd;
}
