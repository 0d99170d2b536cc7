/* Reading a CPython code object out of another process's memory (see
 * python_code.h). Every pointer read is the other process's word: each
 * object is checked to be of the type it should be before anything else of
 * it is believed, and every length is capped before it is read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python_code.h"
#include "python_lines.h"

#define FNV_PRIME 0x100000001b3ULL
#define FNV_OFFSET 0xcbf29ce484222325ULL
/* ob_type: after ob_refcnt in every object of a default build. */
#define OB_TYPE 8
/* The largest header read at once: a code object's fields up to its line
 * table, or a string's. */
#define HEADER_MAX 256

uint32_t sym_py_code_tag(int32_t firstlineno, uint64_t name, uint64_t filename)
{
	uint64_t h = FNV_OFFSET;

	h = (h ^ (uint64_t)(uint32_t)firstlineno) * FNV_PRIME;
	h = (h ^ name) * FNV_PRIME;
	h = (h ^ filename) * FNV_PRIME;
	return (uint32_t)(h ^ (h >> 32)) & ~(uint32_t)SMOLDER_PY_TAG_ENTRY;
}

static int read_mem(int fd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n;

	if (addr == 0 || addr > (UINT64_MAX >> 1) - len)
		return -EIO;
	n = pread(fd, buf, len, (off_t)addr);
	return n == (ssize_t)len ? 0 : -EIO;
}

static uint64_t word_at(const uint8_t *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static uint32_t u32_at(const uint8_t *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* An object's header, checked to be of type. */
static int read_object(int fd, uint64_t addr, uint64_t type, uint8_t *buf, size_t len)
{
	int err = read_mem(fd, addr, buf, len);

	if (!err && word_at(buf, OB_TYPE) != type)
		err = -EINVAL;
	return err;
}

/* Appends code point c as UTF-8: U+FFFD for a surrogate or past U+10FFFF. */
static size_t put_utf8(char *out, uint32_t c)
{
	if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		c = 0xfffd;
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A compact str at addr, as a new UTF-8 string of at most max characters.
 * Legacy (non-compact) strings are not read: names and file names are
 * compact. */
static int read_str(int fd, const struct sym_py_layout *l, const struct sym_py_types *t,
		    uint64_t addr, size_t max, char **out)
{
	uint8_t head[HEADER_MAX], *data;
	uint64_t length, at;
	uint32_t state, kind;
	size_t len = 0;
	char *s;
	int err;

	*out = NULL;
	err = read_object(fd, addr, t->unicode_type, head, l->unicode_ascii_data);
	if (err)
		return err;
	length = word_at(head, l->unicode_length);
	state = u32_at(head, l->unicode_state);
	kind = (state >> 2) & 7;
	if (!((state >> 5) & 1) || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if (length > max)
		return -E2BIG;
	at = addr + (((state >> 6) & 1) ? l->unicode_ascii_data : l->unicode_compact_data);
	data = malloc(length * kind + 1);
	s = malloc(length * 4 + 1);
	if (!data || !s) {
		free(data);
		free(s);
		return -ENOMEM;
	}
	err = length ? read_mem(fd, at, data, length * kind) : 0;
	for (uint64_t i = 0; !err && i < length; i++) {
		uint32_t c = kind == 1 ? data[i]
			     : kind == 2 ? (uint32_t)(data[2 * i] | data[2 * i + 1] << 8)
					 : u32_at(data, 4 * i);

		len += put_utf8(s + len, c ? c : 0xfffd); /* no NUL inside a C string */
	}
	free(data);
	if (err) {
		free(s);
		return err;
	}
	s[len] = '\0';
	*out = s;
	return 0;
}

/* The bytes object at addr (a line table), decoded. */
static int read_lines(int fd, const struct sym_py_layout *l, const struct sym_py_types *t,
		      uint64_t addr, int32_t first_line, struct sym_py_code *out)
{
	uint8_t head[HEADER_MAX], *table;
	uint64_t size;
	int err = read_object(fd, addr, t->bytes_type, head, l->bytes_data);

	if (err)
		return err;
	size = word_at(head, l->bytes_size);
	if (size > SYM_PY_TABLE_MAX)
		return -E2BIG;
	table = malloc(size ? size : 1);
	if (!table)
		return -ENOMEM;
	err = size ? read_mem(fd, addr + l->bytes_data, table, size) : 0;
	if (!err)
		err = sym_py_lines_decode(t->minor, table, size, first_line, SYM_PY_RANGES_MAX,
					  &out->lines, &out->n_lines);
	free(table);
	return err;
}

static size_t code_header_len(const struct sym_py_layout *l)
{
	uint16_t fields[] = { l->walk.code_firstlineno, l->walk.code_name, l->walk.code_filename,
			      l->code_qualname, l->code_linetable };
	size_t len = OB_TYPE + 8;

	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (fields[i] != SMOLDER_PY_FIELD_NONE && fields[i] + 8u > len)
			len = fields[i] + 8u;
	return len;
}

int sym_py_code_read(int mem_fd, const struct sym_py_types *types, uint64_t addr,
		     uint32_t tag, struct sym_py_code *out)
{
	const struct sym_py_layout *l = sym_py_layout_find(3, types->minor);
	uint8_t head[HEADER_MAX];
	uint64_t name, file;
	int32_t first;
	int err;

	memset(out, 0, sizeof(*out));
	if (!l)
		return -ENOTSUP;
	err = read_object(mem_fd, addr, types->code_type, head, code_header_len(l));
	if (err)
		return err;
	memcpy(&first, head + l->walk.code_firstlineno, sizeof(first));
	name = word_at(head, l->walk.code_name);
	file = word_at(head, l->walk.code_filename);
	if (sym_py_code_tag(first, name, file) != (tag & ~(uint32_t)SMOLDER_PY_TAG_ENTRY))
		return -ESTALE;
	out->first_line = first;
	if (l->code_qualname != SMOLDER_PY_FIELD_NONE)
		name = word_at(head, l->code_qualname);
	err = read_str(mem_fd, l, types, name, SYM_PY_NAME_MAX, &out->qualname);
	if (!err)
		err = read_str(mem_fd, l, types, file, SYM_PY_FILE_MAX, &out->file);
	/* A table that cannot be read leaves the first line: the frame
	 * keeps its name. */
	if (!err && read_lines(mem_fd, l, types, word_at(head, l->code_linetable), first, out)) {
		free(out->lines);
		out->lines = NULL;
		out->n_lines = 0;
	}
	if (err)
		sym_py_code_release(out);
	return err;
}

int64_t sym_py_code_line(const struct sym_py_code *code, int32_t instr)
{
	int32_t line;

	if (instr < 0 || instr == SMOLDER_PY_INSTR_NONE || !code->n_lines)
		return 0;
	line = sym_py_line_at(code->lines, code->n_lines, (uint32_t)instr);
	return line > 0 ? line : 0;
}

void sym_py_code_release(struct sym_py_code *code)
{
	free(code->qualname);
	free(code->file);
	free(code->lines);
	memset(code, 0, sizeof(*code));
}

/* PyTypeObject's tp_name and tp_members, and PyMemberDef's name and
 * offset (x86_64): the same from 3.8 to 3.13 (Include/cpython/object.h,
 * Include/descrobject.h). */
#define TP_NAME 24
#define TP_MEMBERS 240
#define MEMBER_SIZE 40
#define MEMBER_OFFSET 16
#define MEMBERS_MAX 32

/* The C string at addr, at most len - 1 bytes, into buf. */
static int read_cstr(int fd, uint64_t addr, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		if (read_mem(fd, addr + n, buf + n, 1))
			return -EIO;
		if (!buf[n])
			return 0;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

/* The offset o expects of the code object member called name, or -1 when
 * it is no member o knows of. */
static int expected_member(const struct sym_py_check *o, const char *name)
{
	const char *table = o->minor < 10 ? "co_lnotab" : "co_linetable";

	if (!strcmp(name, "co_name"))
		return o->code_name;
	if (!strcmp(name, "co_filename"))
		return o->code_filename;
	if (!strcmp(name, "co_qualname"))
		return o->code_qualname;
	if (!strcmp(name, "co_firstlineno"))
		return o->code_firstlineno;
	if (!strcmp(name, table))
		return o->code_linetable;
	return -1;
}

/* PyCode_Type read back: its name, then its members' offsets. */
static int check_code_type(int fd, const struct sym_py_check *o)
{
	uint64_t name, members;
	char buf[32];
	unsigned int found = 0;

	if (read_mem(fd, o->code_type + TP_NAME, &name, sizeof(name)))
		return -EIO;
	/* A type object's name is a string it can read: one it cannot is no
	 * type object's. */
	if (read_cstr(fd, name, buf, sizeof(buf)) || strcmp(buf, "code") != 0)
		return -EINVAL;
	if (read_mem(fd, o->code_type + TP_MEMBERS, &members, sizeof(members)) || !members)
		return -EINVAL;
	for (unsigned int i = 0; i < MEMBERS_MAX; i++) {
		uint8_t m[MEMBER_SIZE];
		int64_t offset;
		int want;

		if (read_mem(fd, members + (uint64_t)i * MEMBER_SIZE, m, sizeof(m)))
			return -EINVAL;
		if (!word_at(m, 0))
			break;
		if (read_cstr(fd, word_at(m, 0), buf, sizeof(buf)))
			return -EINVAL;
		want = expected_member(o, buf);
		memcpy(&offset, m + MEMBER_OFFSET, sizeof(offset));
		if (want < 0)
			continue;
		if (want == SMOLDER_PY_FIELD_NONE || offset != want)
			return -EINVAL;
		found++;
	}
	/* co_name, co_filename, co_firstlineno, the table; co_qualname too on
	 * 3.11+. */
	return found >= (o->code_qualname != SMOLDER_PY_FIELD_NONE ? 5u : 4u) ? 0 : -EINVAL;
}

int sym_py_check_layout(int mem_fd, uint64_t runtime, const struct sym_py_check *o,
			 uint32_t *threads)
{
	uint64_t interp, ts, back;
	uint32_t n = 0;
	int err;

	*threads = 0;
	err = check_code_type(mem_fd, o);
	if (err)
		return err;
	if (read_mem(mem_fd, runtime + o->runtime_interp_head, &interp, sizeof(interp)))
		return -EIO;
	/* Not started yet (sampled before Py_Initialize): nothing to tell. */
	if (!interp)
		return -EAGAIN;
	if (read_mem(mem_fd, interp + o->interp_tstate_head, &ts, sizeof(ts)))
		return -EINVAL;
	if (!ts)
		return -EAGAIN;
	while (ts && n < SMOLDER_PY_MAX_THREADS) {
		if (read_mem(mem_fd, ts + o->tstate_interp, &back, sizeof(back)) || back != interp ||
		    read_mem(mem_fd, ts + o->tstate_next, &ts, sizeof(ts)))
			return -EINVAL;
		n++;
	}
	*threads = n;
	return 0;
}
