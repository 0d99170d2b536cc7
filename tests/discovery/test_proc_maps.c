/* tests/discovery: the /proc/PID/maps parser and the mapping lookup, on
 * lines shaped like the kernel's and on lines that must be refused. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "disc.h"

struct want {
	uint64_t start, end, offset;
	uint32_t major, minor;
	uint64_t inode;
	const char *perms;
	const char *path;
};

struct maps_case {
	const char *name;
	const char *text;
	int err;
	size_t n;
	struct want want[8];
};

#define CAT "55e9e7718000-55e9e771a000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"

static const struct maps_case cases[] = {
	{ "PIE executable, heap, anonymous, libc",
	  CAT
	  "55e9e771a000-55e9e771f000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
	  "55ea19aaf000-55ea19ad0000 rw-p 00000000 00:00 0                          [heap]\n"
	  "7fb25b1a7000-7fb25b1c9000 rw-p 00000000 00:00 0 \n"
	  "7fb25b250000-7fb25b3a6000 r-xp 00026000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	  "7fb25b40f000-7fb25b416000 r--s 00000000 103:02 332280                    /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache\n",
	  0, 6, {
		  { 0x55e9e7718000, 0x55e9e771a000, 0, 0xfe, 0, 247134, "r--p", "/usr/bin/cat" },
		  { 0x55e9e771a000, 0x55e9e771f000, 0x2000, 0xfe, 0, 247134, "r-xp", "/usr/bin/cat" },
		  { 0x55ea19aaf000, 0x55ea19ad0000, 0, 0, 0, 0, "rw-p", "[heap]" },
		  { 0x7fb25b1a7000, 0x7fb25b1c9000, 0, 0, 0, 0, "rw-p", NULL },
		  { 0x7fb25b250000, 0x7fb25b3a6000, 0x26000, 0xfe, 0, 332835, "r-xp",
		    "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		  { 0x7fb25b40f000, 0x7fb25b416000, 0, 0x103, 0x02, 332280, "r--s",
		    "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache" },
	  } },
	{ "vdso, stack, vsyscall at the top of the address space",
	  "7fb25b41f000-7fb25b421000 r-xp 00000000 00:00 0                          [vdso]\n"
	  "7ffdf9ec0000-7ffdf9ee1000 rw-p 00000000 00:00 0                          [stack]\n"
	  "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
	  0, 3, {
		  { 0x7fb25b41f000, 0x7fb25b421000, 0, 0, 0, 0, "r-xp", "[vdso]" },
		  { 0x7ffdf9ec0000, 0x7ffdf9ee1000, 0, 0, 0, 0, "rw-p", "[stack]" },
		  { 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "--xp", "[vsyscall]" },
	  } },
	{ "paths with spaces and deleted files are kept whole",
	  "00400000-00452000 r-xp 00000000 08:01 1048602                            /opt/my app/bin/server v2\n"
	  "7f0000000000-7f0000001000 r-xp 00001000 08:01 99                         /usr/lib/libold.so (deleted)\n"
	  "7f0000002000-7f0000003000 rwxs 00000000 00:01 2048                       /memfd:jit code (deleted)\n",
	  0, 3, {
		  { 0x400000, 0x452000, 0, 8, 1, 1048602, "r-xp", "/opt/my app/bin/server v2" },
		  { 0x7f0000000000, 0x7f0000001000, 0x1000, 8, 1, 99, "r-xp",
		    "/usr/lib/libold.so (deleted)" },
		  { 0x7f0000002000, 0x7f0000003000, 0, 0, 1, 2048, "rwxs", "/memfd:jit code (deleted)" },
	  } },
	{ "anonymous without a trailing space, no newline at the end",
	  "7fb25b1a7000-7fb25b1c9000 rw-p 00000000 00:00 0\n"
	  "7fb25b421000-7fb25b422000 r--p 00000000 fe:00 332383 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	  0, 2, {
		  { 0x7fb25b1a7000, 0x7fb25b1c9000, 0, 0, 0, 0, "rw-p", NULL },
		  { 0x7fb25b421000, 0x7fb25b422000, 0, 0xfe, 0, 332383, "r--p",
		    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
	  } },
	{ "unsorted input comes out sorted",
	  "7ffdf9ec0000-7ffdf9ee1000 rw-p 00000000 00:00 0                          [stack]\n"
	  "00400000-00401000 r--p 00000000 08:01 7                                  /bin/a\n"
	  "7fb25b41f000-7fb25b421000 r-xp 00000000 00:00 0                          [vdso]\n",
	  0, 3, {
		  { 0x400000, 0x401000, 0, 8, 1, 7, "r--p", "/bin/a" },
		  { 0x7fb25b41f000, 0x7fb25b421000, 0, 0, 0, 0, "r-xp", "[vdso]" },
		  { 0x7ffdf9ec0000, 0x7ffdf9ee1000, 0, 0, 0, 0, "rw-p", "[stack]" },
	  } },
	{ "empty text: no mappings", "", 0, 0, { { 0 } } },
	{ "uppercase hex and the largest 64-bit values",
	  "FFFFFFFFFFFFFFFE-FFFFFFFFFFFFFFFF r--p FFFFFFFFFFFFFFFF ffffffff:ffffffff 18446744073709551615 /x\n",
	  0, 1, {
		  { 0xfffffffffffffffe, 0xffffffffffffffff, UINT64_MAX, UINT32_MAX, UINT32_MAX,
		    UINT64_MAX, "r--p", "/x" },
	  } },

	{ "missing inode and path", "55e9e7718000-55e9e771a000 r--p 00000000 fe:00\n", -EINVAL, 0, { { 0 } } },
	{ "missing end address", "55e9e7718000 r--p 00000000 fe:00 247134 /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "missing minor", "55e9e7718000-55e9e771a000 r--p 00000000 fe 247134 /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "only an address", "55e9e7718000-55e9e771a000", -EINVAL, 0, { { 0 } } },
	{ "bad hex in start", "55e9g7718000-55e9e771a000 r--p 00000000 fe:00 247134 /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "bad hex in offset", "55e9e7718000-55e9e771a000 r--p 0000z000 fe:00 247134 /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "0x prefix", "0x55e9e7718000-55e9e771a000 r--p 00000000 fe:00 247134 /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "hex inode", "55e9e7718000-55e9e771a000 r--p 00000000 fe:00 3c4ae /usr/bin/cat\n", -EINVAL, 0, { { 0 } } },
	{ "start wider than 64 bits", "1ffffffffffffffff-ffffffffffffffff r--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "offset wider than 64 bits", "1000-2000 r--p 10000000000000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "major wider than 32 bits", "1000-2000 r--p 00000000 100000000:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "inode past 2^64-1", "1000-2000 r--p 00000000 00:00 18446744073709551616\n", -EINVAL, 0, { { 0 } } },
	{ "perms too short", "1000-2000 r-x 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "perms not rwxps", "1000-2000 rwzp 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "empty range", "2000-2000 r--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "end below start", "3000-2000 r--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "tab between fields", "1000-2000\tr--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "two spaces between fields", "1000-2000  r--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "junk glued to the inode", "1000-2000 r--p 00000000 00:00 12ab /x\n", -EINVAL, 0, { { 0 } } },
	{ "a blank line", "1000-2000 r--p 00000000 00:00 0\n\n3000-4000 r--p 00000000 00:00 0\n", -EINVAL, 0, { { 0 } } },
	{ "a lone newline", "\n", -EINVAL, 0, { { 0 } } },
	{ "good lines with paths, then a bad one (nothing may leak)",
	  CAT CAT "7fb25b1a7000-7fb25b1c9000 rw-p 00000000 00:00\n", -EINVAL, 0, { { 0 } } },
};

static void check_case(const struct maps_case *c)
{
	struct disc_mappings m = { .v = (struct disc_mapping *)1, .n = 99 };
	int failed_before = check_failures;
	int err = disc_maps_parse(c->text, strlen(c->text), &m);

	CHECK_INT(err, c->err);
	CHECK_INT(m.n, c->n);
	if (err) {
		CHECK(m.v == NULL);
	} else if (m.n == c->n) {
		for (size_t i = 0; i < c->n; i++) {
			const struct disc_mapping *g = &m.v[i];
			const struct want *w = &c->want[i];

			CHECK_U64(g->start, w->start);
			CHECK_U64(g->end, w->end);
			CHECK_U64(g->offset, w->offset);
			CHECK_U64(g->dev_major, w->major);
			CHECK_U64(g->dev_minor, w->minor);
			CHECK_U64(g->inode, w->inode);
			CHECK_STR(g->perms, w->perms);
			CHECK_STR(g->path, w->path);
		}
	}
	if (!err) {
		disc_mappings_release(&m);
		CHECK(m.v == NULL && m.n == 0);
	}
	if (check_failures != failed_before)
		fprintf(stderr, "  in case: %s\n", c->name);
}

static void test_nul_refused(void)
{
	static const char text[] = "1000-2000 r--p 00000000 08:01 5 /bin/a\0b\n";
	struct disc_mappings m;

	CHECK_INT(disc_maps_parse(text, sizeof(text) - 1, &m), -EINVAL);
	CHECK(m.v == NULL && m.n == 0);
}

/* The length given, not a NUL, ends the text. */
static void test_length_bounds_text(void)
{
	static const char text[] = "1000-2000 r--p 00000000 08:01 5 /bin/abc";
	struct disc_mappings m;

	CHECK_INT(disc_maps_parse(text, sizeof(text) - 3, &m), 0);
	CHECK_INT(m.n, 1);
	if (m.n == 1)
		CHECK_STR(m.v[0].path, "/bin/a");
	disc_mappings_release(&m);
	CHECK_INT(disc_maps_parse(text, 12, &m), -EINVAL);
}

static void test_find(void)
{
	static const char text[] =
		"00400000-00401000 r--p 00000000 08:01 7 /bin/a\n"
		"00401000-00405000 r-xp 00001000 08:01 7 /bin/a\n"
		"7fb25b41f000-7fb25b421000 r-xp 00000000 00:00 0 [vdso]\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";
	struct disc_mappings m, empty = { .v = NULL };
	const struct disc_mapping *f;

	CHECK_INT(disc_maps_parse(text, sizeof(text) - 1, &m), 0);
	CHECK_INT(m.n, 4);
	if (m.n != 4) {
		disc_mappings_release(&m);
		return;
	}
	CHECK(disc_mappings_find(&m, 0) == NULL);
	CHECK(disc_mappings_find(&m, 0x3fffff) == NULL);
	CHECK(disc_mappings_find(&m, 0x400000) == &m.v[0]);
	CHECK(disc_mappings_find(&m, 0x400fff) == &m.v[0]);
	CHECK(disc_mappings_find(&m, 0x401000) == &m.v[1]);
	CHECK(disc_mappings_find(&m, 0x404fff) == &m.v[1]);
	CHECK(disc_mappings_find(&m, 0x405000) == NULL);        /* gap */
	CHECK(disc_mappings_find(&m, 0x7fb25b420123) == &m.v[2]);
	CHECK(disc_mappings_find(&m, 0x7fb25b421000) == NULL);
	f = disc_mappings_find(&m, 0xffffffffff600400);
	CHECK(f == &m.v[3]);
	CHECK(disc_mappings_find(&m, 0xffffffffff601000) == NULL);
	CHECK(disc_mappings_find(&m, UINT64_MAX) == NULL);
	CHECK(disc_mappings_find(&empty, 0x400000) == NULL);
	CHECK(disc_mappings_find(NULL, 0x400000) == NULL);
	disc_mappings_release(&m);
}

/* n pages, each a mapping of one of files (a path of path_len bytes each)
 * in turn: malloc'd text. */
static char *many_mappings(size_t n, int files, size_t path_len, size_t *len)
{
	size_t line = 80 + path_len, used = 0;
	char *text = malloc(n * line), *path = malloc(path_len + 1);

	if (!text || !path)
		exit(2);
	for (size_t i = 0; i < n; i++) {
		memset(path, 'a' + (int)(i % (size_t)files), path_len);
		path[0] = '/';
		path[path_len] = '\0';
		used += (size_t)snprintf(text + used, n * line - used,
					 "%llx-%llx r--s 00000000 08:01 %d %s\n",
					 0x7f0000000000ULL + i * 0x1000ULL,
					 0x7f0000001000ULL + i * 0x1000ULL, (int)(i % (size_t)files), path);
	}
	free(path);
	*len = used;
	return text;
}

/* 20000 mappings of two files with 1000-byte paths in turn (about 20 MB
 * kept, were they all): cut where DISC_MAPS_BYTES_MAX is reached, the
 * mappings before it whole. The same mappings of one file share its path
 * and all fit. */
static void test_cut(void)
{
	struct disc_mappings m;
	size_t len;
	char *text = many_mappings(20000, 2, 1000, &len);

	CHECK_INT(disc_maps_parse(text, len, &m), 0);
	CHECK(m.cut);
	CHECK(m.n > 1000 && m.n < 20000, "n %zu", m.n);
	CHECK(m.bytes <= DISC_MAPS_BYTES_MAX && m.bytes > DISC_MAPS_BYTES_MAX - 2000,
	      "bytes %zu", m.bytes);
	CHECK(m.n && m.v[m.n - 1].start == 0x7f0000000000ULL + (m.n - 1) * 0x1000ULL);
	CHECK(m.n && m.v[m.n - 1].path && strlen(m.v[m.n - 1].path) == 1000);
	disc_mappings_release(&m);
	free(text);

	text = many_mappings(20000, 1, 1000, &len);
	CHECK_INT(disc_maps_parse(text, len, &m), 0);
	CHECK(!m.cut);
	CHECK_INT(m.n, 20000);
	CHECK_U64(m.bytes, 20000 * sizeof(struct disc_mapping) + 1001);
	CHECK(m.n == 20000 && m.v[19999].path == m.v[0].path);
	disc_mappings_release(&m);
	free(text);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	test_nul_refused();
	test_length_bounds_text();
	test_find();
	test_cut();
	return check_report("test_proc_maps");
}
