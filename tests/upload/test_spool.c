/* Unit tests of the spool (agent/upload/spool.h), in a directory of their own
 * under /tmp. The spool is what keeps profiles through a server outage and
 * an agent restart, so what is checked is what would lose or reorder data:
 * profiles come back oldest first and byte for byte, a restarted spool
 * finds what was left and numbers after it, the byte and age bounds drop
 * the oldest (and count them), and a damaged file (garbage, cut short, a
 * flipped bit) is removed and counted, never returned and never fatal. The
 * record format is checked on its own too: every refusal spool.h lists. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "check.h"
#include "disc.h"
#include "series_labels.h"
#include "spool.h"
#include "spool.pb-c.h"
#include "upload_profile.h"

#define NS 1000000000LL
#define HOUR_NS (3600 * NS)

static char root[] = "/tmp/smolder-spool-XXXXXX";

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Bytes that do not compress (xorshift), so that file sizes are known. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* A profile of seq, with labels service_name=svc<tag>, zone=z and len
 * bytes of pprof. */
static struct upload_profile *profile(uint64_t seq, int64_t end_ns, size_t len, int tag)
{
	struct disc_labels in = { 0 };
	struct series_labels labels;
	struct series_report rep;
	uint8_t *pprof = malloc(len ? len : 1);
	struct upload_profile *p;
	char svc[32];

	if (!pprof)
		return NULL;
	fill(pprof, len, (uint32_t)tag);
	snprintf(svc, sizeof(svc), "svc%d", tag);
	CHECK(disc_labels_set(&in, "service_name", svc) == 0);
	CHECK(disc_labels_set(&in, "zone", "z") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &labels, &rep), 0);
	disc_labels_release(&in);
	p = upload_profile_new(end_ns - 15 * NS, end_ns, 100 + (uint32_t)tag, &labels, pprof, len);
	if (p)
		p->seq = seq;
	return p;
}

/* Every field the spool keeps (seq is the caller's to check). */
static int same_profile(const struct upload_profile *a, const struct upload_profile *b)
{
	int same = strcmp(a->id, b->id) == 0 && a->start_ns == b->start_ns &&
		   a->end_ns == b->end_ns && a->sample_rate == b->sample_rate &&
		   a->pprof_len == b->pprof_len && a->labels.n == b->labels.n &&
		   memcmp(a->pprof_gz, b->pprof_gz, a->pprof_len) == 0;

	for (size_t i = 0; same && i < a->labels.n; i++)
		same = strcmp(a->labels.v[i].name, b->labels.v[i].name) == 0 &&
		       strcmp(a->labels.v[i].value, b->labels.v[i].value) == 0;
	return same;
}

static void dir_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", root, name);
}

static void file_path(const char *dir, uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%s/%020llu.spool", dir, (unsigned long long)seq);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL, "open %s", path);
	if (!f)
		return;
	CHECK(fwrite(data, 1, len, f) == len, "write %s", path);
	fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
			*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static struct spool *open_spool(const char *dir, uint64_t max_bytes, uint64_t max_age_ms)
{
	struct spool_opts o = { .sz = sizeof(o), .dir = dir, .max_bytes = max_bytes,
				.max_age_ms = max_age_ms };
	struct spool *s = spool_new(&o);

	CHECK(s != NULL, "spool_new %s: %s", dir, strerror(errno));
	return s;
}

/* path's permission bits must be want. */
static void check_mode(const char *path, unsigned int want)
{
	struct stat st;

	CHECK(lstat(path, &st) == 0, "%s: missing", path);
	CHECK((st.st_mode & 07777) == want, "%s is %o, want %o", path,
	      (unsigned int)(st.st_mode & 07777), want);
}

/* Spooled profiles are 0600 in 0700 directories, the parents the spool
 * makes too, whatever the umask (022 would give 0644 and 0755). */
static void test_modes(void)
{
	mode_t old_umask = umask(022);
	struct upload_profile *p;
	char dir[256], path[300];
	struct spool *s;

	dir_path("modes/spool", dir, sizeof(dir));
	s = open_spool(dir, 0, 0);
	umask(old_umask);
	if (!s)
		return;
	p = profile(1000, now_ns(), 100, 0);
	CHECK_INT(spool_put(s, p), 0);
	dir_path("modes", path, sizeof(path));
	check_mode(path, 0700);
	check_mode(dir, 0700);
	file_path(dir, 1000, path, sizeof(path));
	check_mode(path, 0600);
	upload_profile_free(p);
	spool_free(s);
}

static void test_order_and_restart(void)
{
	struct upload_profile *in[5], *got;
	struct spool_stats st;
	struct spool *s;
	char dir[256], path[300];
	int64_t end = now_ns();

	dir_path("order/spool", dir, sizeof(dir)); /* its parent made too */
	s = open_spool(dir, 0, 0);
	if (!s)
		return;
	CHECK_U64(spool_oldest_seq(s), UINT64_MAX);
	CHECK_U64(spool_next_seq(s), 0);
	CHECK_INT(spool_read_oldest(s, &got), -ENOENT);
	CHECK(got == NULL);
	/* Put out of order: the spool's order is seq's, not arrival's. */
	for (int i = 0; i < 5; i++)
		in[i] = profile(1000 + 10 * (uint64_t)i, end + i, 200 + 50 * (size_t)i, i);
	for (int i = 4; i >= 0; i--)
		CHECK_INT(spool_put(s, in[i]), 0);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 5);
	CHECK(st.bytes > 5 * 200, "%llu bytes", (unsigned long long)st.bytes);
	CHECK_U64(st.write_errors, 0);
	CHECK_U64(spool_oldest_seq(s), 1000);
	CHECK_U64(spool_next_seq(s), 1041);
	file_path(dir, 1000, path, sizeof(path));
	CHECK(exists(path), "%s missing", path);

	/* The oldest twice: a read leaves the file until it is removed. */
	for (int k = 0; k < 2; k++) {
		CHECK_INT(spool_read_oldest(s, &got), 0);
		CHECK(got && got->seq == 1000, "seq %llu", got ? (unsigned long long)got->seq : 0);
		CHECK(got && same_profile(got, in[0]), "profile 1000 differs");
		upload_profile_free(got);
	}
	spool_remove(s, 1000);
	CHECK(!exists(path), "%s left after remove", path);
	CHECK_INT(spool_read_oldest(s, &got), 0);
	CHECK(got && got->seq == 1010 && same_profile(got, in[1]), "profile 1010");
	upload_profile_free(got);
	spool_remove(s, 1010);
	spool_remove(s, 999); /* not there: nothing happens */
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 3);
	spool_free(s);

	/* Restarted: the three left, in order, numbered after. */
	s = open_spool(dir, 0, 0);
	if (!s)
		return;
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 3);
	CHECK_U64(spool_oldest_seq(s), 1020);
	CHECK_U64(spool_next_seq(s), 1041);
	for (int i = 2; i < 5; i++) {
		CHECK_INT(spool_read_oldest(s, &got), 0);
		CHECK(got && got->seq == 1000 + 10 * (uint64_t)i && same_profile(got, in[i]),
		      "profile %d after restart", i);
		if (got)
			spool_remove(s, got->seq);
		upload_profile_free(got);
	}
	CHECK_INT(spool_read_oldest(s, &got), -ENOENT);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 0);
	CHECK_U64(st.bytes, 0);
	CHECK_U64(st.corrupt, 0);
	spool_free(s);
	for (int i = 0; i < 5; i++)
		upload_profile_free(in[i]);
}

static void test_byte_bound(void)
{
	struct upload_profile *p[6];
	struct spool_stats st;
	struct spool *s;
	char dir[256], path[300];
	uint8_t *enc;
	size_t one = 0;

	for (int i = 0; i < 6; i++)
		p[i] = profile(100 + (uint64_t)i, now_ns(), 1000, i);
	/* Same-size incompressible profiles: every file is as long as this. */
	CHECK_INT(spool_record_encode(p[0], &enc, &one), 0);
	free(enc);
	dir_path("full", dir, sizeof(dir));
	s = open_spool(dir, 3 * one + one / 2, 0);
	if (!s)
		return;
	for (int i = 0; i < 6; i++)
		CHECK_INT(spool_put(s, p[i]), 0);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 3);
	CHECK_U64(st.dropped_full, 3);
	CHECK_U64(st.bytes, 3 * one);
	CHECK_U64(spool_oldest_seq(s), 103);
	CHECK_U64(spool_next_seq(s), 106);
	for (int i = 0; i < 6; i++) {
		file_path(dir, 100 + (uint64_t)i, path, sizeof(path));
		CHECK(exists(path) == (i >= 3), "%s %s", path, i >= 3 ? "missing" : "left");
	}
	struct upload_profile *got;
	CHECK_INT(spool_read_oldest(s, &got), 0);
	CHECK(got && got->seq == 103 && same_profile(got, p[3]), "oldest kept is 103");
	upload_profile_free(got);
	spool_free(s);

	/* The bound holds at a restart too, with a smaller one. */
	s = open_spool(dir, one, 0);
	if (s) {
		spool_get_stats(s, &st);
		CHECK_U64(st.files, 1);
		CHECK_U64(st.dropped_full, 2);
		CHECK_U64(spool_oldest_seq(s), 105);
		spool_free(s);
	}

	/* One profile larger than the whole bound is not kept either. */
	dir_path("tiny", dir, sizeof(dir));
	s = open_spool(dir, one / 2, 0);
	if (s) {
		CHECK_INT(spool_put(s, p[0]), 0);
		spool_get_stats(s, &st);
		CHECK_U64(st.files, 0);
		CHECK_U64(st.dropped_full, 1);
		spool_free(s);
	}
	for (int i = 0; i < 6; i++)
		upload_profile_free(p[i]);
}

static void test_age_bound(void)
{
	const uint64_t hour_ms = 3600 * 1000;
	int64_t now = now_ns(), old = now - 2 * HOUR_NS;
	struct upload_profile *stale = profile((uint64_t)old, old, 100, 1);
	struct upload_profile *late = profile((uint64_t)now - 2, old, 100, 2); /* queued now, ended 2 h ago */
	struct upload_profile *fresh = profile((uint64_t)now, now, 100, 3);
	struct upload_profile *got;
	struct spool_stats st;
	struct spool *s;
	char dir[256];

	dir_path("age", dir, sizeof(dir));
	s = open_spool(dir, 0, hour_ms);
	if (!s)
		return;
	/* Queued 2 h ago: gone as soon as it is in. */
	CHECK_INT(spool_put(s, stale), 0);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 0);
	CHECK_U64(st.dropped_age, 1);
	/* Queued now but its interval ended 2 h ago: kept by seq, dropped when
	 * read, and the next one returned. */
	CHECK_INT(spool_put(s, late), 0);
	CHECK_INT(spool_put(s, fresh), 0);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 2);
	CHECK_INT(spool_read_oldest(s, &got), 0);
	CHECK(got && got->seq == fresh->seq && same_profile(got, fresh), "fresh profile returned");
	upload_profile_free(got);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 1);
	CHECK_U64(st.dropped_age, 2);
	spool_free(s);

	/* Spooled without an age bound, aged out at a restart with one. */
	dir_path("age2", dir, sizeof(dir));
	s = open_spool(dir, 0, 0);
	if (!s)
		return;
	CHECK_INT(spool_put(s, stale), 0);
	CHECK_INT(spool_put(s, fresh), 0);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 2);
	CHECK_U64(st.dropped_age, 0);
	spool_free(s);
	s = open_spool(dir, 0, hour_ms);
	if (s) {
		spool_get_stats(s, &st);
		CHECK_U64(st.files, 1);
		CHECK_U64(st.dropped_age, 1);
		CHECK_U64(spool_oldest_seq(s), fresh->seq);
		spool_free(s);
	}
	upload_profile_free(stale);
	upload_profile_free(late);
	upload_profile_free(fresh);
}

static void test_corrupt(void)
{
	struct upload_profile *p[6], *got;
	struct spool_stats st;
	struct spool *s;
	char dir[256], path[300];
	uint8_t *data;
	size_t len;

	dir_path("corrupt", dir, sizeof(dir));
	s = open_spool(dir, 0, 0);
	if (!s)
		return;
	for (int i = 0; i < 6; i++) {
		p[i] = profile((uint64_t)i + 1, now_ns(), 500, i);
		CHECK_INT(spool_put(s, p[i]), 0);
	}
	spool_free(s);

	/* 1: garbage under a valid name. */
	file_path(dir, 1, path, sizeof(path));
	write_bytes(path, "this is not a spool record at all", 33);
	/* 2: a valid file cut in half. */
	file_path(dir, 2, path, sizeof(path));
	data = read_bytes(path, &len);
	CHECK(data && len > 100);
	if (data)
		write_bytes(path, data, len / 2);
	free(data);
	/* 3: a bit flipped in the middle of the frame (the profile's bytes). */
	file_path(dir, 3, path, sizeof(path));
	data = read_bytes(path, &len);
	CHECK(data && len > 100);
	if (data) {
		data[len / 2] ^= 0x10;
		write_bytes(path, data, len);
	}
	free(data);
	/* 4: a bit flipped in the frame's checksum, its last bytes. */
	file_path(dir, 4, path, sizeof(path));
	data = read_bytes(path, &len);
	CHECK(data && len > 100);
	if (data) {
		data[len - 1] ^= 0x01;
		write_bytes(path, data, len);
	}
	free(data);
	/* 5: empty. */
	file_path(dir, 5, path, sizeof(path));
	write_bytes(path, "", 0);
	/* A write that never finished, and a file the spool does not own. */
	char tmp[320], other[300];
	snprintf(tmp, sizeof(tmp), "%s/%020llu.spool.tmp", dir, 7ULL);
	write_bytes(tmp, "half", 4);
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	write_bytes(other, "mine", 4);

	s = open_spool(dir, 0, 0);
	if (!s)
		return;
	CHECK(!exists(tmp), "stray %s left at spool_new", tmp);
	spool_get_stats(s, &st);
	CHECK_U64(st.files, 6);
	CHECK_U64(spool_next_seq(s), 7);
	CHECK_INT(spool_read_oldest(s, &got), 0);
	CHECK(got && got->seq == 6 && same_profile(got, p[5]), "the good file after the bad ones");
	upload_profile_free(got);
	spool_get_stats(s, &st);
	CHECK_U64(st.corrupt, 5);
	CHECK_U64(st.files, 1);
	for (uint64_t i = 1; i <= 5; i++) {
		file_path(dir, i, path, sizeof(path));
		CHECK(!exists(path), "corrupt %s left", path);
	}
	spool_remove(s, 6);
	CHECK_INT(spool_read_oldest(s, &got), -ENOENT);
	spool_get_stats(s, &st);
	CHECK_U64(st.corrupt, 5);
	spool_free(s);
	unlink(other);
	for (int i = 0; i < 6; i++)
		upload_profile_free(p[i]);
}

/* "SMOLDSP1" and one zstd frame of plain, with or without a checksum. */
static uint8_t *frame(const uint8_t *plain, size_t plen, int checksum, size_t *len)
{
	size_t bound = ZSTD_compressBound(plen), z;
	uint8_t *buf = malloc(8 + bound);
	ZSTD_CCtx *c = ZSTD_createCCtx();

	*len = 0;
	if (!buf || !c) {
		free(buf);
		ZSTD_freeCCtx(c);
		return NULL;
	}
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
	z = ZSTD_compress2(c, buf + 8, bound, plain, plen);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(z)) {
		free(buf);
		return NULL;
	}
	memcpy(buf, "SMOLDSP1", 8);
	*len = 8 + z;
	return buf;
}

/* A record packed by hand (labels as name, value pairs), framed. */
static uint8_t *record(const char *id, int64_t start, int64_t end, const char *const *labels,
		       size_t pprof_len, int checksum, size_t *len)
{
	Types__V1__LabelPair pairs[40], *ptrs[40];
	Smolder__Spool__V1__Record r = SMOLDER__SPOOL__V1__RECORD__INIT;
	uint8_t pprof[64] = { 1, 2, 3 }, *packed, *out;
	size_t n = 0, plen;

	for (; labels[2 * n]; n++) {
		types__v1__label_pair__init(&pairs[n]);
		pairs[n].name = (char *)labels[2 * n];
		pairs[n].value = (char *)labels[2 * n + 1];
		ptrs[n] = &pairs[n];
	}
	r.id = (char *)id;
	r.start_ns = start;
	r.end_ns = end;
	r.sample_rate = 100;
	r.n_labels = n;
	r.labels = ptrs;
	r.pprof_gz.data = pprof;
	r.pprof_gz.len = pprof_len;
	plen = smolder__spool__v1__record__get_packed_size(&r);
	packed = malloc(plen ? plen : 1);
	if (!packed)
		return NULL;
	smolder__spool__v1__record__pack(&r, packed);
	out = frame(packed, plen, checksum, len);
	free(packed);
	return out;
}

/* The frame header's length (RFC 8878 3.1.1.1): magic, descriptor,
 * window, dictionary ID, content size; 0 if it is not there. Computed here
 * since ZSTD_frameHeaderSize is zstd's static-linking-only API. */
static size_t frame_header_size(const uint8_t *f, size_t len)
{
	static const size_t did[] = { 0, 1, 2, 4 };
	uint8_t fhd;
	int single;
	size_t fcs;

	if (len < 5)
		return 0;
	fhd = f[4];
	single = (fhd >> 5) & 1;
	switch (fhd >> 6) {
	case 0:
		fcs = single ? 1 : 0;
		break;
	case 1:
		fcs = 2;
		break;
	case 2:
		fcs = 4;
		break;
	default:
		fcs = 8;
		break;
	}
	return 5 + (single ? 0 : 1) + did[fhd & 3] + fcs;
}

static void expect_refused(const uint8_t *data, size_t len, const char *what)
{
	static struct upload_profile sentinel;
	struct upload_profile *p = &sentinel; /* decode must set it to NULL */
	int rc = spool_record_decode(data, len, &p);

	CHECK(rc == -EBADMSG, "%s: decode returned %d, want -EBADMSG", what, rc);
	CHECK(p == NULL, "%s: a profile came out", what);
	if (rc == 0)
		upload_profile_free(p);
}

static void test_record(void)
{
	static const char id[] = "0f8e7c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
	static const char *const good[] = { "__name__", "process_cpu", "service_name", "s", NULL };
	struct upload_profile *p = profile(5, 1700000000 * NS, 700, 9), *q = NULL;
	uint8_t *enc = NULL, *buf;
	size_t len = 0, n;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(spool_record_encode(p, &enc, &len), 0);
	CHECK(enc && len > 8 && memcmp(enc, "SMOLDSP1", 8) == 0, "magic");
	CHECK_INT(spool_record_decode(enc, len, &q), 0);
	CHECK(q && same_profile(p, q), "round trip differs");
	upload_profile_free(q);

	/* The hand-made record is a good one when it has its checksum, so the
	 * refusals below are each for the one thing changed. */
	buf = record(id, 1, 2, good, 3, 1, &n);
	CHECK_INT(spool_record_decode(buf, n, &q), 0);
	CHECK(q && strcmp(q->id, id) == 0 && q->pprof_len == 3 && q->labels.n == 2,
	      "hand-made record");
	upload_profile_free(q);
	free(buf);

	buf = record(id, 1, 2, good, 3, 0, &n);
	expect_refused(buf, n, "no checksum");
	free(buf);

	/* Wrong magic, in each of its bytes. */
	for (size_t i = 0; i < 8; i++) {
		enc[i] ^= 0x20;
		expect_refused(enc, len, "wrong magic");
		enc[i] ^= 0x20;
	}
	/* Every prefix, down to nothing. */
	for (size_t i = 0; i < len; i++)
		expect_refused(enc, i, "truncated");
	/* Every bit after the frame header (the block, the checksum). The
	 * header is left alone: some of its bits (unused, window size) may
	 * change without changing the content. */
	size_t fhs = frame_header_size(enc + 8, len - 8);
	CHECK(fhs > 0 && 8 + fhs < len, "frame header of %zu bytes", fhs);
	for (size_t i = 8 + fhs; fhs && i < len; i++) {
		for (int b = 0; b < 8; b++) {
			enc[i] ^= (uint8_t)(1u << b);
			expect_refused(enc, len, "bit flipped");
			enc[i] ^= (uint8_t)(1u << b);
		}
	}
	/* Trailing bytes: one, a whole second frame, a skippable frame. */
	buf = malloc(2 * len + 12);
	CHECK(buf != NULL);
	if (buf) {
		memcpy(buf, enc, len);
		buf[len] = 0;
		expect_refused(buf, len + 1, "a trailing byte");
		memcpy(buf + len, enc + 8, len - 8);
		expect_refused(buf, 2 * len - 8, "a second frame");
		/* A skippable frame, which zstd itself would pass over: only
		 * the spool's own "nothing after it" refuses it. */
		memcpy(buf + len, "\x50\x2a\x4d\x18\x04\x00\x00\x00pad!", 12);
		expect_refused(buf, len + 12, "a skippable frame after it");
		free(buf);
	}

	/* An ID of the wrong length, through encode (which does not check). */
	char saved[UPLOAD_ID_LEN + 1];
	memcpy(saved, p->id, sizeof(saved));
	strcpy(p->id, "0f8e7c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5");
	CHECK_INT(spool_record_encode(p, &buf, &n), 0);
	expect_refused(buf, n, "a 35-character ID");
	free(buf);
	memcpy(p->id, saved, sizeof(saved));

	static const char *const no_svc[] = { "__name__", "process_cpu", "zone", "a", NULL };
	static const char *const empty_svc[] = { "__name__", "process_cpu", "service_name", "",
						 NULL };
	static const char *const unsorted[] = { "service_name", "s", "__name__", "process_cpu",
						NULL };
	static const char *const twice[] = { "service_name", "s", "service_name", "t", NULL };
	static const char *const empty_name[] = { "", "x", "service_name", "s", NULL };
	static const struct {
		const char *what, *id;
		const char *const *labels;
		int64_t start, end;
		size_t pprof_len;
	} bad[] = {
		{ "a 37-character ID", "0f8e7c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b6", good, 1, 2, 3 },
		{ "no ID", "", good, 1, 2, 3 },
		{ "labels unsorted", id, unsorted, 1, 2, 3 },
		{ "a label twice", id, twice, 1, 2, 3 },
		{ "an empty label name", id, empty_name, 1, 2, 3 },
		{ "no service_name", id, no_svc, 1, 2, 3 },
		{ "an empty service_name", id, empty_svc, 1, 2, 3 },
		{ "an empty profile", id, good, 1, 2, 0 },
		{ "ending before it starts", id, good, 2, 1, 3 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf = record(bad[i].id, bad[i].start, bad[i].end, bad[i].labels, bad[i].pprof_len, 1,
			     &n);
		CHECK(buf != NULL, "%s: not built", bad[i].what);
		if (buf)
			expect_refused(buf, n, bad[i].what);
		free(buf);
	}

	/* Too many labels: 31. */
	const char *many[2 * 32 + 1];
	char names[31][8];
	for (int i = 0; i < 30; i++) {
		snprintf(names[i], sizeof(names[i]), "l%02d", i);
		many[2 * i] = names[i];
		many[2 * i + 1] = "v";
	}
	many[60] = "service_name";
	many[61] = "s";
	many[62] = NULL;
	buf = record(id, 1, 2, many, 3, 1, &n);
	expect_refused(buf, n, "31 labels");
	free(buf);

	/* Not a protobuf message at all, in a good frame. */
	buf = frame((const uint8_t *)"\xff\xff\xff\xff", 4, 1, &n);
	expect_refused(buf, n, "not protobuf");
	free(buf);

	free(enc);
	upload_profile_free(p);
}

/* The test's directories are flat but for order/spool: two levels. */
static void remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
			remove_tree(path, depth - 1);
		else
			unlink(path);
	}
	closedir(d);
	CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_order_and_restart();
	test_byte_bound();
	test_age_bound();
	test_corrupt();
	test_record();
	test_modes();
	remove_tree(root, 3);
	return check_report("spool");
}
