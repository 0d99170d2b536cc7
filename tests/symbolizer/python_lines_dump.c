/* python_lines_dump: CPython line tables decoded by sym_py_lines_decode,
 * for test_python_lines.py, which holds the lines against what each
 * interpreter says of its own code objects.
 *
 * Reads lines "MINOR FIRSTLINENO CODELEN HEX" (HEX the table's bytes, "-"
 * for none) on stdin and answers each with one line:
 *   "ok NRANGES END L0 L2 L4 ...": the ranges decoded, where the last one
 *     ends, and the line (-1: none) at each even byte offset below CODELEN
 *     (every instruction of 3.8+'s wordcode, caches included);
 *   "err ERRNO": the decoder refused the table (ERRNO positive).
 * Exits 1 when the ranges break the promises of python_lines.h (sorted,
 * apart, none empty, neighbours with one line joined, max_ranges held to
 * by -E2BIG), naming the input. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python_lines.h"

#define MAX_RANGES (1u << 20)

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* HEX into buf (as long as the line, so large enough); -1 when it is not
 * hex. */
static long parse_hex(const char *hex, uint8_t *buf)
{
	size_t len = strlen(hex);

	if (!strcmp(hex, "-"))
		return 0;
	if (len % 2)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

/* The promises of python_lines.h about a table's ranges. */
static const char *check_ranges(const struct sym_py_line_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].start >= r[i].end)
			return "empty range";
		if (r[i].line < -1)
			return "line below -1";
		if (i && r[i].start < r[i - 1].end)
			return "ranges overlap or are out of order";
		if (i && r[i].start == r[i - 1].end && r[i].line == r[i - 1].line)
			return "neighbours with one line not joined";
	}
	return NULL;
}

/* Decodes one table and prints its answer; 1 on a broken promise. */
static int dump(unsigned int minor, int32_t first, uint32_t code_len, const uint8_t *t,
		size_t len)
{
	struct sym_py_line_range *r = NULL, *again = NULL;
	const char *bad;
	size_t n = 0, n2 = 0;
	int err;

	err = sym_py_lines_decode(minor, t, len, first, MAX_RANGES, &r, &n);
	if (err) {
		printf("err %d\n", -err);
		return 0;
	}
	bad = check_ranges(r, n);
	/* One range fewer than it takes is refused; exactly as many, not. */
	if (!bad && n && sym_py_lines_decode(minor, t, len, first, n - 1, &again, &n2) != -E2BIG)
		bad = "max_ranges - 1 not refused with -E2BIG";
	free(again);
	again = NULL;
	if (!bad && (sym_py_lines_decode(minor, t, len, first, n, &again, &n2) || n2 != n))
		bad = "max_ranges exactly refused";
	free(again);
	if (bad) {
		fprintf(stderr, "python_lines_dump: 3.%u firstlineno %" PRId32 ": %s\n", minor,
			first, bad);
		free(r);
		return 1;
	}
	printf("ok %zu %" PRIu32, n, n ? r[n - 1].end : 0);
	for (uint32_t off = 0; off < code_len; off += 2)
		printf(" %" PRId32, sym_py_line_at(r, n, off));
	putchar('\n');
	free(r);
	return 0;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = 0;

	while ((got = getline(&line, &cap, stdin)) > 0) {
		unsigned int minor;
		int32_t first;
		uint32_t code_len;
		int hex_at = 0;
		uint8_t *buf = malloc((size_t)got);
		long len;

		if (!buf)
			return 1;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%u %" SCNd32 " %" SCNu32 " %n", &minor, &first, &code_len,
			   &hex_at) != 3 || !hex_at ||
		    (len = parse_hex(line + hex_at, buf)) < 0) {
			fprintf(stderr, "python_lines_dump: bad input line: %s\n", line);
			return 2;
		}
		rc |= dump(minor, first, code_len, buf, (size_t)len);
		free(buf);
	}
	free(line);
	return rc;
}
