/* python_code_dump: code objects of a running CPython read by
 * sym_py_code_read through /proc/PID/mem, for test_python_code.py, which
 * holds them against what the interpreter says of its own objects.
 *
 *   python_code_dump PID
 *
 * Reads lines "MINOR CODE_TYPE UNICODE_TYPE BYTES_TYPE ADDR FIRSTLINENO
 * NAME FILENAME TAGXOR [OFF...]" on stdin (numbers in C's notation: 0x
 * for hex): the types, the code object at ADDR tagged as the sampling
 * program would tag it (sym_py_code_tag of FIRSTLINENO and the addresses
 * of its co_name and co_filename, then XOR TAGXOR, to tell a wrong tag),
 * and byte offsets of instructions. Answers each with one line:
 *   "ok FIRST QUALNAME FILE NLINES L..." : QUALNAME and FILE as the hex of
 *     their UTF-8 bytes ("-" when empty), NLINES the ranges of its line
 *     table, then sym_py_code_line at each OFF;
 *   "err ERRNO": sym_py_code_read refused (ERRNO positive).
 * Exits 1 when a promise of python_code.h is broken (a result not zeroed
 * after an error, a string over its cap, lines without a count), naming
 * the input. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python_code.h"

#define MAX_OFFSETS 4096

static void put_hex(const char *s)
{
	putchar(' ');
	if (!*s)
		putchar('-');
	for (; *s; s++)
		printf("%02x", (unsigned int)(unsigned char)*s);
}

/* What sym_py_code_read promises of *c after it returned err. */
static const char *check(const struct sym_py_code *c, int err)
{
	static const struct sym_py_code zero;

	if (err)
		return memcmp(c, &zero, sizeof(zero)) ? "not zeroed after an error" : NULL;
	if (!c->qualname || !c->file)
		return "a name missing";
	/* At most 4 UTF-8 bytes a character. */
	if (strlen(c->qualname) > 4 * SYM_PY_NAME_MAX || strlen(c->file) > 4 * SYM_PY_FILE_MAX)
		return "a string over its cap";
	if (!c->lines != !c->n_lines || c->n_lines > SYM_PY_RANGES_MAX)
		return "lines and their count disagree";
	return NULL;
}

/* Answers one request; 1 on a broken promise, 2 on a bad line. */
static int answer(int mem_fd, char *line)
{
	unsigned long long v[9];
	long long offs[MAX_OFFSETS];
	struct sym_py_types types;
	struct sym_py_code c;
	size_t n_offs = 0;
	const char *bad;
	char *p = line, *end;
	uint32_t tag;
	int err;

	for (size_t i = 0; i < 9; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 0);
		if (end == p || errno)
			return 2;
		p = end;
	}
	for (;;) {
		long long o = strtoll(p, &end, 0);

		if (end == p)
			break;
		if (n_offs == MAX_OFFSETS)
			return 2;
		offs[n_offs++] = o;
		p = end;
	}
	types = (struct sym_py_types){ .minor = (unsigned int)v[0], .code_type = v[1],
				       .unicode_type = v[2], .bytes_type = v[3] };
	tag = sym_py_code_tag((int32_t)v[5], v[6], v[7]) ^ (uint32_t)v[8];
	err = sym_py_code_read(mem_fd, &types, v[4], tag, &c);
	bad = check(&c, err);
	if (bad) {
		fprintf(stderr, "python_code_dump: %s: %s\n", line, bad);
		return 1;
	}
	if (err) {
		printf("err %d\n", -err);
		return 0;
	}
	printf("ok %" PRId32, c.first_line);
	put_hex(c.qualname);
	put_hex(c.file);
	printf(" %zu", c.n_lines);
	for (size_t i = 0; i < n_offs; i++)
		printf(" %" PRId64, sym_py_code_line(&c, (int32_t)offs[i]));
	putchar('\n');
	sym_py_code_release(&c);
	return 0;
}

int main(int argc, char **argv)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int fd, rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: python_code_dump PID < requests\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "python_code_dump: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (getline(&line, &cap, stdin) > 0) {
		int r;

		line[strcspn(line, "\n")] = '\0';
		r = answer(fd, line);
		if (r == 2) {
			fprintf(stderr, "python_code_dump: bad input line: %s\n", line);
			return 2;
		}
		rc |= r;
	}
	free(line);
	close(fd);
	return rc;
}
