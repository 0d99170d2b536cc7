/* CPython's line-number tables, decoded into sorted ranges of bytecode (see
 * python_lines.h). Three formats, each read the way that version's
 * interpreter reads it (PyCode_Addr2Line and the co_lines() iterator of
 * its Objects/codeobject.c):
 *
 *   3.8, 3.9  co_lnotab: pairs (bytes advanced, unsigned; lines advanced,
 *             signed). A pair's line change holds from the offset its
 *             byte advance reaches. Objects/lnotab_notes.txt of 3.8.
 *   3.10      co_linetable: pairs (bytes this range covers, unsigned; line
 *             delta, signed, -128: no line and the line kept). A range
 *             gets the line after its delta; empty ranges only carry
 *             deltas too large for one byte. lnotab_notes.txt of 3.10.
 *   3.11+     co_linetable, the location table: entries of a first byte
 *             (bit 7 set, a code in bits 3-6, code units covered - 1 in
 *             bits 0-2) and bytes with bit 7 clear, whose meaning the code
 *             gives; code units are 2 bytes. Objects/locations.md.
 *
 * Lines are tracked in 64 bits and a table that takes them out of int
 * (where CPython keeps them) is refused, as is one whose entries do not
 * end where the next begins: CPython finds the 3.11 entries by bit 7
 * alone, and a table read another way by us would name other lines. */
#include "python_lines.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define NO_LINE (-1)

/* 3.11+ location entry codes (_PyCodeLocationInfoKind). */
enum {
	LOC_SHORT_LAST = 9,     /* 0-9: same line, one byte of columns */
	LOC_ONE_LINE0 = 10,     /* 10-12: line + code - 10, two column bytes */
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,    /* line delta (svarint) */
	LOC_LONG = 14,          /* line delta (svarint), three varints */
	LOC_NONE = 15,          /* no line; the line is kept */
};

/* The ranges as they are found. */
struct builder {
	struct sym_py_line_range *r;
	size_t n, cap, max;
};

/* Appends [start, end) with line (NO_LINE or 0..INT32_MAX): an empty range
 * says nothing, and a range that goes on from the last one with its line
 * joins it. */
static int emit(struct builder *b, uint32_t start, uint32_t end, int32_t line)
{
	struct sym_py_line_range *last = b->n ? &b->r[b->n - 1] : NULL;

	if (start == end)
		return 0;
	if (last && last->end == start && last->line == line) {
		last->end = end;
		return 0;
	}
	if (b->n == b->max)
		return -E2BIG;
	/* cap is the most ranges the table's length allows (or max): never
	 * reached, but the array's end is kept here, not in the count. */
	if (b->n == b->cap)
		return -EINVAL;
	b->r[b->n++] = (struct sym_py_line_range){ start, end, line };
	return 0;
}

/* line += delta, refused once it leaves int, where CPython keeps it. */
static bool add_delta(int64_t *line, int64_t delta)
{
	*line += delta;
	return *line >= INT32_MIN && *line <= INT32_MAX;
}

/* A line a range may have: a negative one could not be told from NO_LINE. */
static bool valid_line(int64_t line)
{
	return line >= 0 && line <= INT32_MAX;
}

/* ---- 3.8, 3.9: co_lnotab ---- */

static int decode_lnotab(struct builder *b, const uint8_t *t, size_t len, int64_t line)
{
	uint64_t start = 0, addr = 0;
	int err;

	if (len % 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		addr += t[i];
		if (addr > UINT32_MAX)
			return -EINVAL;
		if (addr > start) {
			if (!valid_line(line))
				return -EINVAL;
			err = emit(b, (uint32_t)start, (uint32_t)addr, (int32_t)line);
			if (err)
				return err;
			start = addr;
		}
		if (!add_delta(&line, (int8_t)t[i + 1]))
			return -EINVAL;
	}
	if (!valid_line(line))
		return -EINVAL;
	return emit(b, (uint32_t)start, UINT32_MAX, (int32_t)line);
}

/* ---- 3.10: co_linetable ---- */

static int decode_linetable(struct builder *b, const uint8_t *t, size_t len, int64_t line)
{
	uint64_t end = 0;
	int err;

	if (len % 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		uint64_t start = end;
		int8_t delta = (int8_t)t[i + 1];
		int32_t at = NO_LINE;

		end += t[i];
		if (end > UINT32_MAX)
			return -EINVAL;
		if (delta != -128) {
			if (!add_delta(&line, delta))
				return -EINVAL;
			/* An empty range only carries its delta on. */
			if (end > start && !valid_line(line))
				return -EINVAL;
			at = (int32_t)line;
		}
		err = emit(b, (uint32_t)start, (uint32_t)end, at);
		if (err)
			return err;
	}
	return 0;
}

/* ---- 3.11+: the location table ---- */

/* An entry's byte after its first: bit 7 clear, or it would start the
 * next entry. */
static int next_byte(const uint8_t **p, const uint8_t *end, uint8_t *out)
{
	if (*p == end || (**p & 0x80))
		return -EINVAL;
	*out = *(*p)++;
	return 0;
}

/* 6-bit chunks, least significant first, bit 6 set on all but the last.
 * Values past 32 bits are refused: CPython reads them into an unsigned
 * int. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t c;

	do {
		if (shift > 30 || next_byte(p, end, &c))
			return -EINVAL;
		v |= (uint64_t)(c & 0x3f) << shift;
		shift += 6;
	} while (c & 0x40);
	if (v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* The sign in the lowest bit, the magnitude above it. */
static int read_svarint(const uint8_t **p, const uint8_t *end, int64_t *out)
{
	uint32_t u;

	if (read_varint(p, end, &u))
		return -EINVAL;
	*out = u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

/* Reads the rest of the entry whose code is given, up to the next entry's
 * first byte; *delta is its line delta. The columns are skipped: a frame
 * is named by its line. */
static int read_entry(unsigned int code, const uint8_t **p, const uint8_t *end,
		      int64_t *delta)
{
	uint32_t skip;
	uint8_t c;

	*delta = 0;
	if (code <= LOC_SHORT_LAST)
		return next_byte(p, end, &c);
	if (code <= LOC_ONE_LINE2) {
		*delta = code - LOC_ONE_LINE0;
		return next_byte(p, end, &c) || next_byte(p, end, &c) ? -EINVAL : 0;
	}
	if (code == LOC_NONE)
		return 0;
	if (read_svarint(p, end, delta))
		return -EINVAL;
	if (code == LOC_NO_COLUMNS)
		return 0;
	/* LOC_LONG: end line delta, column + 1, end column + 1. */
	for (int i = 0; i < 3; i++)
		if (read_varint(p, end, &skip))
			return -EINVAL;
	return 0;
}

static int decode_locations(struct builder *b, const uint8_t *t, size_t len, int64_t line)
{
	const uint8_t *p = t, *end = t + len;
	uint64_t at = 0;
	int err;

	while (p < end) {
		uint8_t first = *p++;
		unsigned int code = (first >> 3) & 15;
		uint64_t start = at;
		int64_t delta;

		if (!(first & 0x80) || read_entry(code, &p, end, &delta))
			return -EINVAL;
		at += 2u * ((first & 7u) + 1);
		if (at > UINT32_MAX || !add_delta(&line, delta))
			return -EINVAL;
		if (code != LOC_NONE && !valid_line(line))
			return -EINVAL;
		err = emit(b, (uint32_t)start, (uint32_t)at,
			   code == LOC_NONE ? NO_LINE : (int32_t)line);
		if (err)
			return err;
	}
	return 0;
}

/* ---- the entry points ---- */

int sym_py_lines_decode(unsigned int minor, const uint8_t *table, size_t len,
			int32_t firstlineno, size_t max_ranges,
			struct sym_py_line_range **out, size_t *n)
{
	struct builder b = { .max = max_ranges };
	size_t bound;
	int err;

	static const uint8_t empty[1];

	if (!out || !n || (!table && len))
		return -EINVAL;
	/* Pointer arithmetic on NULL is undefined, even adding 0. */
	if (!table)
		table = empty;
	*out = NULL;
	*n = 0;
	/* The most ranges a table of len bytes can make: one a pair (and the
	 * lnotab's last, open one), one an entry of at least one byte. */
	if (minor == 8 || minor == 9)
		bound = len / 2 + 1;
	else if (minor == 10)
		bound = len / 2;
	else if (minor >= 11 && minor <= 13)
		bound = len;
	else
		return -ENOTSUP;
	b.cap = bound < max_ranges ? bound : max_ranges;
	if (b.cap) {
		b.r = malloc(b.cap * sizeof(*b.r));
		if (!b.r)
			return -ENOMEM;
	}
	if (minor <= 9)
		err = decode_lnotab(&b, table, len, firstlineno);
	else if (minor == 10)
		err = decode_linetable(&b, table, len, firstlineno);
	else
		err = decode_locations(&b, table, len, firstlineno);
	if (err || !b.n) {
		free(b.r);
		return err;
	}
	/* Joined neighbours leave room unused; a failed shrink keeps it. */
	if (b.n < b.cap) {
		struct sym_py_line_range *r = realloc(b.r, b.n * sizeof(*r));

		if (r)
			b.r = r;
	}
	*out = b.r;
	*n = b.n;
	return 0;
}

int32_t sym_py_line_at(const struct sym_py_line_range *r, size_t n, uint32_t off)
{
	size_t lo = 0, hi = n;

	/* The first range starting past off; the one before may hold it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || off >= r[lo - 1].end)
		return NO_LINE;
	return r[lo - 1].line;
}
