/* The local output directory within a number of bytes (see output_budget.h). */
#include "output_budget.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUCKETS 256

struct output_budget {
	char *dir;
	uint64_t max_bytes;
	struct output_budget_stats st;
};

/* One file under <dir>/<service>/, as a walk sees it. */
struct visit {
	int dirfd;
	const char *name;
	uint64_t bytes;
	int64_t end_s;  /* of a profile's name */
	bool profile;   /* named as the agent names its profiles */
	bool tmp;       /* ... with .tmp after it: an interrupted write */
};

typedef void (*visit_fn)(struct output_budget *b, const struct visit *v, void *arg);

static const char *skip_digits(const char *p)
{
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

/* <start>-<end>[-<hex>].pb.gz[.tmp]: the end, and whether .tmp follows. */
static bool parse_profile_name(const char *name, int64_t *end_s, bool *tmp)
{
	const char *p = skip_digits(name), *end;

	if (p == name || *p++ != '-')
		return false;
	end = p;
	p = skip_digits(p);
	if (p == end)
		return false;
	*end_s = strtoll(end, NULL, 10);
	if (*p == '-') {
		const char *hex = ++p;
		while (isxdigit((unsigned char)*p))
			p++;
		if (p == hex)
			return false;
	}
	if (strncmp(p, ".pb.gz", 6) != 0)
		return false;
	p += 6;
	*tmp = strcmp(p, ".tmp") == 0;
	return *tmp || *p == '\0';
}

static void walk_service(struct output_budget *b, int dirfd, visit_fn fn, void *arg)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		struct visit v = { .dirfd = dirfd, .name = e->d_name };
		struct stat st;

		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		v.bytes = (uint64_t)st.st_size;
		v.profile = parse_profile_name(e->d_name, &v.end_s, &v.tmp);
		fn(b, &v, arg);
	}
	closedir(d);
}

/* Calls fn for each regular file of each service directory. Symbolic links
 * are not followed: the directory is the agent's own. */
static void walk(struct output_budget *b, visit_fn fn, void *arg)
{
	int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		int sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			walk_service(b, sub, fn, arg);
	}
	closedir(d);
}

struct census {
	uint64_t bytes;
	int64_t min_end, max_end;
	bool any;
};

static void count_file(struct output_budget *b, const struct visit *v, void *arg)
{
	struct census *c = arg;

	if (v->tmp) { /* writes and walks take turns: this one was cut short */
		if (unlinkat(v->dirfd, v->name, 0))
			b->st.remove_errors++;
		return;
	}
	c->bytes += v->bytes;
	if (!v->profile)
		return;
	if (!c->any || v->end_s < c->min_end)
		c->min_end = v->end_s;
	if (!c->any || v->end_s > c->max_end)
		c->max_end = v->end_s;
	c->any = true;
}

struct histogram {
	int64_t min_end, width;
	uint64_t bytes[BUCKETS];
};

static size_t bucket_of(const struct histogram *h, int64_t end_s)
{
	int64_t i = (end_s - h->min_end) / h->width;

	return i < 0 ? 0 : i >= BUCKETS ? BUCKETS - 1 : (size_t)i;
}

static void add_to_histogram(struct output_budget *b, const struct visit *v, void *arg)
{
	struct histogram *h = arg;

	(void)b;
	if (v->profile && !v->tmp)
		h->bytes[bucket_of(h, v->end_s)] += v->bytes;
}

struct removal {
	int64_t before_end_s; /* profiles that end before this go */
	uint64_t bytes;
};

static void remove_old(struct output_budget *b, const struct visit *v, void *arg)
{
	struct removal *r = arg;

	if (!v->profile || v->tmp || v->end_s >= r->before_end_s)
		return;
	if (unlinkat(v->dirfd, v->name, 0)) {
		b->st.remove_errors++;
		return;
	}
	b->st.removed++;
	r->bytes += v->bytes;
}

/* Counts what the directory holds; past the bound, removes the oldest
 * profiles until the total is 90% of it. */
static void prune(struct output_budget *b)
{
	uint64_t target = b->max_bytes / 10 * 9, excess, sum = 0;
	struct census c = { 0 };
	struct histogram h = { 0 };
	struct removal r = { 0 };
	size_t k;

	walk(b, count_file, &c); /* the disk's word, not the running total's */
	b->st.bytes = c.bytes;
	if (c.bytes <= b->max_bytes || !c.any)
		return;
	excess = c.bytes - target;
	h.min_end = c.min_end;
	h.width = (c.max_end - c.min_end) / BUCKETS + 1;
	walk(b, add_to_histogram, &h);
	for (k = 0; k < BUCKETS - 1 && (sum += h.bytes[k]) < excess; k++)
		;
	r.before_end_s = h.min_end + (int64_t)(k + 1) * h.width;
	walk(b, remove_old, &r);
	b->st.bytes = c.bytes > r.bytes ? c.bytes - r.bytes : 0;
}

struct output_budget *output_budget_new(const char *dir, uint64_t max_bytes)
{
	struct output_budget *b = calloc(1, sizeof(*b));

	if (!b || !(b->dir = strdup(dir))) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->max_bytes = max_bytes;
	prune(b); /* counts what is there, and removes only if past the bound */
	return b;
}

void output_budget_free(struct output_budget *b)
{
	if (!b)
		return;
	free(b->dir);
	free(b);
}

void output_budget_wrote(struct output_budget *b, uint64_t bytes)
{
	b->st.bytes += bytes;
	if (b->st.bytes > b->max_bytes)
		prune(b);
}

void output_budget_get_stats(const struct output_budget *b, struct output_budget_stats *st)
{
	*st = b->st;
}
