/* libFuzzer target for CPython's line tables (python_lines.h): any bytes a
 * profiled process's code object may point us at must be refused or
 * decoded without crashing, leaking or reading out of bounds, and a table
 * taken must be read as the interpreter reads it. The first byte picks the
 * version (3.8..3.13, and two that are not known), the next four are
 * co_firstlineno (little-endian), the rest is the table.
 *
 * The check is a second reading, the interpreter's own way (its
 * PyCode_Addr2Line and co_lines() walks, into a line per byte, 3.11+
 * entries found by bit 7 alone as CPython finds them), compared with
 * sym_py_line_at at every byte offset the table covers and a little past;
 * and the ranges must be sorted, apart, not empty, joined where one line
 * goes on, and max_ranges must hold. Seeds in corpus/python_lines/
 * (make_python_lines.py: real tables of each interpreter). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that the fuzzer reaches it. */
#define FUZZ_RANGES_MAX 512
/* Past the end, the offsets looked at; and at most this many in all
 * (a co_lnotab of 4 KB covers up to 522240 bytes). */
#define PAST_END 64
#define COMPARED_MAX (1u << 20)

static const unsigned int minors[8] = { 8, 9, 10, 11, 12, 13, 7, 14 };

/* ---- the interpreter's reading ---- */

/* The lines of offsets [0, until), filled in one walk of the table. */
struct lines {
	int64_t *at;
	uint64_t until;
};

static void fill(struct lines *l, uint64_t start, uint64_t end, int64_t line)
{
	for (uint64_t off = start; off < end && off < l->until; off++)
		l->at[off] = line;
}

/* 3.8's PyCode_Addr2Line: an offset has the line after every pair whose
 * address is at or below it. */
static void lnotab_lines(struct lines *l, const uint8_t *t, size_t len, int64_t line)
{
	uint64_t addr = 0, prev = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		fill(l, prev, addr, line);
		prev = addr;
		line += (int8_t)t[i + 1];
	}
	fill(l, prev, l->until, line);
}

/* 3.10's advance(): each pair moves the end on, then sets the line. */
static void linetable_lines(struct lines *l, const uint8_t *t, size_t len, int64_t line)
{
	uint64_t end = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint64_t start = end;

		end += t[i];
		if ((int8_t)t[i + 1] == -128) {
			fill(l, start, end, -1);
		} else {
			line += (int8_t)t[i + 1];
			fill(l, start, end, line);
		}
	}
}

/* 3.11's scan_varint, bounded by the table's end. */
static uint64_t scan_varint(const uint8_t *p, const uint8_t *end)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (p < end && shift < 64) {
		v |= (uint64_t)(*p & 63) << shift;
		if (!(*p++ & 64))
			break;
		shift += 6;
	}
	return v;
}

/* 3.11's advance(): the line delta from the entry's code, the entry's end
 * at the next byte with bit 7. */
static void locations_lines(struct lines *l, const uint8_t *t, size_t len, int64_t line)
{
	const uint8_t *p = t, *end = t + len;
	uint64_t at = 0;

	while (p < end) {
		unsigned int code = (*p >> 3) & 15;
		uint64_t start = at, u;

		if (code == 13 || code == 14) {
			u = scan_varint(p + 1, end);
			line += u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
		} else if (code >= 10 && code <= 12) {
			line += code - 10;
		}
		at += 2u * ((*p & 7u) + 1);
		fill(l, start, at, code == 15 ? -1 : line);
		do
			p++;
		while (p < end && !(*p & 0x80));
	}
}

static void reference_lines(struct lines *l, unsigned int minor, const uint8_t *t, size_t len,
			    int32_t first)
{
	fill(l, 0, l->until, -1);
	if (minor <= 9)
		lnotab_lines(l, t, len, first);
	else if (minor == 10)
		linetable_lines(l, t, len, first);
	else
		locations_lines(l, t, len, first);
}

/* ---- the checks ---- */

static void check_ranges(const struct sym_py_line_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].start >= r[i].end || r[i].line < -1)
			abort();
		if (i && (r[i].start < r[i - 1].end ||
			  (r[i].start == r[i - 1].end && r[i].line == r[i - 1].line)))
			abort();
	}
}

/* Where the interpreter's reading must be compared: every offset to the
 * last range's end (a co_lnotab's is open: to its last pair), and past. */
static uint64_t covered_end(unsigned int minor, const uint8_t *t, size_t len,
			    const struct sym_py_line_range *r, size_t n)
{
	uint64_t addr = 0;

	if (minor > 9)
		return n ? r[n - 1].end : 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		addr += t[i];
	return addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_py_line_range *r = NULL, *again = NULL;
	const uint8_t *t = data + 5;
	size_t n = 0, n2 = 0, len;
	unsigned int minor;
	struct lines ref;
	int32_t first;
	int err;

	if (size < 5)
		return 0;
	minor = minors[data[0] & 7];
	memcpy(&first, data + 1, 4);
	len = size - 5;
	err = sym_py_lines_decode(minor, t, len, first, FUZZ_RANGES_MAX, &r, &n);
	if ((minor < 8 || minor > 13) != (err == -ENOTSUP))
		abort();
	if (err) {
		if (err != -EINVAL && err != -E2BIG && err != -ENOTSUP)
			abort();
		if (r || n)
			abort();
		return 0;
	}
	check_ranges(r, n);
	if (n && (sym_py_lines_decode(minor, t, len, first, n - 1, &again, &n2) != -E2BIG ||
		  again))
		abort();
	ref.until = covered_end(minor, t, len, r, n) + PAST_END;
	if (ref.until > COMPARED_MAX)
		ref.until = COMPARED_MAX;
	ref.at = malloc(ref.until * sizeof(*ref.at));
	if (!ref.at)
		abort();
	reference_lines(&ref, minor, t, len, first);
	for (uint64_t off = 0; off < ref.until; off++)
		if (sym_py_line_at(r, n, (uint32_t)off) != ref.at[off])
			abort();
	free(ref.at);
	free(r);
	return 0;
}
