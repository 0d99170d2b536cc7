/* Kernel function names for the kernel half of a stack, from /proc/kallsyms
 * ("ADDR TYPE NAME [MODULE]" a line). The file has ~120k lines and the
 * table lives as long as the agent, so it is kept tight: one 16-byte entry
 * a symbol and one string arena, sorted once.
 *
 * kallsyms gives no sizes: a symbol extends to the next one. Non-text
 * symbols (data, rodata, absolute) are kept, nameless, only as boundaries,
 * so that an address in data after the last function is not named after
 * that function. Module names are dropped: frames are named by function. */
#include "kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_search.h"

#define NOT_TEXT UINT32_MAX /* name of a boundary entry */

struct ksym {
	uint64_t addr; /* first: see addr_search.h */
	uint32_t name; /* offset in the arena, or NOT_TEXT */
	uint32_t rank; /* at one address the lowest rank wins */
};

struct sym_kallsyms {
	struct ksym *syms;
	size_t n;
	char *names;
};

struct builder {
	struct ksym *syms;
	size_t n, cap;
	char *names;
	size_t len, names_cap;
	bool any_address;
};

/* Global before weak before local, all before non-text. */
static int type_rank(char t)
{
	switch (t) {
	case 'T': return 0;
	case 'W': return 1;
	case 't': return 2;
	case 'w': return 3;
	default: return 4;
	}
}

static int add_name(struct builder *b, const char *s, size_t len, uint32_t *off)
{
	if (b->len + len + 1 > b->names_cap) {
		size_t cap = b->names_cap ? b->names_cap * 2 : 1 << 16;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		if (cap >= NOT_TEXT)
			return -E2BIG;
		p = realloc(b->names, cap);
		if (!p)
			return -ENOMEM;
		b->names = p;
		b->names_cap = cap;
	}
	*off = (uint32_t)b->len;
	memcpy(b->names + b->len, s, len);
	b->names[b->len + len] = '\0';
	b->len += len + 1;
	return 0;
}

/* The hex number at s, of 1 to 16 digits, into *v; *end after it. */
static bool parse_hex(char *s, uint64_t *v, char **end)
{
	uint64_t x = 0;
	int n = 0;

	for (;; n++, s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0'
			: *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
			: *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
						 : -1;

		if (d < 0)
			break;
		if (n == 16)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	*end = s;
	return n > 0;
}

static int add_sym(struct builder *b, struct ksym k)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		struct ksym *p = realloc(b->syms, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->syms = p;
		b->cap = cap;
	}
	b->syms[b->n++] = k;
	return 0;
}

/* A line too long to be read whole (no kernel name is: KSYM_NAME_LEN is
 * 512): its address ends the symbol before, nameless, so that what lies
 * there is not named after that one. */
static int add_boundary(struct builder *b, char *line)
{
	uint64_t addr;
	char *end;

	if (!parse_hex(line, &addr, &end) || *end != ' ')
		return 0;
	return add_sym(b, (struct ksym){ .addr = addr, .name = NOT_TEXT, .rank = 4 });
}

/* Malformed lines are skipped, not fatal: one odd line must not cost the
 * whole kernel its names. */
static int add_line(struct builder *b, char *line)
{
	char *end, *name;
	uint64_t addr;
	struct ksym k;
	size_t len;
	char type;
	int rank, err;

	if (!parse_hex(line, &addr, &end) || *end != ' ' || !end[1] || end[2] != ' ')
		return 0;
	type = end[1];
	name = end + 3;
	len = strcspn(name, " \t\n");
	if (!len)
		return 0;
	if (addr)
		b->any_address = true;
	rank = type_rank(type);
	k = (struct ksym){ .addr = addr, .name = NOT_TEXT, .rank = (uint32_t)rank };
	if (rank < 4) {
		err = add_name(b, name, len, &k.name);
		if (err)
			return err;
	}
	return add_sym(b, k);
}

/* Ties at one address go to the best rank, then to the earlier line (the
 * arena offset grows with the line number), so the choice is stable. */
static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Sorts s by ksym_cmp. The kernel lists its own symbols by address
 * (modules' may not be): then only the runs at one address are sorted,
 * not the whole table, which took a third of the agent's time in this
 * file. */
static void sort_syms(struct ksym *s, size_t n)
{
	size_t i, run;

	for (i = 1; i < n; i++)
		if (s[i - 1].addr > s[i].addr)
			break;
	if (i < n) {
		qsort(s, n, sizeof(*s), ksym_cmp);
		return;
	}
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && s[i + run].addr == s[i].addr; run++)
			;
		if (run > 1)
			qsort(s + i, run, sizeof(*s), ksym_cmp);
	}
}

/* One entry an address; of a run of boundaries only the first matters. */
static size_t compact(struct ksym *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && (s[k - 1].addr == s[i].addr ||
			  (s[k - 1].name == NOT_TEXT && s[i].name == NOT_TEXT)))
			continue;
		s[k++] = s[i];
	}
	return k;
}

static void *shrink(void *p, size_t size)
{
	void *q = size ? realloc(p, size) : NULL;

	return q ? q : p;
}

/* Every line of path into b, read in large chunks: getline's small reads
 * and its copy of each line were most of the agent's own time here. A
 * line longer than a chunk (none in a real kallsyms) is a boundary. */
static int read_lines(const char *path, struct builder *b)
{
	enum { CHUNK = 64 << 10 };
	char *buf = malloc(CHUNK + 1);
	size_t have = 0;
	bool skipping = false;
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	for (;;) {
		ssize_t got = read(fd, buf + have, CHUNK - have);
		char *line = buf, *nl;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -EIO;
			break;
		}
		have += (size_t)got;
		buf[have] = '\0';
		/* The last line may lack its newline: at the end, it is whole. */
		if (got == 0 && have && buf[have - 1] != '\n')
			buf[have++] = '\n';
		while (!err && (nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			if (!skipping)
				err = add_line(b, line);
			skipping = false;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (err || got == 0)
			break;
		if (have == CHUNK) { /* a line longer than a chunk */
			err = skipping ? 0 : add_boundary(b, buf);
			have = 0;
			skipping = true;
		}
	}
	close(fd);
	free(buf);
	return err;
}

int sym_kallsyms_load(const char *path, struct sym_kallsyms **ks)
{
	struct builder b = { 0 };
	struct sym_kallsyms *k;
	int err;

	*ks = NULL;
	err = read_lines(path, &b);
	if (!err && b.n && !b.any_address)
		err = -EPERM;
	k = err ? NULL : calloc(1, sizeof(*k));
	if (!k) {
		free(b.syms);
		free(b.names);
		return err ? err : -ENOMEM;
	}
	sort_syms(b.syms, b.n);
	k->n = compact(b.syms, b.n);
	k->syms = shrink(b.syms, k->n * sizeof(*b.syms));
	k->names = shrink(b.names, b.len);
	*ks = k;
	return 0;
}

void sym_kallsyms_free(struct sym_kallsyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->names);
	free(ks);
}

int sym_kallsyms_lookup(const struct sym_kallsyms *ks, uint64_t addr,
			const char **name)
{
	size_t i = sym_addr_search(ks->syms, ks->n, sizeof(*ks->syms), addr);

	if (!i || ks->syms[i - 1].name == NOT_TEXT)
		return -ENOENT;
	*name = ks->names + ks->syms[i - 1].name;
	return 0;
}
