/* sym_open_regular: what a process or a container can plant where a file is
 * expected (a FIFO, a device node, a directory, a symlink to one) is refused
 * with -ENOEXEC and never opened. "Never opened" is watched with inotify:
 * an open of the node itself, even with O_NONBLOCK, reports IN_OPEN; the
 * O_PATH look at it does not. Device nodes need mknod (root, as the tests
 * run). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "root_open.h"
#include "test_util.h"

static const char *dir;

static void path_of(char *buf, const char *name)
{
	CHECK(snprintf(buf, PATH_MAX, "%s/%s", dir, name) < PATH_MAX, "%s: too long", name);
}

/* The IN_OPEN events on path while fn runs on it: 0 when it was never
 * opened. */
static int opens_during(const char *path, int (*fn)(const char *))
{
	struct pollfd p = { .events = POLLIN };
	char ev[4096];
	int n = 0;
	ssize_t len;

	p.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	CHECK(p.fd >= 0, "inotify_init1: %s", strerror(errno));
	CHECK(inotify_add_watch(p.fd, path, IN_OPEN) >= 0, "watch %s: %s", path,
	      strerror(errno));
	fn(path);
	while (poll(&p, 1, 0) > 0 && (len = read(p.fd, ev, sizeof(ev))) > 0)
		for (char *e = ev; e < ev + len;
		     e += sizeof(struct inotify_event) + ((struct inotify_event *)e)->len)
			n += !!(((struct inotify_event *)e)->mask & IN_OPEN);
	close(p.fd);
	return n;
}

static int open_regular(const char *path)
{
	struct stat st;
	int fd = sym_open_regular(AT_FDCWD, path, 0, &st);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* What the code did before: a plain non-blocking open, then fstat. */
static int open_then_stat(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void check_refused(const char *name, const char *what)
{
	char path[PATH_MAX];

	path_of(path, name);
	CHECK_INT(open_regular(path), -ENOEXEC);
	CHECK(opens_during(path, open_regular) == 0, "%s was opened", what);
}

int main(void)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct stat st, want;
	int fd, rootfd;

	dir = test_tmpdir();

	path_of(path, "file");
	CHECK(!test_write_file(path, "contents", 8), "write %s", path);
	fd = sym_open_regular(AT_FDCWD, path, 0, &st);
	CHECK(fd >= 0 && read(fd, link, 8) == 8 && !memcmp(link, "contents", 8),
	      "a regular file is opened and read: %d", fd);
	CHECK(!stat(path, &want) && st.st_ino == want.st_ino && st.st_size == 8,
	      "*st is the file's");
	if (fd >= 0)
		close(fd);

	path_of(path, "fifo");
	CHECK(!mkfifo(path, 0600), "mkfifo %s: %s", path, strerror(errno));
	/* The watch sees a plain open (else the checks below prove nothing). */
	CHECK(opens_during(path, open_then_stat) == 1, "inotify missed a plain open");
	check_refused("fifo", "the FIFO");

	path_of(path, "null");
	CHECK(!mknod(path, S_IFCHR | 0600, makedev(1, 3)), "mknod %s (root?): %s", path,
	      strerror(errno));
	check_refused("null", "the char device");

	path_of(path, "loop");
	CHECK(!mknod(path, S_IFBLK | 0600, makedev(7, 0)), "mknod %s: %s", path,
	      strerror(errno));
	check_refused("loop", "the block device");

	path_of(path, "subdir");
	CHECK(!mkdir(path, 0700), "mkdir %s", path);
	CHECK_INT(open_regular(path), -ENOEXEC);

	/* A symlink is followed to what it names, and judged by that. */
	path_of(path, "to-fifo");
	path_of(link, "fifo");
	CHECK(!symlink(link, path), "symlink %s", path);
	check_refused("to-fifo", "the FIFO through a symlink");

	/* In a root: the absolute symlink /to-fifo -> <dir>/fifo resolves
	 * inside dir, where there is no <dir>; /fifo is refused. */
	rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(rootfd >= 0, "open %s", dir);
	CHECK_INT(sym_open_regular(rootfd, "/to-fifo", RESOLVE_IN_ROOT, &st), -ENOENT);
	CHECK_INT(sym_open_regular(rootfd, "/fifo", RESOLVE_IN_ROOT, &st), -ENOEXEC);
	fd = sym_open_regular(rootfd, "/file", RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, &st);
	CHECK(fd >= 0 && st.st_size == 8, "/file in the root: %d", fd);
	if (fd >= 0)
		close(fd);
	close(rootfd);

	CHECK_INT(open_regular("/nonexistent/smolder"), -ENOENT);
	return check_report("sym_root_open");
}
