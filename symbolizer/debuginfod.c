/* The debuginfod worker: fetches, off the symbolizing thread, the debug
 * files that nothing on the host has.
 *
 * The debug file search (debug_find.c) asks here by build-id and is told at
 * once what is known: the file has arrived, no server has it, the last try
 * failed, or it is on its way. A build-id not known yet goes into a bounded
 * queue that one thread works through with libdebuginfod, whose calls block
 * for as long as a transfer takes; the asking thread only ever holds the
 * mutex for a table lookup. A full queue turns a request away rather than
 * growing or waiting: the build-id is asked for again the next time it is
 * looked up.
 *
 * Answers are kept per build-id: the path of a file that arrived (in
 * libdebuginfod's cache), and "missing" (-ENOENT) or "failed" (the error of
 * the last try: -ECONNREFUSED, -ETIMEDOUT...) until a retry time. The
 * table is bounded: beyond MAX_RESOLVED answers the oldest are forgotten, and
 * a forgotten build-id is simply asked again (a file that had arrived is
 * then found in libdebuginfod's cache, without the network).
 *
 * elfutils 0.188 takes its servers, cache and timeout from the environment
 * only, so sym_debuginfod_new sets them, before its thread starts; the
 * agent must call it before it starts threads of its own. A transfer is
 * abandoned through libdebuginfod's progress callback, which it calls about
 * once a second: when sym_debuginfod_free asks the worker to stop, and when
 * the request has taken longer than its timeout (DEBUGINFOD_TIMEOUT only
 * bounds the connection and a stalled transfer, not a slow one, nor the
 * client's own retries). Without a cache_dir, libdebuginfod's default cache
 * is used as it is, with its own memory of 404s (cache_miss_s, 10 min).
 *
 * Nothing here prints, nor lets libdebuginfod print ($DEBUGINFOD_VERBOSE is
 * overridden): a URL may carry credentials.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/debuginfod.h>

#include "elf_file.h"
#include "hashtab.h"
#include "sym.h"

#define QUEUE_MAX 1024
/* Answers kept; when there are more, the oldest quarter is forgotten. */
#define MAX_RESOLVED 4096
#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_RETRY_AFTER_S 600
/* A network or server error is likely to pass sooner than a missing file
 * is to appear. */
#define RETRY_FAILED_S 60
#define NS_PER_S 1000000000ULL

enum entry_state {
	ENTRY_PENDING, /* queued or in flight */
	ENTRY_ARRIVED,
	ENTRY_MISSING, /* a server said 404, or libdebuginfod's cache says so */
	ENTRY_FAILED,
	ENTRY_FORGOTTEN, /* being dropped from the table */
};

struct entry {
	struct sym_hnode node;
	/* In resolved order, oldest first; linked only while resolved. */
	TAILQ_ENTRY(entry) resolved;
	enum entry_state state;
	int err;           /* FAILED: what the last try returned */
	uint64_t retry_ns; /* MISSING, FAILED: when it may be asked again */
	char *path;        /* ARRIVED: in libdebuginfod's cache */
	char build_id[];   /* lowercase hex, immutable */
};

TAILQ_HEAD(entry_list, entry);

struct sym_debuginfod {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* queue not empty, stop, or worker started */
	pthread_t thread;
	/* Read without the lock by the progress callback. */
	atomic_bool stop;
	bool started;  /* the worker has tried debuginfod_begin */
	int begin_err; /* what it failed with */

	/* A ring of PENDING entries; the worker holds the one it took. */
	struct entry *queue[QUEUE_MAX];
	size_t qhead, qlen;

	struct sym_htab table; /* every entry, by build-id */
	struct entry_list resolved;
	size_t nresolved;

	uint64_t timeout_ns;
	uint64_t retry_after_ns;
	/* Worker thread only: the request in flight is abandoned after
	 * deadline_ns, and cancelled says the progress callback did so. */
	uint64_t deadline_ns;
	bool cancelled;

	struct sym_debuginfod_stats stats;
	uint64_t turned_away; /* requests a full queue refused */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- options and environment ---- */

#define OPT_HAS(o, field)                                                     \
	((o) && (o)->sz >= offsetof(struct sym_debuginfod_opts, field) + \
				   sizeof((o)->field))

static bool opts_valid(const struct sym_debuginfod_opts *o)
{
	if (!o)
		return true;
	if (o->sz < sizeof(size_t))
		return false;
	/* A newer caller's fields we do not know must be unset. */
	for (size_t i = sizeof(*o); i < o->sz; i++)
		if (((const char *)o)[i])
			return false;
	return true;
}

static bool has_url(const char *urls)
{
	return urls && urls[strspn(urls, " \t\n")];
}

/* mkdir -p, each directory made 0700: the cache is the agent's alone. */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir);
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c && c != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			err = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return err;
}

/* libdebuginfod marks a 404 in its cache and, for cache_miss_s seconds (600
 * by default), answers from the mark without asking the servers. 0.188 also
 * leaves the mark when the progress callback abandons a transfer (timeout,
 * sym_debuginfod_free), so a server that was merely slow would pass for one
 * that has no such file, even across restarts. Our table is the negative
 * cache: the client's forgets at once (almost: 0.188 still honours a mark
 * within the second it was made in). */
static int set_cache_miss_s(const char *cache_dir)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s/cache_miss_s", cache_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, "0", 1) != 1)
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* What libdebuginfod reads from the environment, from opts. */
static int set_environment(const char *urls, const char *cache_dir,
			   unsigned int timeout_s)
{
	char num[16];
	int err;

	if (urls && setenv(DEBUGINFOD_URLS_ENV_VAR, urls, 1))
		return -errno;
	if (!has_url(getenv(DEBUGINFOD_URLS_ENV_VAR)))
		return -EINVAL;
	if (cache_dir) {
		err = make_dirs(cache_dir);
		if (!err)
			err = set_cache_miss_s(cache_dir);
		if (err)
			return err;
		if (setenv(DEBUGINFOD_CACHE_PATH_ENV_VAR, cache_dir, 1))
			return -errno;
	}
	snprintf(num, sizeof(num), "%u", timeout_s);
	if (setenv(DEBUGINFOD_TIMEOUT_ENV_VAR, num, 1))
		return -errno;
	return 0;
}

/* ---- the table ---- */

static uint64_t build_id_hash(const char *build_id)
{
	return sym_hash_bytes(build_id, strlen(build_id), SYM_HASH_INIT);
}

static bool entry_eq(const struct sym_hnode *n, const void *key)
{
	return !strcmp(((const struct entry *)n)->build_id, key);
}

static bool build_id_valid(const char *id)
{
	size_t len = strspn(id, "0123456789abcdef");

	return len && !id[len] && len % 2 == 0 && len <= 2 * SYM_BUILD_ID_MAX;
}

static bool drop_forgotten(struct sym_hnode *n, void *ctx)
{
	struct entry *e = (struct entry *)n;

	(void)ctx;
	if (e->state != ENTRY_FORGOTTEN)
		return false;
	free(e->path);
	free(e);
	return true;
}

static bool drop_any(struct sym_hnode *n, void *ctx)
{
	struct entry *e = (struct entry *)n;

	(void)ctx;
	free(e->path);
	free(e);
	return true;
}

/* Forgets the oldest answers down to three quarters of the bound, in one
 * pass over the table. */
static void forget_oldest(struct sym_debuginfod *d)
{
	if (d->nresolved <= MAX_RESOLVED)
		return;
	while (d->nresolved > MAX_RESOLVED / 4 * 3) {
		struct entry *e = TAILQ_FIRST(&d->resolved);

		TAILQ_REMOVE(&d->resolved, e, resolved);
		d->nresolved--;
		e->state = ENTRY_FORGOTTEN;
	}
	sym_htab_drop_if(&d->table, drop_forgotten, NULL);
}

static void set_resolved(struct sym_debuginfod *d, struct entry *e,
			 enum entry_state state)
{
	e->state = state;
	TAILQ_INSERT_TAIL(&d->resolved, e, resolved);
	d->nresolved++;
	forget_oldest(d);
}

/* Queues e (new, or resolved and due for another try). -EAGAIN either way:
 * a full queue leaves e as it was, to be asked for next time. */
static int enqueue(struct sym_debuginfod *d, struct entry *e)
{
	if (d->qlen == QUEUE_MAX) {
		d->turned_away++;
		return -EAGAIN;
	}
	if (e->state != ENTRY_PENDING) {
		TAILQ_REMOVE(&d->resolved, e, resolved);
		d->nresolved--;
		free(e->path);
		e->path = NULL;
		e->state = ENTRY_PENDING;
	}
	d->queue[(d->qhead + d->qlen) % QUEUE_MAX] = e;
	d->qlen++;
	d->stats.requested++;
	pthread_cond_signal(&d->cond);
	return -EAGAIN;
}

static int ask_new(struct sym_debuginfod *d, const char *build_id, uint64_t hash)
{
	size_t len = strlen(build_id);
	struct entry *e;

	if (d->qlen == QUEUE_MAX) {
		d->turned_away++;
		return -EAGAIN;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->build_id, build_id, len + 1);
	e->node.hash = hash;
	e->state = ENTRY_PENDING;
	if (sym_htab_add(&d->table, &e->node)) {
		free(e);
		return -ENOMEM;
	}
	return enqueue(d, e);
}

/* ---- the worker ---- */

static int on_progress(debuginfod_client *client, long a, long b)
{
	struct sym_debuginfod *d = debuginfod_get_user_data(client);

	(void)a;
	(void)b;
	if (atomic_load(&d->stop) || now_ns() > d->deadline_ns)
		d->cancelled = true;
	return d->cancelled;
}

/* Takes in what debuginfod_find_debuginfo returned for e. */
static void record(struct sym_debuginfod *d, struct entry *e, int rc, char *path)
{
	uint64_t now = now_ns();

	if (rc >= 0 && path) {
		e->path = path;
		d->stats.fetched++;
		set_resolved(d, e, ENTRY_ARRIVED);
		return;
	}
	free(path);
	/* An abandoned transfer returns -ENOENT in 0.188: not an answer. */
	if (d->cancelled)
		rc = -ETIMEDOUT;
	if (rc == -ENOENT) {
		e->retry_ns = now + d->retry_after_ns;
		d->stats.missing++;
		set_resolved(d, e, ENTRY_MISSING);
		return;
	}
	if (rc >= 0)
		rc = -ENOMEM;
	e->err = rc;
	e->retry_ns = now + RETRY_FAILED_S * NS_PER_S;
	d->stats.failed++;
	set_resolved(d, e, ENTRY_FAILED);
}

/* Fetches one queued build-id at a time until told to stop. Called and
 * returns with d->lock held; releases it for each transfer. */
static void work(struct sym_debuginfod *d, debuginfod_client *client)
{
	while (!atomic_load(&d->stop)) {
		struct entry *e;
		char *path = NULL;
		int rc;

		if (!d->qlen) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		e = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % QUEUE_MAX;
		d->qlen--;
		d->deadline_ns = now_ns() + d->timeout_ns;
		d->cancelled = false;
		pthread_mutex_unlock(&d->lock);

		/* e stays in the table while PENDING: only answers are
		 * forgotten, and only sym_debuginfod_free frees the rest. */
		rc = debuginfod_find_debuginfo(client, (const unsigned char *)e->build_id,
					       0, &path);
		if (rc >= 0)
			close(rc);

		pthread_mutex_lock(&d->lock);
		if (atomic_load(&d->stop)) {
			free(path);
			break;
		}
		record(d, e, rc, path);
	}
}

static void *worker_main(void *arg)
{
	struct sym_debuginfod *d = arg;
	debuginfod_client *client = debuginfod_begin();
	int begin_errno = errno;

	if (client) {
		debuginfod_set_user_data(client, d);
		debuginfod_set_progressfn(client, on_progress);
		debuginfod_set_verbose_fd(client, -1);
	}
	pthread_mutex_lock(&d->lock);
	d->started = true;
	d->begin_err = client ? 0 : -(begin_errno ? begin_errno : ENOMEM);
	pthread_cond_broadcast(&d->cond);
	if (client)
		work(d, client);
	pthread_mutex_unlock(&d->lock);
	if (client)
		debuginfod_end(client);
	return NULL;
}

/* The worker takes no signal: the agent's handlers belong to its own
 * threads, whatever it blocks or not after this. */
static int start_worker(struct sym_debuginfod *d)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&d->thread, NULL, worker_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	pthread_mutex_lock(&d->lock);
	while (!d->started)
		pthread_cond_wait(&d->cond, &d->lock);
	err = d->begin_err;
	pthread_mutex_unlock(&d->lock);
	if (err)
		pthread_join(d->thread, NULL);
	return err;
}

/* ---- the API ---- */

static void release(struct sym_debuginfod *d)
{
	sym_htab_drop_if(&d->table, drop_any, NULL);
	sym_htab_release(&d->table);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct sym_debuginfod *sym_debuginfod_new(const struct sym_debuginfod_opts *opts)
{
	const char *urls = NULL, *cache_dir = NULL;
	unsigned int timeout_s = 0, retry_after_s = 0;
	struct sym_debuginfod *d;
	int err;

	if (!opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	if (OPT_HAS(opts, urls))
		urls = opts->urls;
	if (OPT_HAS(opts, cache_dir))
		cache_dir = opts->cache_dir;
	if (OPT_HAS(opts, timeout_s))
		timeout_s = opts->timeout_s;
	if (OPT_HAS(opts, retry_after_s))
		retry_after_s = opts->retry_after_s;
	if (!timeout_s)
		timeout_s = DEFAULT_TIMEOUT_S;
	if (!retry_after_s)
		retry_after_s = DEFAULT_RETRY_AFTER_S;

	err = set_environment(urls, cache_dir, timeout_s);
	if (err) {
		errno = -err;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	TAILQ_INIT(&d->resolved);
	d->timeout_ns = timeout_s * NS_PER_S;
	d->retry_after_ns = retry_after_s * NS_PER_S;
	err = start_worker(d);
	if (err) {
		release(d);
		errno = -err;
		return NULL;
	}
	return d;
}

void sym_debuginfod_free(struct sym_debuginfod *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->stop, true);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	release(d);
}

/* The answer for a build-id we have an entry for. */
static int answer(struct sym_debuginfod *d, struct entry *e, char **path)
{
	switch (e->state) {
	case ENTRY_ARRIVED:
		/* libdebuginfod's cache cleaning may have removed it since. */
		if (access(e->path, F_OK))
			return enqueue(d, e);
		*path = strdup(e->path);
		return *path ? 0 : -ENOMEM;
	case ENTRY_MISSING:
	case ENTRY_FAILED:
		if (now_ns() >= e->retry_ns)
			return enqueue(d, e);
		return e->state == ENTRY_MISSING ? -ENOENT : e->err;
	default:
		return -EAGAIN;
	}
}

int sym_debuginfod_find(struct sym_debuginfod *d, const char *build_id,
			char **path)
{
	struct sym_hnode *n;
	uint64_t hash;
	int err;

	if (!d || !build_id || !path || !build_id_valid(build_id))
		return -EINVAL;
	*path = NULL;
	hash = build_id_hash(build_id);
	pthread_mutex_lock(&d->lock);
	n = sym_htab_find(&d->table, hash, entry_eq, build_id);
	err = n ? answer(d, (struct entry *)n, path) : ask_new(d, build_id, hash);
	pthread_mutex_unlock(&d->lock);
	return err;
}

void sym_debuginfod_get_stats(struct sym_debuginfod *d,
			      struct sym_debuginfod_stats *st)
{
	if (!st)
		return;
	if (!d) {
		*st = (struct sym_debuginfod_stats){ 0 };
		return;
	}
	pthread_mutex_lock(&d->lock);
	*st = d->stats;
	pthread_mutex_unlock(&d->lock);
}
