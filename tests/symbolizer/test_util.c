/* The symbolizer tests' helpers (see test_util.h). */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

void test_check_name(const char *file, int line, const char *cond, int err,
		     const char *name, const char *want)
{
	if (!err && name && !strcmp(name, want))
		return;
	check_fail(file, line, cond, ": wanted name %s, got err %d name %s", want, err,
		   err ? "-" : name ? name : "(null)");
}

const char *test_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !v[0]) {
		fprintf(stderr, "%s is not set (run through meson test)\n", name);
		exit(1);
	}
	return v;
}

uint64_t test_nm_addr(const char *nm_file, const char *sym)
{
	char line[512], name[256], type;
	uint64_t addr, found = 0;
	FILE *f = fopen(nm_file, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) == 3 &&
		    !strcmp(name, sym))
			found = addr;
	fclose(f);
	return found;
}

int test_readelf_build_id(const char *notes_file, char *out, size_t len)
{
	char line[512];
	int err = -ENOENT;
	FILE *f = fopen(notes_file, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "Build ID: ");

		if (p && sscanf(p + 10, "%127s", out) == 1 && strlen(out) < len) {
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static char tmpdir[64];
static struct test_proc *procs[16];

static void cleanup(void)
{
	char cmd[128];

	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i])
			test_kill(procs[i]);
	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

const char *test_tmpdir(void)
{
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/smolder-symtest.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
		atexit(cleanup);
	}
	return tmpdir;
}

int test_mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

int test_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

int test_copy_prefix(const char *src, const char *dst, size_t len)
{
	char *buf = malloc(len ? len : 1);
	FILE *f = fopen(src, "rb");
	int err = -EIO;

	if (f && buf && fread(buf, 1, len, f) == len)
		err = test_write_file(dst, buf, len);
	if (f)
		fclose(f);
	free(buf);
	return err;
}

int test_find_mapping(int pid, uint64_t addr, struct test_mapping *m)
{
	char path[64], line[PATH_MAX + 128];
	unsigned int major, minor;
	int err = -ENOENT, pos;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &m->start, &m->end, &m->offset, &major, &minor, &m->inode, &pos) < 6 ||
		    addr < m->start || addr >= m->end)
			continue;
		m->dev = makedev(major, minor);
		snprintf(m->path, sizeof(m->path), "%s", pos ? line + pos : "");
		m->path[strcspn(m->path, "\n")] = '\0';
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

int test_spawn(const char *path, struct test_proc *p)
{
	char line[256];
	int fds[2];
	FILE *out;

	memset(p, 0, sizeof(*p));
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (!p->pid) {
		dup2(fds[1], STDOUT_FILENO);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (!procs[i]) {
			procs[i] = p;
			break;
		}
	out = fdopen(fds[0], "r");
	while (out && fgets(line, sizeof(line), out) && strcmp(line, "ready\n")) {
		if (p->n < TEST_PROC_MAX &&
		    sscanf(line, "%63s %" SCNx64, p->names[p->n], &p->addrs[p->n]) == 2)
			p->n++;
	}
	if (out)
		fclose(out);
	return p->n ? 0 : -EIO;
}

uint64_t test_proc_addr(const struct test_proc *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return p->addrs[i];
	return 0;
}

void test_kill(struct test_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i] == p)
			procs[i] = NULL;
}
