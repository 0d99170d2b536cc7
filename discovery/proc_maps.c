/* discovery: /proc/PID/maps, parsed into a process's sorted mappings.
 *
 * agent/ places each sampled user address in one of these mappings (binary
 * search) and hands the mapping's file to symbolizer/. The text is
 * untrusted (a path is whatever a process named its file), so every field
 * is read within the bounds of its line and must fit its type; a line that
 * does not have the kernel's shape fails the whole parse.
 *
 * All mappings and their paths live in one allocation: a process has
 * hundreds of mappings, and thousands of processes are known at once. A
 * process may have 65530 of them (vm.max_map_count), each naming a path of
 * up to 4 KiB: what is kept of one is bounded (DISC_MAPS_BYTES_MAX), the
 * rest cut, and the file is read in pieces, never whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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

/* The mappings as their lines come, before they are packed into one block.
 * A path is kept once for a run of mappings of the same file (a library is
 * mapped four or five times in a row), as an offset into paths while they
 * grow; NO_PATH: anonymous. */
#define NO_PATH SIZE_MAX

struct maps_builder {
	struct disc_mapping *v;
	size_t *path_of;
	size_t n, cap;
	char *paths;
	size_t paths_len, paths_cap;
	size_t last_path, last_path_len;
	bool cut;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *np;

	while (c < need)
		c *= 2;
	if (c == *cap)
		return 0;
	np = realloc(*p, c * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = c;
	return 0;
}

static size_t builder_bytes(const struct maps_builder *b, size_t n, size_t paths_len)
{
	return n * sizeof(*b->v) + paths_len;
}

/* Adds the line [p, eol). 1: it did not fit within DISC_MAPS_BYTES_MAX
 * (b->cut is set, and nothing more is taken). */
static int builder_add(struct maps_builder *b, const char *p, const char *eol)
{
	struct disc_mapping m = { 0 };
	size_t path_len, path_at = NO_PATH, paths_len = b->paths_len;
	const char *path;
	size_t cap;

	if (b->cut)
		return 1;
	if (parse_line(p, eol, &m, &path, &path_len))
		return -EINVAL;
	if (path_len && b->last_path != NO_PATH && b->last_path_len == path_len &&
	    !memcmp(b->paths + b->last_path, path, path_len)) {
		path_at = b->last_path;
	} else if (path_len) {
		path_at = paths_len;
		paths_len += path_len + 1;
	}
	if (builder_bytes(b, b->n + 1, paths_len) > DISC_MAPS_BYTES_MAX) {
		b->cut = true;
		return 1;
	}
	cap = b->cap;
	if (grow((void **)&b->v, &cap, b->n + 1, sizeof(*b->v)) ||
	    grow((void **)&b->path_of, &b->cap, b->n + 1, sizeof(*b->path_of)) ||
	    grow((void **)&b->paths, &b->paths_cap, paths_len, 1))
		return -ENOMEM;
	if (path_at == b->paths_len) {
		memcpy(b->paths + path_at, path, path_len);
		b->paths[path_at + path_len] = '\0';
		b->paths_len = paths_len;
		b->last_path = path_at;
		b->last_path_len = path_len;
	}
	b->path_of[b->n] = path_at;
	b->v[b->n++] = m;
	return 0;
}

/* Adds every whole line of [*pos, end) and moves *pos past them; with
 * last, the rest (a last line without its newline) too. */
static int builder_add_lines(struct maps_builder *b, const char **pos, const char *end,
			     bool last)
{
	const char *p = *pos;
	int err = 0;

	/* A NUL would cut a path short without anyone noticing. */
	if (memchr(p, '\0', (size_t)(end - p)))
		return -EINVAL;
	while (p < end && !err) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl && !last)
			break;
		err = builder_add(b, p, nl ? nl : end);
		p = nl ? nl + 1 : end;
	}
	*pos = p;
	return err < 0 ? err : 0;
}

/* Packs the mappings and their paths into one allocation (see the top). */
static int builder_finish(struct maps_builder *b, struct disc_mappings *out)
{
	size_t vsize = b->n * sizeof(*b->v);
	struct disc_mapping *v;
	char *paths;

	if (b->n == 0) {
		out->cut = b->cut;
		return 0;
	}
	v = malloc(vsize + b->paths_len);
	if (!v)
		return -ENOMEM;
	paths = (char *)v + vsize;
	memcpy(v, b->v, vsize);
	if (b->paths_len)
		memcpy(paths, b->paths, b->paths_len);
	for (size_t i = 0; i < b->n; i++)
		v[i].path = b->path_of[i] == NO_PATH ? NULL : paths + b->path_of[i];
	for (size_t i = 1; i < b->n; i++) {
		if (cmp_start(&v[i - 1], &v[i]) > 0) {
			qsort(v, b->n, sizeof(*v), cmp_start);
			break;
		}
	}
	out->v = v;
	out->n = b->n;
	out->bytes = vsize + b->paths_len;
	out->cut = b->cut;
	return 0;
}

static void builder_release(struct maps_builder *b)
{
	free(b->v);
	free(b->path_of);
	free(b->paths);
}

static void mappings_init(struct disc_mappings *out)
{
	*out = (struct disc_mappings){ 0 };
}

int disc_maps_parse(const char *text, size_t len, struct disc_mappings *out)
{
	struct maps_builder b = { .last_path = NO_PATH };
	int err;

	mappings_init(out);
	if (len == 0)
		return 0;
	if (!text)
		return -EINVAL;
	err = builder_add_lines(&b, &text, text + len, true);
	if (!err)
		err = builder_finish(&b, out);
	builder_release(&b);
	return err;
}

void disc_mappings_release(struct disc_mappings *m)
{
	if (!m)
		return;
	free(m->v);
	mappings_init(m);
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

/* A line of maps is at most a path (PATH_MAX) and its fields: the text is
 * read in pieces of this size, so a process whose file runs to tens of
 * megabytes costs no more than its mappings kept. */
#define READ_CHUNK (64u << 10)

int disc_maps_read_at(int dirfd, struct disc_mappings *out)
{
	struct maps_builder b = { .last_path = NO_PATH };
	size_t held = 0;
	char *buf;
	int fd, err = 0;

	mappings_init(out);
	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(READ_CHUNK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (!err && !b.cut) {
		ssize_t r = read(fd, buf + held, READ_CHUNK - held);
		const char *p = buf;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		err = builder_add_lines(&b, &p, buf + held + r, r == 0);
		held = (size_t)(buf + held + r - p);
		if (r == 0)
			break;
		/* A line longer than the buffer is no line the kernel writes. */
		if (!err && held == READ_CHUNK)
			err = -EINVAL;
		memmove(buf, p, held);
	}
	close(fd);
	free(buf);
	if (!err)
		err = builder_finish(&b, out);
	builder_release(&b);
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
