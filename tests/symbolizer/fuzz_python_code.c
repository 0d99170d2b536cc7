/* libFuzzer target for reading a CPython code object out of a profiled
 * process's memory (python_code.h): whatever the process holds where a
 * sampled frame's code object was, sym_py_code_read must refuse it or read
 * it without crashing, leaking or reading out of bounds, and what it
 * gives must be what it promises.
 *
 * The input is the process's memory: its bytes are written to a memfd,
 * read as /proc/PID/mem would be, so an address is an offset into the
 * input and reading past its end fails as unmapped memory does. The first
 * bytes, part of that memory too, say what to read:
 *   [0]      bits 0-2: the minor version (3.8..3.13, and 7 and 14, which
 *            have no layout); bit 3: take the tag from [21..24], else
 *            compute it from the code object's own fields, so that a
 *            mutated input still passes the tag and reaches the strings;
 *   [1..12]  PyCode_Type, PyUnicode_Type, PyBytes_Type (u32 each, LE);
 *   [13..20] the code object's address (u64, LE: far ones too);
 *   [21..24] the tag (u32, LE).
 *
 * The checks: the error is one python_code.h names, -ENOTSUP exactly for
 * the minors without a layout; after an error the result is zeroed;
 * after success the tag and first line are the code object's (read back
 * here by the layout), the names are NUL-terminated UTF-8 (strict: no
 * surrogates, no overlong forms, nothing past U+10FFFF, no NUL) of at most
 * SYM_PY_NAME_MAX and SYM_PY_FILE_MAX characters, the line ranges sorted
 * and apart, and sym_py_code_line gives no line below 0. Seeds in
 * corpus/python_code/ (make_python_code.py: real code objects of each
 * interpreter, their strings and line tables, moved into one image). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "python_code.h"
#include "python_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LEN 25
#define TAG_FROM_HEADER 8u

static const unsigned int minors[8] = { 8, 9, 10, 11, 12, 13, 7, 14 };

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* The memfd standing for the process's memory, made once. */
static int memory(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz_python_code", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return fd;
}

/* The number of characters in s, a strict UTF-8 string; -1 when it is
 * not one. */
static long utf8_chars(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	long n = 0;

	while (*p) {
		uint32_t c;
		size_t len;

		if (*p < 0x80) {
			c = *p;
			len = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			c = *p & 0x1f;
			len = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			c = *p & 0x0f;
			len = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			c = *p & 0x07;
			len = 4;
		} else {
			return -1;
		}
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			c = c << 6 | (p[i] & 0x3f);
		}
		if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
		    (len == 4 && c < 0x10000) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return -1;
		p += len;
		n++;
	}
	return n;
}

static void check_success(const struct sym_py_code *c, const uint8_t *data, size_t size,
			  uint64_t addr, uint32_t tag, const struct sym_py_layout *l)
{
	long chars;

	if (!c->qualname || !c->file)
		abort();
	chars = utf8_chars(c->qualname);
	if (chars < 0 || chars > SYM_PY_NAME_MAX)
		abort();
	chars = utf8_chars(c->file);
	if (chars < 0 || chars > SYM_PY_FILE_MAX)
		abort();
	if (!c->lines != !c->n_lines || c->n_lines > SYM_PY_RANGES_MAX)
		abort();
	for (size_t i = 0; i < c->n_lines; i++)
		if (c->lines[i].start >= c->lines[i].end || c->lines[i].line < -1 ||
		    (i && c->lines[i].start < c->lines[i - 1].end))
			abort();
	{
		static const int32_t instrs[] = { 0, 2, 6, 100, 4094, -1, INT32_MAX,
						  SMOLDER_PY_INSTR_NONE };

		for (size_t i = 0; i < sizeof(instrs) / sizeof(*instrs); i++)
			if (sym_py_code_line(c, instrs[i]) < 0)
				abort();
	}
	/* The code object was read whole from the input: its tag and first
	 * line are there. */
	if (addr >= size || size - addr < (uint64_t)l->code_linetable + 8)
		abort();
	{
		const uint8_t *o = data + addr;
		int32_t first = (int32_t)le(o + l->walk.code_firstlineno, 4);

		if (c->first_line != first)
			abort();
		if (sym_py_code_tag(first, le(o + l->walk.code_name, 8),
				    le(o + l->walk.code_filename, 8)) !=
		    (tag & ~(uint32_t)SMOLDER_PY_TAG_ENTRY))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sym_py_code zero;
	const struct sym_py_layout *l;
	struct sym_py_types types;
	struct sym_py_code c;
	uint64_t addr;
	uint32_t tag;
	int err, fd;

	if (size < HEADER_LEN)
		return 0;
	types.minor = minors[data[0] & 7];
	types.code_type = le(data + 1, 4);
	types.unicode_type = le(data + 5, 4);
	types.bytes_type = le(data + 9, 4);
	addr = le(data + 13, 8);
	tag = (uint32_t)le(data + 21, 4);
	l = sym_py_layout_find(3, types.minor);
	/* The tag the sampling program would have taken, where the code
	 * object's fields are in the input. */
	if (!(data[0] & TAG_FROM_HEADER) && l && addr < size &&
	    size - addr >= (uint64_t)l->code_linetable + 8)
		tag = sym_py_code_tag((int32_t)le(data + addr + l->walk.code_firstlineno, 4),
				      le(data + addr + l->walk.code_name, 8),
				      le(data + addr + l->walk.code_filename, 8));
	fd = memory(data, size);
	err = sym_py_code_read(fd, &types, addr, tag, &c);
	if (!l != (err == -ENOTSUP))
		abort();
	switch (err) {
	case 0:
		check_success(&c, data, size, addr, tag, l);
		sym_py_code_release(&c);
		if (memcmp(&c, &zero, sizeof(c)))
			abort();
		break;
	case -ESTALE:
	case -EINVAL:
	case -ENOTSUP:
	case -EIO:
	case -E2BIG:
	case -ENOMEM:
		if (memcmp(&c, &zero, sizeof(c)))
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
