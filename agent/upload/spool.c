/* The spool directory (see spool.h). An index of the files, sorted by
 * seq, is kept in memory under a mutex, so that bounds are enforced
 * without listing the directory; only reading a profile back opens a file.
 * A profile's seq is the Unix time in ns at which it was queued (made
 * unique by the uploader), which is what the age bound is measured by
 * before a file is read; once read, its interval's end is checked too. */
#include "spool.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "file_util.h"
#include "spool.pb-c.h"

#define MAGIC "SMOLDSP1"
#define MAGIC_LEN 8
#define SEQ_DIGITS 20
#define SUFFIX ".spool"
/* A record larger than this is not one of ours: Pyroscope's own limit on
 * a profile is far below it. */
#define RECORD_MAX (256u << 20)
/* The most a record's frame may claim to expand by: a profile's protobuf
 * compresses some tenfold, and the size a corrupt header claims is
 * allocated before a byte is decoded (the fuzzer found a 100-byte file
 * claiming 256 MB). */
#define RECORD_RATIO_MAX 1024u
#define ZSTD_LEVEL 3

struct spool_entry {
	uint64_t seq;
	uint64_t bytes;
};

struct spool {
	pthread_mutex_t lock;
	int dirfd;
	uint64_t max_bytes, max_age_ms;
	struct spool_entry *v; /* sorted by seq */
	size_t n, cap;
	struct spool_stats st;
};

static int64_t now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void file_name(uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%0*" PRIu64 SUFFIX, SEQ_DIGITS, seq);
}

/* seq of a spool file's name, or -1 if it is not one. */
static int parse_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	for (int i = 0; i < SEQ_DIGITS; i++) {
		if (!isdigit((unsigned char)name[i]))
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + SEQ_DIGITS, SUFFIX) != 0)
		return -1;
	*seq = v;
	return 0;
}

/* ---- the record format ---- */

int spool_record_encode(const struct upload_profile *p, uint8_t **out, size_t *len)
{
	Types__V1__LabelPair pairs[SERIES_LABELS_MAX], *ptrs[SERIES_LABELS_MAX];
	Smolder__Spool__V1__Record r = SMOLDER__SPOOL__V1__RECORD__INIT;
	ZSTD_CCtx *cctx;
	uint8_t *packed, *buf;
	size_t plen, bound, z;

	for (size_t i = 0; i < p->labels.n; i++) {
		types__v1__label_pair__init(&pairs[i]);
		pairs[i].name = p->labels.v[i].name;
		pairs[i].value = p->labels.v[i].value;
		ptrs[i] = &pairs[i];
	}
	r.id = (char *)p->id; /* protobuf-c only reads these */
	r.start_ns = p->start_ns;
	r.end_ns = p->end_ns;
	r.sample_rate = p->sample_rate;
	r.n_labels = p->labels.n;
	r.labels = ptrs;
	r.pprof_gz.data = p->pprof_gz;
	r.pprof_gz.len = p->pprof_len;

	plen = smolder__spool__v1__record__get_packed_size(&r);
	if (plen > RECORD_MAX)
		return -EFBIG;
	packed = malloc(plen ? plen : 1);
	bound = ZSTD_compressBound(plen);
	buf = malloc(MAGIC_LEN + bound);
	cctx = ZSTD_createCCtx();
	if (!packed || !buf || !cctx) {
		free(packed);
		free(buf);
		ZSTD_freeCCtx(cctx);
		return -ENOMEM;
	}
	smolder__spool__v1__record__pack(&r, packed);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	z = ZSTD_compress2(cctx, buf + MAGIC_LEN, bound, packed, plen);
	ZSTD_freeCCtx(cctx);
	free(packed);
	if (ZSTD_isError(z)) {
		free(buf);
		return -EIO;
	}
	memcpy(buf, MAGIC, MAGIC_LEN);
	*out = buf;
	*len = MAGIC_LEN + z;
	return 0;
}

static bool record_valid(const Smolder__Spool__V1__Record *r)
{
	bool has_service = false;

	if (!r->id || strlen(r->id) != UPLOAD_ID_LEN || !r->pprof_gz.len ||
	    r->n_labels > SERIES_LABELS_MAX || r->end_ns < r->start_ns)
		return false;
	for (size_t i = 0; i < r->n_labels; i++) {
		const Types__V1__LabelPair *l = r->labels[i];

		if (!l->name || !l->value || !*l->name)
			return false;
		if (i && strcmp(r->labels[i - 1]->name, l->name) >= 0)
			return false; /* sorted, unique: as the server wants them */
		if (strcmp(l->name, "service_name") == 0 && *l->value)
			has_service = true;
	}
	return has_service;
}

static int profile_from_record(const Smolder__Spool__V1__Record *r, struct upload_profile **out)
{
	struct series_labels labels = { .n = 0 };
	uint8_t *data = malloc(r->pprof_gz.len);
	struct upload_profile *p;

	if (!data)
		return -ENOMEM;
	memcpy(data, r->pprof_gz.data, r->pprof_gz.len);
	for (size_t i = 0; i < r->n_labels; i++) {
		labels.v[i].name = strdup(r->labels[i]->name);
		labels.v[i].value = strdup(r->labels[i]->value);
		labels.n = i + 1;
		if (!labels.v[i].name || !labels.v[i].value) {
			series_labels_release(&labels);
			free(data);
			return -ENOMEM;
		}
	}
	p = upload_profile_new(r->start_ns, r->end_ns, r->sample_rate, &labels, data,
			       r->pprof_gz.len);
	if (!p)
		return -ENOMEM;
	memcpy(p->id, r->id, UPLOAD_ID_LEN + 1);
	*out = p;
	return 0;
}

int spool_record_decode(const uint8_t *data, size_t len, struct upload_profile **out)
{
	Smolder__Spool__V1__Record *r;
	unsigned long long size;
	uint8_t *plain;
	size_t got;
	int rc;

	*out = NULL;
	if (len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0)
		return -EBADMSG;
	data += MAGIC_LEN;
	len -= MAGIC_LEN;
	/* One frame, with its size and a checksum (bit 2 of the frame header
	 * descriptor, RFC 8878 3.1.1.1.1), and nothing after it. */
	if (len < 5 || data[0] != 0x28 || data[1] != 0xb5 || data[2] != 0x2f || data[3] != 0xfd ||
	    !(data[4] & 0x04))
		return -EBADMSG;
	size = ZSTD_getFrameContentSize(data, len);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
	    size > RECORD_MAX || size / RECORD_RATIO_MAX > len ||
	    ZSTD_findFrameCompressedSize(data, len) != len)
		return -EBADMSG;
	plain = malloc(size ? size : 1);
	if (!plain)
		return -ENOMEM;
	got = ZSTD_decompress(plain, size, data, len);
	if (ZSTD_isError(got) || got != size) {
		free(plain);
		return -EBADMSG;
	}
	r = smolder__spool__v1__record__unpack(NULL, got, plain);
	free(plain);
	if (!r)
		return -EBADMSG;
	rc = record_valid(r) ? profile_from_record(r, out) : -EBADMSG;
	smolder__spool__v1__record__free_unpacked(r, NULL);
	return rc;
}

/* ---- the directory and its index ---- */

static int index_insert(struct spool *s, uint64_t seq, uint64_t bytes)
{
	size_t at = s->n;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct spool_entry *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	while (at > 0 && s->v[at - 1].seq > seq)
		at--;
	if (at > 0 && s->v[at - 1].seq == seq) {
		s->st.bytes -= s->v[at - 1].bytes;
		s->v[at - 1].bytes = bytes; /* rewritten in place */
		s->st.bytes += bytes;
		return 0;
	}
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->v[at] = (struct spool_entry){ seq, bytes };
	s->n++;
	s->st.files = s->n;
	s->st.bytes += bytes;
	return 0;
}

static void remove_at(struct spool *s, size_t i)
{
	char name[SEQ_DIGITS + sizeof(SUFFIX)];

	file_name(s->v[i].seq, name, sizeof(name));
	unlinkat(s->dirfd, name, 0);
	s->st.bytes -= s->v[i].bytes;
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	s->st.files = s->n;
}

/* Oldest first: past the age bound, then while over the size bound. */
static void enforce_bounds(struct spool *s)
{
	if (s->max_age_ms) {
		int64_t oldest_ok = now_realtime_ns() - (int64_t)s->max_age_ms * 1000000;
		while (s->n && (int64_t)s->v[0].seq < oldest_ok) {
			remove_at(s, 0);
			s->st.dropped_age++;
		}
	}
	while (s->max_bytes && s->n && s->st.bytes > s->max_bytes) {
		remove_at(s, 0);
		s->st.dropped_full++;
	}
}

static int list_dir(struct spool *s)
{
	int fd = dup(s->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!rc && (e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		struct stat st;
		uint64_t seq;

		if (nl > 4 && strcmp(e->d_name + nl - 4, ".tmp") == 0) {
			unlinkat(s->dirfd, e->d_name, 0); /* a write that did not finish */
			continue;
		}
		if (parse_name(e->d_name, &seq) ||
		    fstatat(s->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		rc = index_insert(s, seq, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

struct spool *spool_new(const struct spool_opts *opts)
{
	struct spool *s;
	int rc;

	if (!opts || !opts->dir) {
		errno = EINVAL;
		return NULL;
	}
	rc = file_mkdir_p(opts->dir, 0700);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		free(s);
		return NULL;
	}
	s->max_bytes = opts->max_bytes;
	s->max_age_ms = opts->max_age_ms;
	pthread_mutex_init(&s->lock, NULL);
	rc = list_dir(s);
	if (rc) {
		spool_free(s);
		errno = -rc;
		return NULL;
	}
	enforce_bounds(s);
	return s;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	close(s->dirfd);
	pthread_mutex_destroy(&s->lock);
	free(s->v);
	free(s);
}

/* The file, whole or not at all: written aside, synced, renamed. */
static int write_file(int dirfd, uint64_t seq, const uint8_t *data, size_t len)
{
	char name[SEQ_DIGITS + sizeof(SUFFIX)], tmp[sizeof(name) + 4];
	int fd, rc;

	file_name(seq, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = file_write_all(fd, data, len);
	if (!rc && fdatasync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(dirfd, tmp, dirfd, name))
		rc = -errno;
	if (rc)
		unlinkat(dirfd, tmp, 0);
	else
		fsync(dirfd); /* the rename itself, through a power loss */
	return rc;
}

int spool_put(struct spool *s, const struct upload_profile *p)
{
	uint8_t *data;
	size_t len;
	int rc = spool_record_encode(p, &data, &len);

	if (rc) {
		pthread_mutex_lock(&s->lock);
		s->st.write_errors++;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	if (s->max_bytes && len > s->max_bytes) {
		/* Alone larger than the spool: it would push out all the rest. */
		s->st.dropped_full++;
		pthread_mutex_unlock(&s->lock);
		free(data);
		return 0;
	}
	rc = write_file(s->dirfd, p->seq, data, len);
	if (!rc) {
		rc = index_insert(s, p->seq, len);
		if (rc) {
			char name[SEQ_DIGITS + sizeof(SUFFIX)];
			file_name(p->seq, name, sizeof(name));
			unlinkat(s->dirfd, name, 0);
		}
	}
	if (rc)
		s->st.write_errors++;
	else
		enforce_bounds(s);
	pthread_mutex_unlock(&s->lock);
	free(data);
	return rc;
}

uint64_t spool_oldest_seq(struct spool *s)
{
	uint64_t seq;

	pthread_mutex_lock(&s->lock);
	seq = s->n ? s->v[0].seq : UINT64_MAX;
	pthread_mutex_unlock(&s->lock);
	return seq;
}

uint64_t spool_next_seq(struct spool *s)
{
	uint64_t seq;

	pthread_mutex_lock(&s->lock);
	seq = s->n ? s->v[s->n - 1].seq + 1 : 0;
	pthread_mutex_unlock(&s->lock);
	return seq;
}

static int read_file(int dirfd, uint64_t seq, uint8_t **out, size_t *len)
{
	char name[SEQ_DIGITS + sizeof(SUFFIX)];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc = 0;

	file_name(seq, name, sizeof(name));
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > RECORD_MAX + 64) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EBADMSG;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = got;
	return 0;
}

int spool_read_oldest(struct spool *s, struct upload_profile **out)
{
	int rc = -ENOENT;

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	enforce_bounds(s);
	while (s->n) {
		uint64_t seq = s->v[0].seq;
		uint8_t *data = NULL;
		size_t len = 0;

		rc = read_file(s->dirfd, seq, &data, &len);
		if (!rc)
			rc = spool_record_decode(data, len, out);
		free(data);
		/* Only a file that is not what it should be is given up; an
		 * error of the moment (no descriptor left, EIO) is for later. */
		if (rc && rc != -EBADMSG && rc != -ENOENT)
			break;
		if (!rc && s->max_age_ms &&
		    (*out)->end_ns < now_realtime_ns() - (int64_t)s->max_age_ms * 1000000) {
			upload_profile_free(*out);
			*out = NULL;
			remove_at(s, 0);
			s->st.dropped_age++;
			rc = -ENOENT;
			continue;
		}
		if (!rc) {
			(*out)->seq = seq;
			break;
		}
		remove_at(s, 0); /* unreadable: counted, and the next one tried */
		s->st.corrupt++;
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void spool_remove(struct spool *s, uint64_t seq)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].seq == seq) {
			remove_at(s, i);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void spool_get_stats(struct spool *s, struct spool_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
