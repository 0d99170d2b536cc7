/* The unwind table cache on disk (symbolizer/table_cache.c): its file
 * format round trips, and every file that is not exactly one of the
 * content id asked for (a header damaged, cut short, another file's id,
 * rows out of order, more rows than the cap, bytes past the frame) is
 * refused; through the directory, a refused file is removed and counted,
 * the least recently used go first past max_bytes, and a directory that
 * is a symlink or that others may write is not taken. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "table_cache.h"
#include "unwind.h"

#define ID_A "18a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"
#define ID_B "28a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"
#define ID_C "38a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"

/* n sorted rows, the i-th at pc 0x1000 + 4i, with varied rules. */
static struct sym_unwind_table make_table(size_t n)
{
	struct sym_unwind_table t = { .n = n, .unsupported_rows = 7, .skipped_fdes = 3 };

	t.rows = calloc(n, sizeof(*t.rows));
	for (size_t i = 0; t.rows && i < n; i++)
		t.rows[i] = (struct smolder_unwind_row){
			.pc = 0x1000 + 4 * i,
			.cfa_offset = (int32_t)(8 + 8 * (i % 5)),
			.rbp_offset = (int16_t)(-16 * (int)(i % 2)),
			.cfa_rule = (uint8_t)(1 + i % 3),
			.cfa_reg = 7,
			.rbp_rule = (uint8_t)(i % 2),
		};
	return t;
}

static int decode(const void *buf, size_t len, const char *id, size_t max_rows)
{
	struct sym_unwind_table t;
	int err = sym_table_file_decode(buf, len, id, max_rows, &t);

	CHECK(err || t.n, "a table taken has rows");
	sym_unwind_table_release(&t);
	return err;
}

static void test_format(void)
{
	struct sym_unwind_table t = make_table(5000), got, bad;
	struct sym_table_file_header h;
	size_t len, blen;
	char *buf, *copy;
	void *v, *bv;

	CHECK_INT(sym_table_file_encode(ID_A, &t, &v, &len), 0);
	buf = v;
	CHECK(len > sizeof(h) && len < t.n * sizeof(*t.rows), "compressed: %zu bytes", len);

	/* Round trip. */
	CHECK_INT(sym_table_file_decode(buf, len, ID_A, 0, &got), 0);
	CHECK_U64(got.n, t.n);
	CHECK_U64(got.unsupported_rows, 7);
	CHECK_U64(got.skipped_fdes, 3);
	CHECK(got.rows && !memcmp(got.rows, t.rows, t.n * sizeof(*t.rows)), "the rows read back");
	sym_unwind_table_release(&got);

	/* Another file's content id, and ids that are none. */
	CHECK_INT(decode(buf, len, ID_B, 0), -EBADMSG);
	CHECK_INT(decode(buf, len, "", 0), -EBADMSG);
	CHECK_INT(decode(buf, len, "../../etc/passwd", 0), -EBADMSG);
	CHECK_INT(sym_table_file_encode("xyz", &t, &v, &blen), -EINVAL);

	/* Each field of the header damaged. */
	copy = malloc(len);
	memcpy(&h, buf, sizeof(h));
	for (size_t field = 0; field < 5; field++) {
		struct sym_table_file_header d = h;

		switch (field) {
		case 0: d.magic[0] ^= 1; break;
		case 1: d.version++; break;
		case 2: d.row_size = 24; break;
		case 3: d.content_id[63] = d.content_id[63] == '0' ? '1' : '0'; break;
		case 4: d.rows++; break;
		}
		memcpy(copy, buf, len);
		memcpy(copy, &d, sizeof(d));
		CHECK_INT(decode(copy, len, ID_A, 0), -EBADMSG);
	}
	/* rows: 0 is no table; one more than the cap, whatever follows. */
	memcpy(copy, buf, len);
	((struct sym_table_file_header *)(void *)copy)->rows = 0;
	CHECK_INT(decode(copy, len, ID_A, 0), -EBADMSG);
	((struct sym_table_file_header *)(void *)copy)->rows = SYM_TABLE_FILE_ROWS_MAX + 1ULL;
	CHECK_INT(decode(copy, len, ID_A, 0), -EBADMSG);
	((struct sym_table_file_header *)(void *)copy)->rows = ~0ULL;
	CHECK_INT(decode(copy, len, ID_A, 0), -EBADMSG);

	/* The frame's bytes damaged: refused (or, where zstd cannot tell,
	 * rows that are still sorted); never a crash. */
	for (size_t at = sizeof(h); at < len; at += 97) {
		memcpy(copy, buf, len);
		copy[at] ^= 0x5a;
		if (decode(copy, len, ID_A, 0) == 0 && at < sizeof(h) + 8)
			check_fail(__FILE__, __LINE__, "frame header damaged", ": at %zu", at);
	}

	/* Cut short, anywhere; and a byte past the frame. */
	for (size_t cut = 0; cut < len; cut += cut < 256 ? 1 : 101)
		CHECK_INT(decode(buf, cut, ID_A, 0), -EBADMSG);
	copy = realloc(copy, len + 1);
	memcpy(copy, buf, len);
	copy[len] = 0;
	CHECK_INT(decode(copy, len + 1, ID_A, 0), -EBADMSG);
	free(copy);

	/* Over the caller's cap. */
	CHECK_INT(decode(buf, len, ID_A, t.n - 1), -EBADMSG);
	CHECK_INT(decode(buf, len, ID_A, t.n), 0);
	free(buf);

	/* Rows out of order, and a row twice: written as they are, refused
	 * when read. */
	bad = make_table(100);
	bad.rows[50].pc = bad.rows[10].pc;
	CHECK_INT(sym_table_file_encode(ID_A, &bad, &bv, &blen), 0);
	CHECK_INT(decode(bv, blen, ID_A, 0), -EBADMSG);
	free(bv);
	bad.rows[50].pc = bad.rows[49].pc;
	CHECK_INT(sym_table_file_encode(ID_A, &bad, &bv, &blen), 0);
	CHECK_INT(decode(bv, blen, ID_A, 0), -EBADMSG);
	free(bv);
	sym_unwind_table_release(&bad);

	CHECK_INT(decode(NULL, 0, ID_A, 0), -EBADMSG);
	sym_unwind_table_release(&t);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");

	CHECK(f && fwrite(p, 1, n, f) == n, "writing %s", path);
	if (f)
		fclose(f);
}

static void test_dir(const char *tmp)
{
	struct sym_table_cache_opts opts = { .sz = sizeof(opts), .dir = tmp, .max_bytes = 0 };
	struct sym_unwind_table t = make_table(20000), got;
	struct sym_table_cache_stats st;
	struct sym_table_cache *tc;
	char path[768], dir[256], link[768];
	struct stat sb;
	uint64_t one;

	snprintf(dir, sizeof(dir), "%s/cache", tmp);
	opts.dir = dir;
	CHECK_INT(sym_table_cache_new(&opts, &tc), 0);
	if (!tc)
		return;
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700, "created 0700");
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), -ENOENT);
	CHECK_INT(sym_table_cache_write(tc, ID_A, &t), 0);
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), 0);
	CHECK_U64(got.n, t.n);
	sym_unwind_table_release(&got);
	sym_table_cache_get_stats(tc, &st);
	CHECK_U64(st.hits, 1);
	CHECK_U64(st.written, 1);
	snprintf(path, sizeof(path), "%s/unwind/" ID_A ".zst", dir);
	CHECK(stat(path, &sb) == 0 && st.bytes == (uint64_t)sb.st_size, "bytes: %llu",
	      (unsigned long long)st.bytes);
	one = st.bytes;

	/* Garbage in its place: refused, removed, counted; then missing. */
	write_bytes(path, "garbage, not a table", 20);
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), -EBADMSG);
	CHECK(access(path, F_OK) != 0, "the bad file is removed");
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), -ENOENT);
	/* Another file's table under this one's name. */
	CHECK_INT(sym_table_cache_write(tc, ID_B, &t), 0);
	snprintf(link, sizeof(link), "%s/unwind/" ID_B ".zst", dir);
	CHECK(rename(link, path) == 0, "renamed");
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), -EBADMSG);
	/* A symlink where a file should be is not followed. */
	CHECK(symlink("/etc/passwd", path) == 0, "symlink");
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), -ENOENT);
	unlink(path);
	sym_table_cache_get_stats(tc, &st);
	CHECK_U64(st.bad, 2);
	sym_table_cache_free(tc);

	/* Room for two: the least recently used goes. */
	opts.max_bytes = 2 * one + one / 2;
	CHECK_INT(sym_table_cache_new(&opts, &tc), 0);
	if (!tc)
		return;
	CHECK_INT(sym_table_cache_write(tc, ID_A, &t), 0);
	CHECK_INT(sym_table_cache_write(tc, ID_B, &t), 0);
	usleep(10000);
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), 0); /* A used after B */
	sym_unwind_table_release(&got);
	CHECK_INT(sym_table_cache_write(tc, ID_C, &t), 0);
	CHECK_INT(sym_table_cache_read(tc, ID_B, &got), -ENOENT);
	CHECK_INT(sym_table_cache_read(tc, ID_A, &got), 0);
	sym_unwind_table_release(&got);
	CHECK_INT(sym_table_cache_read(tc, ID_C, &got), 0);
	sym_unwind_table_release(&got);
	sym_table_cache_get_stats(tc, &st);
	CHECK_U64(st.evictions, 1);
	CHECK(st.bytes <= opts.max_bytes, "bytes %llu within the bound",
	      (unsigned long long)st.bytes);
	sym_table_cache_free(tc);

	/* A symlink to a good directory, and a directory others may write. */
	snprintf(link, sizeof(link), "%s/link", tmp);
	CHECK(symlink(dir, link) == 0, "symlink");
	opts.dir = link;
	CHECK_INT(sym_table_cache_new(&opts, &tc), -ELOOP);
	snprintf(path, sizeof(path), "%s/open", tmp);
	CHECK(mkdir(path, 0700) == 0 && chmod(path, 0777) == 0, "mkdir");
	opts.dir = path;
	CHECK_INT(sym_table_cache_new(&opts, &tc), -EPERM);
	sym_unwind_table_release(&t);
}

int main(void)
{
	char tmp[] = "/tmp/smolder_table_cache.XXXXXX";
	char cmd[64];

	test_format();
	if (!mkdtemp(tmp))
		return 1;
	test_dir(tmp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		check_failures++;
	return check_report("sym_table_cache");
}
