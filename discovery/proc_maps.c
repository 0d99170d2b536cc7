/* discovery: /proc/PID/maps, parsed into a process's sorted mappings.
 *
 * agent/ places each sampled user address in one of these mappings (binary
 * search) and hands the mapping's file to symbolizer/. The text is
 * untrusted (a path is whatever a process named its file), so every field
 * is read within the bounds of its line and must fit its type; a line that
 * does not have the kernel's shape fails the whole parse.
 *
 * All mappings and their paths live in one allocation: a process has
 * hundreds of mappings, and thousands of processes are known at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* Parses one line, without its newline, into *m, except for the path, whose
 * place in the line is returned (*path_len 0: anonymous). The kernel writes
 * "start-end perms offset major:minor inode", then spaces up to a column,
 * then the path running to the end of the line. */
static int parse_line(const char *p, const char *end, struct disc_mapping *m,
		      const char **path, size_t *path_len)
{
	uint64_t major, minor;

	if (disc_text_number(&p, end, 16, UINT64_MAX, &m->start) ||
	    disc_text_char(&p, end, '-') ||
	    disc_text_number(&p, end, 16, UINT64_MAX, &m->end) ||
	    disc_text_char(&p, end, ' '))
		return -EINVAL;
	if (end - p < 4 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's'))
		return -EINVAL;
	memcpy(m->perms, p, 4);
	m->perms[4] = '\0';
	p += 4;
	if (disc_text_char(&p, end, ' ') ||
	    disc_text_number(&p, end, 16, UINT64_MAX, &m->offset) ||
	    disc_text_char(&p, end, ' ') ||
	    disc_text_number(&p, end, 16, UINT32_MAX, &major) ||
	    disc_text_char(&p, end, ':') ||
	    disc_text_number(&p, end, 16, UINT32_MAX, &minor) ||
	    disc_text_char(&p, end, ' ') ||
	    disc_text_number(&p, end, 10, UINT64_MAX, &m->inode))
		return -EINVAL;
	m->dev_major = (uint32_t)major;
	m->dev_minor = (uint32_t)minor;
	if (m->start >= m->end)
		return -EINVAL;
	/* Anonymous mappings end at the inode, or (older kernels) one space
	 * after it. A path never begins with a space: it is absolute, or a
	 * pseudo-path such as "[vdso]". */
	if (p < end && disc_text_char(&p, end, ' '))
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	*path = p;
	*path_len = (size_t)(end - p);
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct disc_mapping *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Calls parse_line on each line; with v NULL only counts the lines and the
 * bytes their paths need, else also fills v and copies the paths to strings. */
static int parse_lines(const char *text, size_t len, struct disc_mapping *v,
		       char *strings, size_t *n, size_t *strings_len)
{
	const char *p = text, *end = text + len;
	struct disc_mapping scratch;

	*n = 0;
	*strings_len = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct disc_mapping *m = v ? &v[*n] : &scratch;
		const char *path;
		size_t path_len;

		memset(m, 0, sizeof(*m));
		if (parse_line(p, eol, m, &path, &path_len))
			return -EINVAL;
		if (path_len) {
			if (strings) {
				m->path = strings + *strings_len;
				memcpy(m->path, path, path_len);
				m->path[path_len] = '\0';
			}
			*strings_len += path_len + 1;
		}
		(*n)++;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int disc_maps_parse(const char *text, size_t len, struct disc_mappings *out)
{
	size_t n, strings_len, vsize, total;
	struct disc_mapping *v;
	int err;

	out->v = NULL;
	out->n = 0;
	if (len == 0)
		return 0;
	/* A NUL would cut a path short without anyone noticing. */
	if (!text || memchr(text, '\0', len))
		return -EINVAL;
	err = parse_lines(text, len, NULL, NULL, &n, &strings_len);
	if (err)
		return err;
	if (n == 0)
		return 0;
	if (__builtin_mul_overflow(n, sizeof(*v), &vsize) ||
	    __builtin_add_overflow(vsize, strings_len, &total))
		return -ENOMEM;
	v = malloc(total);
	if (!v)
		return -ENOMEM;
	err = parse_lines(text, len, v, (char *)v + vsize, &n, &strings_len);
	if (err) { /* cannot happen: the same text parsed the first time */
		free(v);
		return err;
	}
	for (size_t i = 1; i < n; i++) {
		if (cmp_start(&v[i - 1], &v[i]) > 0) {
			qsort(v, n, sizeof(*v), cmp_start);
			break;
		}
	}
	out->v = v;
	out->n = n;
	return 0;
}

void disc_mappings_release(struct disc_mappings *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct disc_mapping *disc_mappings_find(const struct disc_mappings *m,
					      uint64_t addr)
{
	size_t lo = 0, hi;

	if (!m)
		return NULL;
	/* lo ends as the number of mappings starting at or below addr. */
	hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->v[lo - 1].end)
		return NULL;
	return &m->v[lo - 1];
}

int disc_maps_read_at(int dirfd, struct disc_mappings *out)
{
	char *text;
	size_t len;
	int err;

	out->v = NULL;
	out->n = 0;
	err = disc_proc_file_read(dirfd, "maps", &text, &len);
	if (err)
		return err;
	err = disc_maps_parse(text, len, out);
	free(text);
	return err;
}

int disc_maps_read(const char *proc_root, int pid, struct disc_mappings *out)
{
	int dirfd, err;

	out->v = NULL;
	out->n = 0;
	dirfd = disc_proc_dir_open(proc_root, pid);
	if (dirfd < 0)
		return dirfd;
	err = disc_maps_read_at(dirfd, out);
	close(dirfd);
	return err;
}
