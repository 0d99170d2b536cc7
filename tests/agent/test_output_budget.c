/* Unit tests of the output directory's bound (agent/output_budget.h), in a
 * directory of their own under /tmp. What would lose the wrong data or
 * fill the disk is checked: past the bound the oldest profiles go, and
 * only they (every profile left ends after every profile removed), until
 * the total is 90% of the bound; files that are not the agent's profiles
 * stay; a link out of the directory is not followed; what an interrupted
 * write left is removed at start; the bound holds as intervals are
 * written, across many service directories. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "output_budget.h"

#define FILE_BYTES 1000
#define T0 1700000000LL

static char root[] = "/tmp/smolder-output-budget-XXXXXX";

static void write_bytes(const char *path, size_t n)
{
	static const char buf[FILE_BYTES * 4];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	if (fd < 0)
		return;
	CHECK(write(fd, buf, n) == (ssize_t)n, "write %s", path);
	close(fd);
}

/* <dir>/<service>/<end - 15>-<end>.pb.gz of FILE_BYTES. */
static void write_profile(const char *dir, const char *service, long long end)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", dir, service);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%lld-%lld.pb.gz", dir, service, end - 15, end);
	write_bytes(path, FILE_BYTES);
}

static bool exists(const char *dir, const char *rel)
{
	char path[1200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

/* Every profile's end under dir: the oldest left, the count, the bytes. */
struct survey {
	long long oldest_end;
	int profiles;
	unsigned long long bytes;
};

static struct survey *survey_now;

static int survey_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	long long start, end;
	const char *name = path + f->base;

	if (type != FTW_F)
		return 0;
	survey_now->bytes += (unsigned long long)st->st_size;
	if (sscanf(name, "%lld-%lld.pb.gz", &start, &end) == 2 && strstr(name, ".pb.gz")) {
		survey_now->profiles++;
		if (!survey_now->oldest_end || end < survey_now->oldest_end)
			survey_now->oldest_end = end;
	}
	return 0;
}

static struct survey survey(const char *dir)
{
	struct survey s = { 0 };

	survey_now = &s;
	nftw(dir, survey_one, 16, FTW_PHYS);
	return s;
}

static void test_prune_at_start(void)
{
	char dir[256], outside[256], link[1200], evil[300];
	struct output_budget_stats st;
	struct output_budget *b;
	struct survey s;

	snprintf(dir, sizeof(dir), "%s/start", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	mkdir(dir, 0755);
	mkdir(outside, 0755);
	/* 100 profiles of two services, 15 s apart, oldest first. */
	for (int i = 0; i < 100; i++)
		write_profile(dir, i % 2 ? "web" : "db", T0 + 15 * i);
	write_bytes(strcat(strcpy(link, dir), "/web/notes.txt"), 500);
	write_bytes(strcat(strcpy(link, dir), "/web/1699999000-1699999015.pb.gz.tmp"), 700);
	/* a service directory that is a link out: not walked, not emptied */
	write_profile(outside, "x", T0 - 1000);
	snprintf(link, sizeof(link), "%s/x", outside);
	snprintf(evil, sizeof(evil), "%s/evil", dir);
	CHECK(symlink(link, evil) == 0, "symlink");

	b = output_budget_new(dir, 50 * FILE_BYTES);
	CHECK(b != NULL, "new");
	output_budget_get_stats(b, &st);
	s = survey(dir);
	/* 90% of 50,000 is 45,000: the 500-byte file stays, so 44 profiles
	 * fit (the histogram's buckets, 6 s, hold one profile end each). */
	CHECK(st.bytes <= 45 * FILE_BYTES, "bytes %llu", (unsigned long long)st.bytes);
	CHECK_INT(s.profiles, 44);
	CHECK_U64(st.bytes, s.bytes);
	CHECK_U64(st.removed, 100 - (uint64_t)s.profiles);
	/* the oldest went: what is left is the newest, without a gap */
	CHECK_INT(s.oldest_end, T0 + 15 * (100 - s.profiles));
	CHECK(exists(dir, "web/notes.txt"), "a file not ours was removed");
	CHECK(!exists(dir, "web/1699999000-1699999015.pb.gz.tmp"), "the .tmp file is left");
	snprintf(link, sizeof(link), "%s/outside/x/%lld-%lld.pb.gz", root, T0 - 1015, T0 - 1000);
	CHECK(access(link, F_OK) == 0, "a file through a link out of the directory was removed");
	CHECK_U64(st.remove_errors, 0);
	output_budget_free(b);
}

static void test_bound_holds_while_writing(void)
{
	char dir[256], service[32];
	struct output_budget_stats st;
	struct output_budget *b;
	struct survey s;
	int peak = 0;

	snprintf(dir, sizeof(dir), "%s/running", root);
	b = output_budget_new(dir, 30 * FILE_BYTES); /* it does not exist yet */
	CHECK(b != NULL, "new on a missing directory");
	mkdir(dir, 0755);
	/* 200 intervals of 3 services each */
	for (int i = 0; i < 200; i++) {
		for (int k = 0; k < 3; k++) {
			snprintf(service, sizeof(service), "svc-%d", k);
			write_profile(dir, service, T0 + 15 * i);
		}
		output_budget_wrote(b, 3 * FILE_BYTES);
		output_budget_get_stats(b, &st);
		if ((int)(st.bytes / FILE_BYTES) > peak)
			peak = (int)(st.bytes / FILE_BYTES);
		CHECK(st.bytes <= 30 * FILE_BYTES, "interval %d: %llu bytes", i,
		      (unsigned long long)st.bytes);
	}
	s = survey(dir);
	CHECK_U64(st.bytes, s.bytes);
	CHECK_U64(st.removed + (uint64_t)s.profiles, 600);
	/* the newest interval is whole, and so is everything after the oldest left */
	CHECK(s.profiles >= 27 && s.profiles <= 30, "%d left", s.profiles);
	CHECK(s.oldest_end >= T0 + 15 * (200 - 10), "oldest left ends at %lld", s.oldest_end);
	for (int k = 0; k < 3; k++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "svc-%d/%lld-%lld.pb.gz", k, T0 + 15 * 199 - 15,
			 T0 + 15 * 199);
		CHECK(exists(dir, rel), "the newest profile %s was removed", rel);
	}
	CHECK(peak == 30, "peak %d", peak);
	output_budget_free(b);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)type, (void)f;
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_prune_at_start();
	test_bound_holds_while_writing();
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_report("test_output_budget");
}
