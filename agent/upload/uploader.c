/* The uploader's queue and thread (see uploader.h).
 *
 * Order: every profile gets a seq when queued, the Unix time in ns made
 * unique; the thread always sends the lowest seq there is, in memory or in
 * the spool, so the two together are one queue. Profiles wait in memory
 * while the server keeps up. Once an attempt fails, the profile tried and
 * everything in memory move to the spool, and until an attempt succeeds
 * again the run loop spools new profiles itself (uploader_submit), so
 * a profile is on disk for as long as the server is away. Without a spool
 * (none configured, or it could not be opened) memory holds what it can
 * and the oldest profiles are dropped, counted, beyond that.
 *
 * Locking: u->lock guards the memory queue, the state and the stats; the
 * spool has its own lock. Network requests run without either held.
 */
#include "uploader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "upload_http.h"
#include "upload_warned.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS (5 * 60 * 1000)
/* Profiles in memory: beyond this many waiting, the run loop spools. */
#define MEMORY_BACKLOG 4
/* Without a spool, memory holds at most this much. */
#define MEMORY_MAX_PROFILES 256
#define MEMORY_MAX_BYTES (64u << 20)
/* Repeated failures of one kind are logged at most this often. */
#define LOG_EVERY_NS (60LL * 1000000000)

struct uploader {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started;

	struct upload_http *http;
	struct spool *spool;  /* NULL: memory only */
	char *server;         /* the URL, without credentials, for the log */

	/* The memory queue: a ring, oldest at head. */
	struct upload_profile *mem[MEMORY_MAX_PROFILES];
	size_t head, n, bytes;

	uint64_t last_seq;
	bool failing;         /* the last attempt failed and will be retried */
	unsigned backoff_step;
	bool stopping;
	int64_t flush_deadline;   /* monotonic ns, once stopping */
	atomic_bool abort_request;

	struct upload_warned warned; /* labels the legacy API left out */
	int64_t last_failure_log; /* monotonic ns */
	uint64_t failures_unlogged;
	struct uploader_stats st;
};

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void uploader_redact_url(const char *url, char *out, size_t len)
{
	CURLU *u = curl_url();
	char *clean = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK)
		snprintf(out, len, "%s", clean);
	else
		snprintf(out, len, "(unparsable URL)");
	curl_free(clean);
	curl_url_cleanup(u);
}

/* ---- the memory queue (u->lock held) ---- */

static struct upload_profile *mem_at(struct uploader *u, size_t i)
{
	return u->mem[(u->head + i) % MEMORY_MAX_PROFILES];
}

static void mem_push(struct uploader *u, struct upload_profile *p)
{
	u->mem[(u->head + u->n) % MEMORY_MAX_PROFILES] = p;
	u->n++;
	u->bytes += upload_profile_bytes(p);
}

static struct upload_profile *mem_pop(struct uploader *u)
{
	struct upload_profile *p = u->mem[u->head];

	u->head = (u->head + 1) % MEMORY_MAX_PROFILES;
	u->n--;
	u->bytes -= upload_profile_bytes(p);
	return p;
}

/* Makes room for one more: the oldest waiting go, counted. keep_head
 * spares the profile being sent. */
static void mem_make_room(struct uploader *u, size_t adding, bool keep_head)
{
	while (u->n > (keep_head ? 1u : 0u) &&
	       (u->n >= MEMORY_MAX_PROFILES || u->bytes + adding > MEMORY_MAX_BYTES)) {
		struct upload_profile *p;

		if (keep_head) {
			/* drop the second oldest: the head is in flight */
			size_t second = (u->head + 1) % MEMORY_MAX_PROFILES;
			p = u->mem[second];
			u->mem[second] = u->mem[u->head];
			u->head = second;
			u->n--;
			u->bytes -= upload_profile_bytes(p);
		} else {
			p = mem_pop(u);
		}
		upload_profile_free(p);
		u->st.dropped_memory++;
	}
}

/* Moves what memory holds to the spool, oldest first; what cannot be
 * written stays. in_flight: the head is being sent, leave it. */
static void mem_to_spool(struct uploader *u, bool in_flight)
{
	size_t skip = in_flight ? 1 : 0;

	if (!u->spool)
		return;
	while (u->n > skip) {
		struct upload_profile *p = mem_at(u, skip);

		if (spool_put(u->spool, p))
			return; /* counted by the spool; kept in memory */
		if (skip) {
			size_t second = (u->head + 1) % MEMORY_MAX_PROFILES;
			u->mem[second] = u->mem[u->head];
			u->head = second;
			u->n--;
			u->bytes -= upload_profile_bytes(p);
		} else {
			mem_pop(u);
		}
		upload_profile_free(p);
	}
}

static uint64_t next_seq(struct uploader *u)
{
	uint64_t now = (uint64_t)now_ns(CLOCK_REALTIME);

	u->last_seq = now > u->last_seq ? now : u->last_seq + 1;
	return u->last_seq;
}

void uploader_submit(struct uploader *u, struct upload_profile *p)
{
	bool to_spool;

	pthread_mutex_lock(&u->lock);
	p->seq = next_seq(u);
	u->st.queued++;
	to_spool = u->spool && (u->failing || u->n >= MEMORY_BACKLOG);
	pthread_mutex_unlock(&u->lock);

	/* Written outside u->lock: the thread is not held up by our disk. */
	if (to_spool && spool_put(u->spool, p) == 0) {
		upload_profile_free(p);
	} else {
		pthread_mutex_lock(&u->lock);
		mem_make_room(u, upload_profile_bytes(p), true);
		mem_push(u, p);
		pthread_mutex_unlock(&u->lock);
	}
	pthread_mutex_lock(&u->lock);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
}

/* ---- the thread ---- */

static bool should_abort(void *arg)
{
	struct uploader *u = arg;

	return atomic_load(&u->abort_request);
}

/* The step's delay, plus up to as much again at random (so never under
 * BACKOFF_MIN_MS), capped at BACKOFF_MAX_MS. */
static int64_t backoff_ms(struct uploader *u, int64_t retry_after_ms)
{
	int64_t d = BACKOFF_MIN_MS;
	uint32_t r = 0;

	for (unsigned i = 0; i < u->backoff_step && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	if (u->backoff_step < 32)
		u->backoff_step++;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)now_ns(CLOCK_MONOTONIC);
	d += (int64_t)(r % (uint32_t)(d + 1));
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return retry_after_ms > d ? retry_after_ms : d;
}

/* Waits on the condition until deadline (monotonic ns) or a wake-up. */
static void wait_until(struct uploader *u, int64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };

	pthread_cond_timedwait(&u->wake, &u->lock, &ts);
}

enum source { FROM_NONE, FROM_MEMORY, FROM_SPOOL };

/* The profile to send next: the lowest seq of memory's head and the
 * spool's oldest (u->lock held; the spool is read without it). */
static enum source pick(struct uploader *u, struct upload_profile **p)
{
	uint64_t spooled = u->spool ? spool_oldest_seq(u->spool) : UINT64_MAX;
	int rc;

	if (u->n && mem_at(u, 0)->seq < spooled) {
		*p = mem_at(u, 0);
		return FROM_MEMORY;
	}
	if (spooled == UINT64_MAX)
		return FROM_NONE;
	pthread_mutex_unlock(&u->lock);
	rc = spool_read_oldest(u->spool, p);
	pthread_mutex_lock(&u->lock);
	if (rc)
		return FROM_NONE;
	/* The file compared may have gone (corrupt, too old, or dropped for
	 * room) while the lock was let go: what came back may be newer than
	 * memory's head, which only this thread takes away. */
	if (u->n && mem_at(u, 0)->seq < (*p)->seq) {
		upload_profile_free(*p);
		*p = mem_at(u, 0);
		return FROM_MEMORY;
	}
	return FROM_SPOOL;
}

/* Logs a failure, at most once a minute for a run of them. */
static void log_failure(struct uploader *u, const struct upload_reply *r, bool retry)
{
	int64_t now = now_ns(CLOCK_MONOTONIC);

	if (u->last_failure_log && now - u->last_failure_log < LOG_EVERY_NS) {
		u->failures_unlogged++;
		return;
	}
	if (retry)
		log_warn("upload to %s failed (%s%ld%s%s), retrying; profiles wait in %s%s", u->server,
			 r->status ? "HTTP " : "", r->status, r->message[0] ? ": " : "", r->message,
			 u->spool ? "the spool" : "memory",
			 u->failures_unlogged ? " (and failures not logged)" : "");
	else
		log_error("upload to %s refused (HTTP %ld%s%s): profile dropped, not retried%s",
			  u->server, r->status, r->message[0] ? ": " : "", r->message,
			  u->failures_unlogged ? " (and failures not logged)" : "");
	u->last_failure_log = now;
	u->failures_unlogged = 0;
}

/* What follows one attempt (u->lock held). */
static void settle(struct uploader *u, enum source from, struct upload_profile *p,
		   const struct upload_reply *r)
{
	switch (r->verdict) {
	case UPLOAD_DELIVERED:
	case UPLOAD_REFUSED:
		/* Either way the server answered: it is up. */
		if (r->verdict == UPLOAD_DELIVERED) {
			u->st.delivered++;
			if (u->failing)
				log_info("upload to %s works again", u->server);
		} else {
			u->st.refused++;
			log_failure(u, r, false);
		}
		u->failing = false;
		u->backoff_step = 0;
		if (from == FROM_SPOOL) {
			spool_remove(u->spool, p->seq);
			upload_profile_free(p);
		} else {
			upload_profile_free(mem_pop(u));
		}
		return;
	case UPLOAD_RETRY:
		u->st.retried++;
		if (!u->failing)
			u->last_failure_log = 0; /* a new outage is always told */
		log_failure(u, r, true);
		u->failing = true;
		if (from == FROM_SPOOL)
			upload_profile_free(p); /* it stays in the spool */
		mem_to_spool(u, false);
		return;
	}
}

/* Sends the profile in hand and settles it; returns the server's
 * Retry-After, in ms (0: none). */
static int64_t attempt(struct uploader *u, enum source from, struct upload_profile *p)
{
	struct series_report dropped;
	struct upload_reply r;
	int rc;

	pthread_mutex_unlock(&u->lock);
	rc = upload_http_send(u->http, p, &r, &dropped);
	pthread_mutex_lock(&u->lock);
	if (rc) {
		memset(&r, 0, sizeof(r));
		r.verdict = UPLOAD_RETRY;
		snprintf(r.message, sizeof(r.message), "%s", strerror(-rc));
	}
	if (dropped.n_dropped)
		upload_warned_log(&u->warned, series_labels_get(&p->labels, "service_name"),
				  &dropped);
	settle(u, from, p, &r);
	return r.retry_after_ms;
}

/* On the way out: memory goes to the spool, or is lost (and counted)
 * without one. */
static void leave(struct uploader *u)
{
	mem_to_spool(u, false);
	while (u->n) {
		upload_profile_free(mem_pop(u));
		u->st.dropped_memory++;
	}
}

static void *run(void *arg)
{
	struct uploader *u = arg;
	int64_t retry_at = 0;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct upload_profile *p = NULL;
		enum source from;
		int64_t now = now_ns(CLOCK_MONOTONIC);

		if (u->stopping && (now >= u->flush_deadline || u->failing || !u->n ||
				    (u->spool && spool_oldest_seq(u->spool) < mem_at(u, 0)->seq)))
			break; /* what is left goes to the spool, in order */
		if (u->failing && now < retry_at) {
			wait_until(u, retry_at);
			continue;
		}
		from = pick(u, &p);
		if (from == FROM_NONE) {
			wait_until(u, u->stopping ? u->flush_deadline : now + 1000000000);
			continue;
		}
		int64_t retry_after = attempt(u, from, p);
		if (u->failing)
			retry_at = now_ns(CLOCK_MONOTONIC) + backoff_ms(u, retry_after) * 1000000;
	}
	leave(u);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

static bool spool_open(struct uploader *u, const struct uploader_opts *o)
{
	struct spool_opts so = {
		.sz = sizeof(so),
		.dir = o->spool_dir,
		.max_bytes = o->spool_max_bytes,
		.max_age_ms = o->spool_max_age_ms,
	};

	if (!o->spool_dir)
		return true;
	u->spool = spool_new(&so);
	if (!u->spool) {
		log_warn("spool %s: %s; profiles wait in memory only (at most %u, oldest dropped)",
			 o->spool_dir, strerror(errno), MEMORY_MAX_PROFILES);
		return true;
	}
	u->last_seq = spool_next_seq(u->spool);
	return true;
}

struct uploader *uploader_new(const struct uploader_opts *o, const char **what)
{
	struct uploader *u = calloc(1, sizeof(*u));
	char server[1024];
	pthread_condattr_t ca;
	int rc;

	*what = "uploader";
	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->wake, &ca);
	pthread_condattr_destroy(&ca);
	uploader_redact_url(o->url, server, sizeof(server));
	u->server = strdup(server);
	u->http = upload_http_new(o, should_abort, u);
	if (!u->server || !u->http) {
		*what = "setting up libcurl";
		goto fail;
	}
	spool_open(u, o);
	u->st.spooling = u->spool != NULL;
	rc = pthread_create(&u->thread, NULL, run, u);
	if (rc) {
		errno = rc;
		*what = "starting the upload thread";
		goto fail;
	}
	u->thread_started = true;
	return u;
fail:
	rc = errno;
	uploader_free(u, 0, NULL);
	errno = rc;
	return NULL;
}

void uploader_get_stats(struct uploader *u, struct uploader_stats *st)
{
	pthread_mutex_lock(&u->lock);
	*st = u->st;
	st->in_memory = u->n;
	pthread_mutex_unlock(&u->lock);
	if (u->spool)
		spool_get_stats(u->spool, &st->spool);
}

void uploader_free(struct uploader *u, uint64_t flush_ms, struct uploader_stats *last)
{
	if (!u)
		return;
	if (u->thread_started) {
		pthread_mutex_lock(&u->lock);
		u->stopping = true;
		u->flush_deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)flush_ms * 1000000;
		pthread_cond_signal(&u->wake);
		pthread_mutex_unlock(&u->lock);
		/* A request still running past the deadline is cut short. */
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(u->thread, NULL, &ts) == 0)
				break;
			if (now_ns(CLOCK_MONOTONIC) >= u->flush_deadline)
				atomic_store(&u->abort_request, true);
		}
	}
	if (last)
		uploader_get_stats(u, last);
	while (u->n)
		upload_profile_free(mem_pop(u));
	upload_http_free(u->http);
	upload_warned_release(&u->warned);
	spool_free(u->spool);
	free(u->server);
	pthread_cond_destroy(&u->wake);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
