/* discovery: /proc/PID/status, for the pid a process has in its own pid
 * namespace.
 *
 * A process in a container knows itself by the pid of its namespace, and
 * names files after it: a JIT writes /tmp/perf-<that pid>.map. The NSpid
 * line lists the pid in each namespace the process is in, outermost (the
 * one of the /proc read) first; the last is the process's own. The Name
 * line before it has its newlines escaped by the kernel, so no process can
 * forge a line of its own.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static const char nspid_key[] = "NSpid:";
#define NSPID_KEY_LEN (sizeof(nspid_key) - 1)

/* The NSpid line, key included, without its newline; -ENODATA when there
 * is none (kernels before 4.1), -EINVAL when there are two. */
static int find_nspid_line(const char *text, size_t len, const char **line,
			   const char **line_end)
{
	const char *p = text, *end = text + len;

	*line = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) >= NSPID_KEY_LEN && !memcmp(p, nspid_key, NSPID_KEY_LEN)) {
			if (*line)
				return -EINVAL;
			*line = p;
			*line_end = le;
		}
		p = nl ? nl + 1 : end;
	}
	return *line ? 0 : -ENODATA;
}

static bool is_blank(char c)
{
	return c == '\t' || c == ' ';
}

int disc_status_parse_nspid(const char *text, size_t len, int *nspid)
{
	const char *p, *end;
	uint64_t v, last = 0;
	int err;

	if (!text || !nspid)
		return -EINVAL;
	err = find_nspid_line(text, len, &p, &end);
	if (err)
		return err;
	p += NSPID_KEY_LEN;
	for (;;) {
		const char *field = p;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		/* Fields are separated: "NSpid:12" or "1 2x" are not the
		 * kernel's. */
		if (p == field)
			return -EINVAL;
		if (disc_text_number(&p, end, 10, INT_MAX, &v) || v == 0)
			return -EINVAL;
		last = v;
	}
	if (!last)
		return -EINVAL;
	*nspid = (int)last;
	return 0;
}

int disc_status_read_nspid_at(int dirfd, int *nspid)
{
	char *text;
	size_t len;
	int err;

	err = disc_proc_file_read(dirfd, "status", &text, &len);
	if (err)
		return err;
	err = disc_status_parse_nspid(text, len, nspid);
	free(text);
	return err;
}

int disc_status_read_nspid(const char *proc_root, int pid, int *nspid)
{
	int dirfd, err;

	dirfd = disc_proc_dir_open(proc_root, pid);
	if (dirfd < 0)
		return dirfd;
	err = disc_status_read_nspid_at(dirfd, nspid);
	close(dirfd);
	return err;
}
