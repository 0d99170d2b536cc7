/* JIT perf maps: a JIT writes one "START SIZE NAME" line to
 * /tmp/perf-PID.map for each piece of code it emits, appending as it goes,
 * and an address in its anonymous executable memory is named by the line
 * that covers it.
 *
 * The file is the process's to write, so nothing in it is trusted: lines,
 * lines per file and bytes per file are bounded (perf_map.h), and a line
 * we cannot read is counted and skipped, never fatal. Ranges may overlap
 * (code freed and its memory reused, or code moved by a GC): the lines are
 * flattened once, by a sweep over their boundaries, into sorted disjoint
 * ranges where each address belongs to the last line covering it, and a
 * binary search answers lookups. Names no range kept are dropped then.
 *
 * The cache at the end holds one map per process (see perf_map.h). */
#include "perf_map.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr_search.h"
#include "hashtab.h"
#include "root_open.h"

#define NO_NAME UINT32_MAX

/* One range of the flattened table. */
struct pm_range {
	uint64_t start; /* first: see addr_search.h */
	uint64_t end;
	uint32_t name;  /* offset in names */
};

struct sym_perf_map {
	struct pm_range *ranges;
	size_t n;
	char *names;
	size_t names_len;
	size_t lines, bad_lines, dropped;
};

/* One line as read, before overlaps are resolved. */
struct pm_line {
	uint64_t start;
	uint64_t end;
	uint32_t name; /* offset in the builder's arena */
	uint32_t seq;  /* line order: the later line wins */
};

struct builder {
	struct pm_line *lines;
	size_t n, cap;
	char *names;
	size_t len, names_cap;
	size_t bad_lines;
};

/* ---- one line ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A hex number with or without 0x, then at least one blank, skipped. */
static bool read_field(const char **pos, const char *end, uint64_t *out)
{
	const char *p = *pos;
	uint64_t v = 0;
	int d;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    hex_digit(p[2]) >= 0)
		p += 2;
	if (p >= end || hex_digit(*p) < 0)
		return false;
	while (p < end && (d = hex_digit(*p)) >= 0) {
		if (v > (UINT64_MAX >> 4))
			return false;
		v = v << 4 | (uint64_t)d;
		p++;
	}
	if (p >= end || !is_blank(*p))
		return false;
	while (p < end && is_blank(*p))
		p++;
	*pos = p;
	*out = v;
	return true;
}

static int add_name(struct builder *b, const char *s, size_t len, uint32_t *off)
{
	if (b->len + len + 1 > b->names_cap) {
		size_t cap = b->names_cap ? b->names_cap * 2 : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->names, cap);
		if (!p)
			return -ENOMEM;
		b->names = p;
		b->names_cap = cap;
	}
	*off = (uint32_t)b->len;
	/* A NUL would cut the name short and other control characters are
	 * noise in a profile: the name is kept, made printable. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		b->names[b->len + i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	b->names[b->len + len] = '\0';
	b->len += len + 1;
	return 0;
}

/* The line [p, end), its newline excluded. Only -ENOMEM is an error. */
static int add_line(struct builder *b, const char *p, const char *end)
{
	uint64_t start, size;
	struct pm_line l;
	int err;

	if (!read_field(&p, end, &start) || !read_field(&p, end, &size))
		goto bad;
	while (end > p && (is_blank(end[-1]) || end[-1] == '\r'))
		end--;
	/* An empty range names nothing; one past 2^64 is nonsense. */
	if (p == end || size == 0 || start > UINT64_MAX - size)
		goto bad;
	l = (struct pm_line){ .start = start, .end = start + size, .seq = (uint32_t)b->n };
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct pm_line *nl = realloc(b->lines, cap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		b->lines = nl;
		b->cap = cap;
	}
	err = add_name(b, p, (size_t)(end - p), &l.name);
	if (err)
		return err;
	b->lines[b->n++] = l;
	return 0;
bad:
	b->bad_lines++;
	return 0;
}

/* ---- overlaps resolved ---- */

static int line_cmp(const void *a, const void *b)
{
	const struct pm_line *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A max-heap of indices into lines, by seq: its top is the latest line. */
struct heap {
	uint32_t *v;
	size_t n;
	const struct pm_line *lines;
};

static bool heap_above(const struct heap *h, size_t i, size_t j)
{
	return h->lines[h->v[i]].seq > h->lines[h->v[j]].seq;
}

static void heap_swap(struct heap *h, size_t i, size_t j)
{
	uint32_t t = h->v[i];

	h->v[i] = h->v[j];
	h->v[j] = t;
}

static void heap_push(struct heap *h, uint32_t x)
{
	size_t i = h->n++;

	h->v[i] = x;
	while (i && heap_above(h, i, (i - 1) / 2)) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_pop(struct heap *h)
{
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, top = i;

		if (l < h->n && heap_above(h, l, top))
			top = l;
		if (r < h->n && heap_above(h, r, top))
			top = r;
		if (top == i)
			return;
		heap_swap(h, i, top);
		i = top;
	}
}

/* Every start and end, sorted, each once: between two neighbours, the
 * same lines are live. */
static uint64_t *boundaries(const struct pm_line *lines, size_t n, size_t *count)
{
	uint64_t *pts = malloc(2 * n * sizeof(*pts));
	size_t k = 0;

	if (!pts)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		pts[2 * i] = lines[i].start;
		pts[2 * i + 1] = lines[i].end;
	}
	qsort(pts, 2 * n, sizeof(*pts), u64_cmp);
	for (size_t i = 0; i < 2 * n; i++)
		if (!k || pts[k - 1] != pts[i])
			pts[k++] = pts[i];
	*count = k;
	return pts;
}

/* Fills m->ranges from the lines (sorted by start), each range's name
 * being for now the index of the line that won it. */
static int sweep(struct sym_perf_map *m, const struct pm_line *lines, size_t n)
{
	struct heap h = { .lines = lines };
	size_t npts = 0, next = 0;
	uint64_t *pts;

	pts = boundaries(lines, n, &npts);
	h.v = malloc(n * sizeof(*h.v));
	/* A range lies between two neighbouring boundaries, or joins two. */
	m->ranges = malloc(npts * sizeof(*m->ranges));
	if (!pts || !h.v || !m->ranges) {
		free(pts);
		free(h.v);
		return -ENOMEM;
	}
	for (size_t k = 0; k + 1 < npts; k++) {
		uint64_t at = pts[k];
		struct pm_range *last = m->n ? &m->ranges[m->n - 1] : NULL;
		uint32_t win;

		while (next < n && lines[next].start == at)
			heap_push(&h, (uint32_t)next++);
		/* Lines that ended are dropped once they come to the top;
		 * below it they cannot win anyway. */
		while (h.n && lines[h.v[0]].end <= at)
			heap_pop(&h);
		if (!h.n)
			continue;
		win = h.v[0];
		if (last && last->name == win && last->end == at)
			last->end = pts[k + 1];
		else
			m->ranges[m->n++] = (struct pm_range){ at, pts[k + 1], win };
	}
	free(pts);
	free(h.v);
	return 0;
}

/* Keeps only the names some range holds, in an arena of their own. */
static int keep_names(struct sym_perf_map *m, const struct builder *b)
{
	uint32_t *moved = malloc((b->n ? b->n : 1) * sizeof(*moved));
	size_t len = 0;

	if (!moved)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		moved[i] = NO_NAME;
	for (size_t i = 0; i < m->n; i++) {
		uint32_t line = m->ranges[i].name;

		if (moved[line] == NO_NAME) {
			moved[line] = 0;
			len += strlen(b->names + b->lines[line].name) + 1;
		}
	}
	m->names = malloc(len ? len : 1);
	if (!m->names) {
		free(moved);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++)
		moved[i] = NO_NAME;
	for (size_t i = 0; i < m->n; i++) {
		uint32_t line = m->ranges[i].name;

		if (moved[line] == NO_NAME) {
			const char *s = b->names + b->lines[line].name;
			size_t l = strlen(s) + 1;

			moved[line] = (uint32_t)m->names_len;
			memcpy(m->names + m->names_len, s, l);
			m->names_len += l;
		}
		m->ranges[i].name = moved[line];
	}
	free(moved);
	return 0;
}

static void *shrink(void *p, size_t size)
{
	void *q = size ? realloc(p, size) : NULL;

	return q ? q : p;
}

static size_t count_newlines(const char *p, const char *end)
{
	size_t n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* Parses the lines of [p, end), the last SYM_PERF_MAP_LINES_MAX of them;
 * dropped: lines already left out before p. */
static int parse_lines(const char *p, const char *end, size_t dropped,
		       struct sym_perf_map **out)
{
	size_t nlines = count_newlines(p, end) + (end > p && end[-1] != '\n');
	struct builder b = { 0 };
	struct sym_perf_map *m;
	int err = 0;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (; nlines > SYM_PERF_MAP_LINES_MAX; nlines--, dropped++)
		p = memchr(p, '\n', (size_t)(end - p)) + 1;
	while (!err && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		/* A line's length counts its newline. */
		if ((size_t)(line_end - p) + 1 > SYM_PERF_MAP_LINE_MAX)
			b.bad_lines++;
		else if (line_end > p)
			err = add_line(&b, p, line_end);
		p = nl ? nl + 1 : end;
	}
	if (!err && b.n) {
		qsort(b.lines, b.n, sizeof(*b.lines), line_cmp);
		err = sweep(m, b.lines, b.n);
		if (!err)
			err = keep_names(m, &b);
	}
	m->lines = b.n;
	m->bad_lines = b.bad_lines;
	m->dropped = dropped;
	free(b.lines);
	free(b.names);
	if (err) {
		sym_perf_map_free(m);
		return err;
	}
	m->ranges = shrink(m->ranges, m->n * sizeof(*m->ranges));
	*out = m;
	return 0;
}

/* [p, end) begins inside a line, unless *p is the newline before the
 * first whole one: skip to the first whole line. */
static const char *after_cut(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl + 1 : end;
}

int sym_perf_map_parse(const char *buf, size_t len, struct sym_perf_map **out)
{
	const char *p, *end;

	if (!out || (!buf && len))
		return -EINVAL;
	if (!buf)
		buf = "";
	p = buf;
	end = buf + len;
	if (len > SYM_PERF_MAP_TEXT_MAX) {
		p = after_cut(end - SYM_PERF_MAP_TEXT_MAX - 1, end);
		return parse_lines(p, end, count_newlines(buf, p), out);
	}
	return parse_lines(p, end, 0, out);
}

int sym_perf_map_lookup_range(const struct sym_perf_map *m, uint64_t addr, uint64_t *start,
			      uint64_t *end, const char **name)
{
	size_t i;

	if (!m || !name)
		return -EINVAL;
	i = sym_addr_search(m->ranges, m->n, sizeof(*m->ranges), addr);
	if (!i || addr >= m->ranges[i - 1].end)
		return -ENOENT;
	*name = m->names + m->ranges[i - 1].name;
	if (start)
		*start = m->ranges[i - 1].start;
	if (end)
		*end = m->ranges[i - 1].end;
	return 0;
}

int sym_perf_map_lookup(const struct sym_perf_map *m, uint64_t addr,
			const char **name)
{
	return sym_perf_map_lookup_range(m, addr, NULL, NULL, name);
}

void sym_perf_map_get_info(const struct sym_perf_map *m,
			   struct sym_perf_map_info *info)
{
	*info = (struct sym_perf_map_info){ 0 };
	if (!m)
		return;
	info->lines = m->lines;
	info->bad_lines = m->bad_lines;
	info->dropped = m->dropped;
	info->ranges = m->n;
	info->bytes = sizeof(*m) + m->n * sizeof(*m->ranges) + m->names_len;
}

size_t sym_perf_map_ranges(const struct sym_perf_map *m)
{
	return m ? m->n : 0;
}

void sym_perf_map_export(const struct sym_perf_map *m, uint64_t *starts, uint64_t *ends,
			 uint32_t *offs, struct sym_perf_map_table *t)
{
	for (size_t i = 0; i < m->n; i++) {
		starts[i] = m->ranges[i].start;
		ends[i] = m->ranges[i].end;
		offs[i] = m->ranges[i].name;
	}
	*t = (struct sym_perf_map_table){
		.starts = starts,
		.ends = ends,
		.name_offsets = offs,
		.n = m->n,
		.names = m->names,
		.names_len = m->names_len,
		.lines = m->lines,
		.bad_lines = m->bad_lines,
		.dropped = m->dropped,
	};
}

static bool table_is_sound(const struct sym_perf_map_table *t)
{
	/* Overlapping lines may make up to two ranges each. */
	if (t->n > 2 * (size_t)SYM_PERF_MAP_LINES_MAX || t->names_len > SYM_PERF_MAP_TEXT_MAX ||
	    (t->names_len && t->names[t->names_len - 1] != '\0'))
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (t->starts[i] >= t->ends[i] || (i && t->starts[i] < t->ends[i - 1]) ||
		    t->name_offsets[i] >= t->names_len)
			return false;
	return true;
}

int sym_perf_map_import(const struct sym_perf_map_table *t, struct sym_perf_map **out)
{
	struct sym_perf_map *m;

	*out = NULL;
	if (!table_is_sound(t))
		return -EPROTO;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ranges = malloc((t->n ? t->n : 1) * sizeof(*m->ranges));
	m->names = malloc(t->names_len ? t->names_len : 1);
	if (!m->ranges || !m->names) {
		sym_perf_map_free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n; i++)
		m->ranges[i] = (struct pm_range){ t->starts[i], t->ends[i], t->name_offsets[i] };
	memcpy(m->names, t->names, t->names_len);
	m->n = t->n;
	m->names_len = t->names_len;
	m->lines = t->lines;
	m->bad_lines = t->bad_lines;
	m->dropped = t->dropped;
	*out = m;
	return 0;
}

void sym_perf_map_free(struct sym_perf_map *m)
{
	if (!m)
		return;
	free(m->ranges);
	free(m->names);
	free(m);
}

/* ---- the file ---- */

int sym_perf_map_read_fd(int fd, const struct stat *st, struct sym_perf_map **out)
{
	size_t size = st->st_size > 0 ? (size_t)st->st_size : 0;
	size_t want = size, got = 0;
	const char *p, *end, *last_nl;
	off_t off = 0;
	char *buf;
	int err;

	/* One byte more than the text read: it tells whether the first
	 * line read is whole. */
	if (size > SYM_PERF_MAP_TEXT_MAX) {
		want = SYM_PERF_MAP_TEXT_MAX + 1;
		off = (off_t)(size - want);
	}
	buf = malloc(want ? want : 1);
	if (!buf)
		return -ENOMEM;
	/* The file may be truncated meanwhile: what is there is read. */
	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			free(buf);
			return err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	p = buf;
	last_nl = got ? memrchr(buf, '\n', got) : NULL;
	end = last_nl ? last_nl + 1 : buf;
	if (off > 0)
		p = after_cut(p, end);
	err = parse_lines(p, end, off > 0, out);
	free(buf);
	return err;
}

/* The map of process pid, opened. It must belong to the process's owner
 * (who owns its /proc directory): we read as root, and a user's process
 * could otherwise point its map at a file only root may read. */
static int open_map(const char *proc_root, int pid, int nspid, struct stat *st)
{
	char path[PATH_MAX];
	struct stat proc;
	int fd, n;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", nspid);
	fd = sym_root_open_file(proc_root, pid, path, st);
	if (fd < 0 || pid == 0)
		return fd;
	n = snprintf(path, sizeof(path), "%s/%d", proc_root ? proc_root : "/proc", pid);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &proc) ||
	    proc.st_uid != st->st_uid) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int sym_perf_map_read(const char *proc_root, int pid, int nspid,
		      struct sym_perf_map **out)
{
	struct stat st;
	int fd, err;

	if (!out || pid < 0 || nspid <= 0)
		return -EINVAL;
	fd = open_map(proc_root, pid, nspid, &st);
	if (fd < 0)
		return fd;
	err = sym_perf_map_read_fd(fd, &st, out);
	close(fd);
	return err;
}

/* ---- the cache ---- */

/* What fstat said of the file a map was read from: a change in any is a
 * file that changed. */
struct pm_file_id {
	uint64_t dev, ino, size;
	int64_t mtime_sec, mtime_nsec;
};

struct pm_proc {
	struct sym_hnode node;
	int pid;
	int nspid;
	int err;                 /* why there is no map */
	struct sym_perf_map *map;
	bool named;              /* map has handed out a name */
	struct pm_file_id id;
	bool refused;            /* the file id names was refused: not read again */
	uint64_t checked_ns;
	uint64_t used_ns;
};

struct sym_perf_maps {
	char *proc_root;
	struct sym_htab procs;
	/* Replaced maps that handed out names, kept until the next trim. */
	struct sym_perf_map **retired;
	size_t nretired, retired_cap;
	struct sym_perf_maps_stats stats;
	sym_perf_map_reader read;
	void *read_ctx;
};

static int read_here(void *ctx, int fd, const struct stat *st, struct sym_perf_map **out)
{
	(void)ctx;
	return sym_perf_map_read_fd(fd, st, out);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t map_bytes(const struct sym_perf_map *m)
{
	struct sym_perf_map_info info;

	sym_perf_map_get_info(m, &info);
	return m ? info.bytes : 0;
}

static void free_map(struct sym_perf_maps *c, struct sym_perf_map *m)
{
	c->stats.bytes -= map_bytes(m);
	sym_perf_map_free(m);
}

/* Room for one more retired map, made before a map is replaced, so that
 * retiring it cannot fail: a map whose names may be in use is never freed
 * before the trim. */
static int reserve_retired(struct sym_perf_maps *c)
{
	size_t cap = c->retired_cap ? c->retired_cap * 2 : 16;
	struct sym_perf_map **v;

	if (c->nretired < c->retired_cap)
		return 0;
	v = realloc(c->retired, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->retired = v;
	c->retired_cap = cap;
	return 0;
}

/* A map no longer current: kept until the trim if it has handed out a
 * name (reserve_retired made the room), else freed now. */
static void retire(struct sym_perf_maps *c, struct pm_proc *p)
{
	struct sym_perf_map *m = p->map;

	p->map = NULL;
	if (!m)
		return;
	if (!p->named) {
		free_map(c, m);
		return;
	}
	p->named = false;
	c->retired[c->nretired++] = m;
}

struct sym_perf_maps *sym_perf_maps_new(const char *proc_root)
{
	struct sym_perf_maps *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->proc_root = strdup(proc_root ? proc_root : "/proc");
	if (!c->proc_root) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->read = read_here;
	return c;
}

void sym_perf_maps_set_reader(struct sym_perf_maps *c, sym_perf_map_reader read, void *ctx)
{
	c->read = read ? read : read_here;
	c->read_ctx = ctx;
}

struct drop_ctx {
	struct sym_perf_maps *c;
	uint64_t idle_before; /* drop entries used before this; 0: all */
};

static bool drop_proc(struct sym_hnode *n, void *ctx)
{
	struct pm_proc *p = (struct pm_proc *)n;
	struct drop_ctx *d = ctx;

	if (d->idle_before && p->used_ns >= d->idle_before)
		return false;
	free_map(d->c, p->map);
	d->c->stats.processes--;
	d->c->stats.bytes -= sizeof(*p);
	free(p);
	return true;
}

static void free_retired(struct sym_perf_maps *c)
{
	for (size_t i = 0; i < c->nretired; i++)
		free_map(c, c->retired[i]);
	c->nretired = 0;
}

void sym_perf_maps_free(struct sym_perf_maps *c)
{
	struct drop_ctx d = { .c = c };

	if (!c)
		return;
	sym_htab_drop_if(&c->procs, drop_proc, &d);
	sym_htab_release(&c->procs);
	free_retired(c);
	free(c->retired);
	free(c->proc_root);
	free(c);
}

void sym_perf_maps_trim(struct sym_perf_maps *c)
{
	uint64_t now = now_ns();
	struct drop_ctx d = { .c = c, .idle_before = 1 };

	if (!c)
		return;
	if (now > SYM_PERF_MAPS_IDLE_NS)
		d.idle_before = now - SYM_PERF_MAPS_IDLE_NS;
	free_retired(c);
	sym_htab_drop_if(&c->procs, drop_proc, &d);
}

void sym_perf_maps_get_stats(const struct sym_perf_maps *c,
			     struct sym_perf_maps_stats *st)
{
	*st = c ? c->stats : (struct sym_perf_maps_stats){ 0 };
}

static bool proc_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct pm_proc *)n)->pid == *(const int *)key;
}

static uint64_t pid_hash(int pid)
{
	return sym_hash_bytes(&pid, sizeof(pid), SYM_HASH_INIT);
}

static struct pm_file_id file_id_of(const struct stat *st)
{
	return (struct pm_file_id){
		.dev = st->st_dev,
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.mtime_sec = st->st_mtim.tv_sec,
		.mtime_nsec = st->st_mtim.tv_nsec,
	};
}

static bool same_file(const struct pm_file_id *a, const struct pm_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

static bool process_gone(const struct sym_perf_maps *c, int pid)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%d", c->proc_root, pid);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) && errno == ENOENT;
}

/* Whether a map of that many bytes fits beside those held. */
static bool fits(const struct sym_perf_maps *c, uint64_t bytes)
{
	return c->stats.bytes + bytes <= SYM_PERF_MAPS_TOTAL_MAX;
}

/* The file id names is not read, or not kept: past the total. The map the
 * process had, if any, stays; that version of the file is not tried again. */
static void refuse(struct sym_perf_maps *c, struct pm_proc *p, const struct pm_file_id *id)
{
	c->stats.refused++;
	p->id = *id;
	p->refused = true;
	if (!p->map)
		p->err = -ENOSPC;
}

/* Looks at the process's map file again, and reads it if it changed. */
static void refresh(struct sym_perf_maps *c, struct pm_proc *p)
{
	struct sym_perf_map *m;
	struct pm_file_id id;
	struct stat st;
	int fd, err;

	/* Out of memory: the map we have stays, and is looked at again
	 * next time. */
	if (reserve_retired(c))
		return;
	fd = open_map(c->proc_root, p->pid, p->nspid, &st);
	if (fd < 0) {
		/* A process that exited leaves samples still to be named:
		 * its last map is the best there is. */
		if (p->map && process_gone(c, p->pid))
			return;
		retire(c, p);
		p->refused = false;
		p->err = fd;
		return;
	}
	id = file_id_of(&st);
	if ((p->map || p->refused) && same_file(&id, &p->id)) {
		close(fd);
		return;
	}
	/* The text read is what a map costs, about: one that cannot fit
	 * is not read at all. */
	if (!fits(c, id.size < SYM_PERF_MAP_TEXT_MAX ? id.size : SYM_PERF_MAP_TEXT_MAX)) {
		close(fd);
		refuse(c, p, &id);
		return;
	}
	err = c->read(c->read_ctx, fd, &st, &m);
	close(fd);
	/* Not parsed in time: what is held stays, the file is read again. */
	if (err == -EAGAIN)
		return;
	/* The parser died or hung on it: what is held stays, and this file
	 * is not read again until it changes. */
	if (err == -EIO) {
		p->refused = true;
		p->id = id;
		if (!p->map)
			p->err = -EIO;
		return;
	}
	if (!err && !fits(c, map_bytes(m))) {
		sym_perf_map_free(m);
		refuse(c, p, &id);
		return;
	}
	retire(c, p);
	p->refused = false;
	if (err) {
		p->err = err;
		return;
	}
	p->map = m;
	p->id = id;
	p->err = 0;
	c->stats.reads++;
	c->stats.bad_lines += m->bad_lines;
	c->stats.bytes += map_bytes(m);
}

static struct pm_proc *get_proc(struct sym_perf_maps *c, int pid, int nspid)
{
	struct pm_proc *p;

	p = (struct pm_proc *)sym_htab_find(&c->procs, pid_hash(pid), proc_eq, &pid);
	if (p) {
		/* Another process under that pid, in another namespace. */
		if (p->nspid != nspid) {
			if (reserve_retired(c))
				return NULL;
			retire(c, p);
			p->nspid = nspid;
			p->checked_ns = 0;
			p->refused = false;
			p->err = -ENOENT;
		}
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->nspid = nspid;
	p->err = -ENOENT;
	p->node.hash = pid_hash(pid);
	if (sym_htab_add(&c->procs, &p->node)) {
		free(p);
		return NULL;
	}
	c->stats.processes++;
	c->stats.bytes += sizeof(*p);
	return p;
}

int sym_perf_maps_lookup(struct sym_perf_maps *c, int pid, int nspid,
			 uint64_t addr, const char **name)
{
	return sym_perf_maps_lookup_range(c, pid, nspid, addr, NULL, NULL, name);
}

int sym_perf_maps_lookup_range(struct sym_perf_maps *c, int pid, int nspid, uint64_t addr,
			       uint64_t *start, uint64_t *end, const char **name)
{
	struct pm_proc *p;
	uint64_t now;
	int err;

	if (!c || pid <= 0 || !name)
		return -EINVAL;
	if (nspid <= 0)
		nspid = pid;
	p = get_proc(c, pid, nspid);
	if (!p)
		return -ENOMEM;
	now = now_ns();
	/* checked_ns 0: never looked at (the clock is past 0 by then). */
	if (!p->checked_ns || now - p->checked_ns >= SYM_PERF_MAPS_RECHECK_NS) {
		p->checked_ns = now;
		refresh(c, p);
	}
	p->used_ns = now;
	if (!p->map)
		return p->err;
	err = sym_perf_map_lookup_range(p->map, addr, start, end, name);
	if (!err)
		p->named = true;
	return err;
}
