/* tests/discovery: the mmap log, the kernel's mappings of processes not read
 * yet: records read out of order across CPUs (an exec read after the
 * mappings that followed it, a mapping of the old image read after the
 * exec), a mapping made again over an older one, the byte bound. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "disc.h"

#define ID "0123456789abcdef0123456789abcdef01234567"

static void test_exec_order(void)
{
	struct disc_mmap_log *l = disc_mmap_log_new(1 << 20);
	struct disc_mappings m;

	/* the old image's, then the new image's read before its exec */
	CHECK_INT(disc_mmap_log_add(l, 7, 100, 0x1000, 0x1000, 0, ID, "/bin/sh"), 0);
	CHECK_INT(disc_mmap_log_add(l, 7, 300, 0x5000, 0x2000, 0, ID, "/usr/bin/cc1"), 0);
	disc_mmap_log_exec(l, 7, 200);
	/* a mapping of the old image read after the exec */
	CHECK_INT(disc_mmap_log_add(l, 7, 150, 0x9000, 0x1000, 0, ID, "/lib/libold.so"), 0);
	/* an older exec read late changes nothing */
	disc_mmap_log_exec(l, 7, 120);
	CHECK_INT(disc_mmap_log_mappings(l, 7, &m), 0);
	CHECK_INT(m.n, 1);
	if (m.n == 1) {
		CHECK_STR(m.v[0].path, "/usr/bin/cc1");
		CHECK_STR(m.v[0].build_id, ID);
		CHECK_U64(m.v[0].start, 0x5000);
		CHECK_U64(m.v[0].end, 0x7000);
		CHECK_STR(m.v[0].perms, "r-xp");
	}
	disc_mappings_release(&m);
	disc_mmap_log_forget(l, 7);
	CHECK_INT(disc_mmap_log_mappings(l, 7, &m), 0);
	CHECK_INT(m.n, 0);
	disc_mmap_log_free(l);
}

static void test_newest_wins_and_sorted(void)
{
	struct disc_mmap_log *l = disc_mmap_log_new(1 << 20);
	struct disc_mappings m;

	disc_mmap_log_add(l, 3, 1, 0x8000, 0x1000, 0, ID, "/lib/b.so");
	disc_mmap_log_add(l, 3, 2, 0x2000, 0x1000, 0x1000, ID, "/lib/a.so");
	disc_mmap_log_add(l, 3, 3, 0x8000, 0x2000, 0, ID, "/lib/c.so"); /* over b */
	CHECK_INT(disc_mmap_log_mappings(l, 3, &m), 0);
	CHECK_INT(m.n, 2);
	if (m.n == 2) {
		CHECK_STR(m.v[0].path, "/lib/a.so");
		CHECK_U64(m.v[0].offset, 0x1000);
		CHECK_STR(m.v[1].path, "/lib/c.so");
		CHECK(disc_mappings_find(&m, 0x9800) == &m.v[1]);
	}
	disc_mappings_release(&m);
	disc_mmap_log_free(l);
}

static void test_bounds(void)
{
	struct disc_mmap_log *l = disc_mmap_log_new(600);
	struct disc_mmap_log_stats st;
	int added = 0, err = 0;

	for (int i = 0; i < 50 && !err; i++) {
		err = disc_mmap_log_add(l, 9, (uint64_t)i, 0x1000u * (uint64_t)(i + 1), 0x1000, 0, ID,
					"/lib/libsomething-long-enough.so");
		added += err == 0;
	}
	CHECK_INT(err, -ENOSPC);
	disc_mmap_log_get_stats(l, &st);
	CHECK(st.bytes <= 600, "holds %llu bytes", (unsigned long long)st.bytes);
	CHECK_U64(st.dropped, 1);
	CHECK_U64(st.added, (uint64_t)added);
	/* refused outright: an empty or wrapping range, an overlong build-id */
	CHECK_INT(disc_mmap_log_add(l, 9, 0, 0x1000, 0, 0, ID, "/x"), -EINVAL);
	CHECK_INT(disc_mmap_log_add(l, 9, 0, UINT64_MAX - 1, 16, 0, ID, "/x"), -EINVAL);
	CHECK_INT(disc_mmap_log_add(l, 9, 0, 0x1000, 16, 0, ID "00", "/x"), -EINVAL);
	disc_mmap_log_forget(l, 9);
	disc_mmap_log_get_stats(l, &st);
	CHECK_U64(st.bytes, 0);
	disc_mmap_log_free(l);
}

/* /proc's maps, read before ld.so mapped libc, completed from the log: the
 * log's mapping over a /proc one is left out; strings outlive the inputs. */
static void test_merge(void)
{
	static const char maps[] =
		"555555554000-555555556000 r-xp 00001000 08:01 42 /usr/bin/app\n"
		"7ffff7fc5000-7ffff7fef000 r-xp 00001000 08:01 43 /usr/lib/ld.so\n";
	struct disc_mmap_log *l = disc_mmap_log_new(1 << 20);
	struct disc_mappings have, more, out;

	CHECK_INT(disc_maps_parse(maps, sizeof(maps) - 1, &have), 0);
	disc_mmap_log_add(l, 5, 1, 0x555555554000, 0x2000, 0x1000, ID, "/usr/bin/app");
	disc_mmap_log_add(l, 5, 2, 0x7ffff7d80000, 0x100000, 0x28000, ID, "/usr/lib/libc.so.6");
	CHECK_INT(disc_mmap_log_mappings(l, 5, &more), 0);
	CHECK_INT(disc_mappings_merge(&have, &more, &out), 1);
	disc_mappings_release(&have);
	disc_mappings_release(&more);
	CHECK_INT(out.n, 3);
	if (out.n == 3) {
		CHECK_STR(out.v[0].path, "/usr/bin/app");
		CHECK(out.v[0].build_id == NULL, "the /proc mapping has no build-id");
		CHECK_STR(out.v[1].path, "/usr/lib/libc.so.6");
		CHECK_STR(out.v[1].build_id, ID);
		CHECK_STR(out.v[2].path, "/usr/lib/ld.so");
		CHECK_U64(out.v[2].inode, 43);
	}
	disc_mappings_release(&out);
	disc_mmap_log_free(l);
}

int main(void)
{
	test_merge();
	test_exec_order();
	test_newest_wins_and_sorted();
	test_bounds();
	return check_report("mmap_log");
}
