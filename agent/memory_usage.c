/* Reading resident and BPF map memory (see memory_usage.h). */
#include "memory_usage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first bytes of a small /proc file, NUL-terminated. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int memory_anon_resident(int pid, uint64_t *bytes)
{
	unsigned long long size, resident, shared;
	long page = sysconf(_SC_PAGESIZE);
	char path[64], buf[256];
	int err;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/statm");
	err = read_small(path, buf, sizeof(buf));
	if (err)
		return err;
	if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3 || page <= 0)
		return -EIO;
	/* A process that has just exited reads all zeros. */
	*bytes = resident > shared ? (uint64_t)(resident - shared) * (uint64_t)page : 0;
	return 0;
}

int memory_bpf_map_bytes(int fd, uint64_t *bytes)
{
	unsigned long long memlock;
	char path[64], buf[1024];
	const char *line;
	int err;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	err = read_small(path, buf, sizeof(buf));
	if (err)
		return err;
	line = strstr(buf, "\nmemlock:");
	if (!line || sscanf(line, "\nmemlock: %llu", &memlock) != 1)
		return -ENOENT; /* not a BPF map */
	*bytes = memlock;
	return 0;
}
