/* libFuzzer target for the perf map parser: any bytes a process could write
 * to /tmp/perf-PID.map must parse without crashing, leaking or reading out
 * of bounds, and the table must say what the lines say. Each line is
 * parsed alone as well, which gives its range and name (or none); then at
 * the edges of every range, the whole map must name the address after the
 * last line that covers it. Seeds in corpus/perf_map/. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perf_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The few lines a brute-force check over every pair can afford. */
#define CHECK_LINES_MAX 128

struct line {
	uint64_t start, end;
	const char *name; /* into m, NULL when the line is bad */
	struct sym_perf_map *m;
};

/* A one-line map has at most one range: find it by its edges. */
static void line_range(struct line *l, const char *text, size_t len)
{
	struct sym_perf_map_info info;

	l->name = NULL;
	if (sym_perf_map_parse(text, len, &l->m))
		abort(); /* only -ENOMEM may fail, and fuzzing stays small */
	sym_perf_map_get_info(l->m, &info);
	if (info.lines + info.bad_lines > 1 || info.ranges > 1)
		abort();
	if (!info.ranges)
		return;
	/* The start and size are read back from the text, in hex: the
	 * parser's own reading is what is checked against the map. */
	{
		const char *p = text, *end = text + len;
		uint64_t v[2] = { 0, 0 };

		for (int f = 0; f < 2; f++) {
			if (end - p > 2 && p[0] == '0' && (p[1] | 0x20) == 'x')
				p += 2;
			while (p < end && *p != ' ' && *p != '\t') {
				char c = (char)(*p | 0x20);

				v[f] = v[f] << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
				p++;
			}
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
		}
		l->start = v[0];
		l->end = v[0] + v[1];
	}
	if (sym_perf_map_lookup(l->m, l->start, &l->name) ||
	    sym_perf_map_lookup(l->m, l->end - 1, &l->name))
		abort();
	if ((l->start && !sym_perf_map_lookup(l->m, l->start - 1, &l->name)) ||
	    (l->end && !sym_perf_map_lookup(l->m, l->end, &l->name)))
		abort();
	sym_perf_map_lookup(l->m, l->start, &l->name);
}

static void check_addr(const struct sym_perf_map *m, const struct line *lines,
		       size_t n, uint64_t addr)
{
	const char *want = NULL, *got = NULL;
	int err;

	for (size_t i = 0; i < n; i++)
		if (lines[i].name && lines[i].start <= addr && addr < lines[i].end)
			want = lines[i].name;
	err = sym_perf_map_lookup(m, addr, &got);
	if (want ? err || strcmp(got, want) : err != -ENOENT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *p = text, *end = text + size;
	struct line lines[CHECK_LINES_MAX];
	struct sym_perf_map *m;
	size_t n = 0;

	if (sym_perf_map_parse(text, size, &m))
		abort();
	while (p < end && n < CHECK_LINES_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le > p)
			line_range(&lines[n++], p, (size_t)(le - p));
		p = nl ? nl + 1 : end;
	}
	if (p == end) {
		for (size_t i = 0; i < n; i++) {
			if (!lines[i].name)
				continue;
			check_addr(m, lines, n, lines[i].start);
			check_addr(m, lines, n, lines[i].start - 1);
			check_addr(m, lines, n, lines[i].end);
			check_addr(m, lines, n, lines[i].end - 1);
		}
	}
	(void)sym_perf_map_lookup(m, 0, &p);
	(void)sym_perf_map_lookup(m, UINT64_MAX, &p);
	for (size_t i = 0; i < n; i++)
		sym_perf_map_free(lines[i].m);
	sym_perf_map_free(m);
	return 0;
}
