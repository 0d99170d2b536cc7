/* The unwind table cache on disk (table_cache.h): the file format, and
 * the directory that holds the files. */
#include "table_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "unwind.h"

_Static_assert(sizeof(struct sym_table_file_header) == 104, "no padding in the header");
_Static_assert(sizeof(struct smolder_unwind_row) == 16, "rows are 16 bytes");

/* Fast: a large table (cc1: 478k rows, 7.6 MB) compresses in tens of ms. */
#define ZSTD_LEVEL 3
#define SUFFIX ".zst"
#define TMP_PREFIX ".tmp."

struct sym_table_cache {
	int dirfd;            /* DIR/unwind */
	uint64_t max_bytes;   /* 0: no bound */
	struct sym_table_cache_stats stats;
};

/* ---- the format ---- */

int sym_table_file_encode(const char *content_id, const struct sym_unwind_table *t,
			  void **buf, size_t *len)
{
	struct sym_table_file_header h = {
		.magic = SYM_TABLE_FILE_MAGIC,
		.version = SYM_TABLE_FILE_VERSION,
		.row_size = sizeof(struct smolder_unwind_row),
		.rows = t->n,
		.unsupported_rows = t->unsupported_rows,
		.skipped_fdes = t->skipped_fdes,
	};
	size_t plain = t->n * sizeof(*t->rows), bound, z;
	char *out;

	*buf = NULL;
	*len = 0;
	if (!sym_content_id_valid(content_id) || t->n > SYM_TABLE_FILE_ROWS_MAX)
		return -EINVAL;
	memcpy(h.content_id, content_id, sizeof(h.content_id));
	bound = ZSTD_compressBound(plain);
	out = malloc(sizeof(h) + bound);
	if (!out)
		return -ENOMEM;
	memcpy(out, &h, sizeof(h));
	z = ZSTD_compress(out + sizeof(h), bound, t->rows, plain, ZSTD_LEVEL);
	if (ZSTD_isError(z)) {
		free(out);
		return -EIO;
	}
	*buf = out;
	*len = sizeof(h) + z;
	return 0;
}

int sym_table_file_decode(const void *buf, size_t len, const char *content_id,
			  size_t max_rows, struct sym_unwind_table *t)
{
	const char *p = buf;
	struct sym_table_file_header h;
	unsigned long long size;
	size_t plain, got;

	*t = (struct sym_unwind_table){ 0 };
	if (!max_rows || max_rows > SYM_TABLE_FILE_ROWS_MAX)
		max_rows = SYM_TABLE_FILE_ROWS_MAX;
	if (!buf || len < sizeof(h) || !sym_content_id_valid(content_id))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, SYM_TABLE_FILE_MAGIC, sizeof(h.magic)) ||
	    h.version != SYM_TABLE_FILE_VERSION || h.row_size != sizeof(*t->rows) ||
	    memcmp(h.content_id, content_id, sizeof(h.content_id)) || !h.rows ||
	    h.rows > max_rows)
		return -EBADMSG;
	plain = (size_t)h.rows * sizeof(*t->rows);
	size = ZSTD_getFrameContentSize(p + sizeof(h), len - sizeof(h));
	if (size != plain || ZSTD_findFrameCompressedSize(p + sizeof(h), len - sizeof(h)) !=
				     len - sizeof(h))
		return -EBADMSG;
	t->rows = malloc(plain);
	if (!t->rows)
		return -ENOMEM;
	got = ZSTD_decompress(t->rows, plain, p + sizeof(h), len - sizeof(h));
	if (ZSTD_isError(got) || got != plain)
		goto bad;
	t->n = (size_t)h.rows;
	for (size_t i = 1; i < t->n; i++)
		if (t->rows[i].pc <= t->rows[i - 1].pc)
			goto bad;
	t->unsupported_rows = (size_t)h.unsupported_rows;
	t->skipped_fdes = (size_t)h.skipped_fdes;
	return 0;
bad:
	sym_unwind_table_release(t);
	return -EBADMSG;
}

/* ---- the directory ---- */

/* A directory of ours: no symlink (O_NOFOLLOW), ours, written by no one
 * else. Its descriptor, or a negative errno. */
static int open_own_dir(int at, const char *path)
{
	struct stat st;
	int fd;

	if (mkdirat(at, path, 0700) && errno != EEXIST)
		return -errno;
	fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* A symlink fails as no directory: said as what it is. */
	if (fd < 0 && errno == ENOTDIR && fstatat(at, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return -EIO;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static bool is_entry(const char *name)
{
	size_t n = strlen(name);

	return n == SYM_CONTENT_ID_LEN + strlen(SUFFIX) && !strcmp(name + SYM_CONTENT_ID_LEN, SUFFIX);
}

struct entry {
	char name[SYM_CONTENT_ID_LEN + sizeof(SUFFIX)];
	uint64_t size;
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* The files held, into *out (malloc'd; NULL when none), and their bytes.
 * Temporary files a crash left are removed. */
static int scan(struct sym_table_cache *tc, struct entry **out, size_t *n, uint64_t *bytes)
{
	int fd = dup(tc->dirfd);
	struct entry *v = NULL;
	size_t cap = 0;
	struct dirent *d;
	DIR *dir;

	*out = NULL;
	*n = 0;
	*bytes = 0;
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	rewinddir(dir);
	while ((d = readdir(dir))) {
		struct stat st;

		if (!strncmp(d->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			unlinkat(tc->dirfd, d->d_name, 0);
			continue;
		}
		if (!is_entry(d->d_name) ||
		    fstatat(tc->dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			size_t c2 = cap ? 2 * cap : 64;
			struct entry *nv = realloc(v, c2 * sizeof(*nv));

			if (!nv)
				break;
			v = nv;
			cap = c2;
		}
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", d->d_name);
		v[*n].size = (uint64_t)st.st_size;
		v[*n].mtime = st.st_mtim;
		*bytes += v[(*n)++].size;
	}
	closedir(dir);
	*out = v;
	return 0;
}

int sym_table_cache_new(const struct sym_table_cache_opts *opts, struct sym_table_cache **out)
{
	struct sym_table_cache *tc;
	struct entry *v;
	size_t n;
	int top;

	*out = NULL;
	if (!opts || opts->sz < sizeof(*opts) || !opts->dir || !*opts->dir)
		return -EINVAL;
	top = open_own_dir(AT_FDCWD, opts->dir);
	if (top < 0)
		return top;
	tc = calloc(1, sizeof(*tc));
	if (!tc) {
		close(top);
		return -ENOMEM;
	}
	tc->max_bytes = opts->max_bytes;
	tc->dirfd = open_own_dir(top, "unwind");
	close(top);
	if (tc->dirfd < 0) {
		int err = tc->dirfd;

		free(tc);
		return err;
	}
	if (scan(tc, &v, &n, &tc->stats.bytes) == 0)
		free(v);
	*out = tc;
	return 0;
}

void sym_table_cache_free(struct sym_table_cache *tc)
{
	if (!tc)
		return;
	close(tc->dirfd);
	free(tc);
}

void sym_table_cache_get_stats(const struct sym_table_cache *tc, struct sym_table_cache_stats *st)
{
	*st = tc ? tc->stats : (struct sym_table_cache_stats){ 0 };
}

static void entry_name(const char *content_id, char *name, size_t len)
{
	snprintf(name, len, "%s" SUFFIX, content_id);
}

static void remove_bad(struct sym_table_cache *tc, const char *name, uint64_t size)
{
	if (unlinkat(tc->dirfd, name, 0) == 0)
		tc->stats.bytes -= size < tc->stats.bytes ? size : tc->stats.bytes;
	tc->stats.bad++;
}

int sym_table_cache_read(struct sym_table_cache *tc, const char *content_id,
			 struct sym_unwind_table *t)
{
	char name[SYM_CONTENT_ID_LEN + sizeof(SUFFIX)];
	/* Compressed, a table is smaller than its rows; a header more. */
	const uint64_t max_len = sizeof(struct sym_table_file_header) +
				 ZSTD_compressBound((size_t)SYM_TABLE_FILE_ROWS_MAX * 16u);
	struct stat st;
	char *buf;
	ssize_t got;
	int fd, err;

	*t = (struct sym_unwind_table){ 0 };
	if (!tc || !sym_content_id_valid(content_id))
		return -ENOENT;
	entry_name(content_id, name, sizeof(name));
	fd = openat(tc->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st)) {
		close(fd);
		return -ENOENT;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_len) {
		close(fd);
		remove_bad(tc, name, (uint64_t)st.st_size);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* One byte more than fstat said: a file that grew is refused. */
	got = pread(fd, buf, (size_t)st.st_size + 1, 0);
	err = got == st.st_size
		      ? sym_table_file_decode(buf, (size_t)got, content_id, 0, t)
		      : -EBADMSG;
	free(buf);
	if (!err)
		futimens(fd, NULL); /* used now: evicted last */
	close(fd);
	if (err == -EBADMSG)
		remove_bad(tc, name, (uint64_t)st.st_size);
	if (!err)
		tc->stats.hits++;
	return err;
}

/* Removes the least recently used files until need more bytes fit. */
static void make_room(struct sym_table_cache *tc, uint64_t need)
{
	struct entry *v;
	size_t n;

	if (!tc->max_bytes || tc->stats.bytes + need <= tc->max_bytes ||
	    scan(tc, &v, &n, &tc->stats.bytes))
		return;
	qsort(v, n, sizeof(*v), by_mtime);
	for (size_t i = 0; i < n && tc->stats.bytes + need > tc->max_bytes; i++)
		if (unlinkat(tc->dirfd, v[i].name, 0) == 0) {
			tc->stats.bytes -= v[i].size;
			tc->stats.evictions++;
		}
	free(v);
}

int sym_table_cache_write(struct sym_table_cache *tc, const char *content_id,
			  const struct sym_unwind_table *t)
{
	char name[SYM_CONTENT_ID_LEN + sizeof(SUFFIX)], tmp[sizeof(name) + 32];
	struct stat old;
	size_t len;
	void *buf;
	int fd, err;

	if (!tc)
		return -EINVAL;
	err = sym_table_file_encode(content_id, t, &buf, &len);
	if (err)
		return err;
	if (tc->max_bytes && len > tc->max_bytes) {
		free(buf);
		return -EFBIG;
	}
	make_room(tc, len);
	entry_name(content_id, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s.%d", name, (int)getpid());
	fd = openat(tc->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	err = write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
	free(buf);
	if (close(fd) && !err)
		err = -EIO;
	if (!err && fstatat(tc->dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(old.st_mode))
		tc->stats.bytes -= (uint64_t)old.st_size < tc->stats.bytes ? (uint64_t)old.st_size
									     : tc->stats.bytes;
	if (!err && renameat(tc->dirfd, tmp, tc->dirfd, name))
		err = -errno;
	if (err) {
		unlinkat(tc->dirfd, tmp, 0);
		return err;
	}
	tc->stats.bytes += len;
	tc->stats.written++;
	return 0;
}
