/* The API server's list and watch of this node's pods (see kube_watch.h),
 * with libcurl. A watch is one long GET whose body is a stream of JSON
 * objects, one a line: lines are cut out as they arrive and applied to
 * the store one by one. */
#include "kube_watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define BODY_MAX (64u << 20)  /* a PodList of a full node is a few MB */
#define LINE_MAX_BYTES (4u << 20)
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define RV_MAX 64

struct disc_kube_watch {
	struct disc_kube_watch_opts o;
	char *api_url, *token_path, *ca_path, *node_name;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stop;
	struct disc_kube_watch_stats st;
	char rv[RV_MAX];
};

struct buf {
	char *data;
	size_t len, cap, max;
};

static int buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->max)
		return -E2BIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *d;
		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void count(struct disc_kube_watch *w, uint64_t *field)
{
	pthread_mutex_lock(&w->lock);
	(*field)++;
	pthread_mutex_unlock(&w->lock);
}

static void count_error(struct disc_kube_watch *w, const char *text)
{
	pthread_mutex_lock(&w->lock);
	w->st.errors++;
	snprintf(w->st.last_error_text, sizeof(w->st.last_error_text), "%s", text);
	pthread_mutex_unlock(&w->lock);
}

/* ---- one request ---- */

struct request {
	struct disc_kube_watch *w;
	CURL *curl;
	struct buf body;        /* the list's body, or the watch's partial line */
	bool watch;
	bool refused;           /* a watch answered other than 200: its body is a Status */
	bool gone;
	char error[sizeof(((struct disc_kube_watch_stats *)0)->last_error_text)]; /* why it failed, for the stats */
};

static size_t on_list_body(char *p, size_t size, size_t n, void *arg)
{
	struct request *r = arg;

	return buf_add(&r->body, p, size * n) ? 0 : size * n;
}

static void apply_line(struct request *r, const char *line, size_t len)
{
	struct disc_kube_watch *w = r->w;
	enum disc_kube_event kind;
	char rv[RV_MAX] = "";

	if (!len)
		return;
	if (disc_kube_pods_apply_event(w->o.store, line, len, &kind, rv, sizeof(rv))) {
		count_error(w, "a watch event that is not a pod's");
		return;
	}
	count(w, &w->st.events);
	if (kind == DISC_KUBE_ERROR) {
		char msg[CURL_ERROR_SIZE];
		if (disc_kube_status_message(line, len, msg, sizeof(msg)))
			snprintf(msg, sizeof(msg), "an ERROR event");
		count_error(w, msg);
	}
	if (kind == DISC_KUBE_GONE)
		r->gone = true;
	else if (rv[0])
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

static size_t on_watch_body(char *p, size_t size, size_t n, void *arg)
{
	struct request *r = arg;
	size_t len = size * n, start = 0;
	long status = 0;

	if (!r->body.len && !r->refused) {
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
		r->refused = status != 200;
	}
	if (r->refused) /* kept whole, for its message */
		return buf_add(&r->body, p, len) ? 0 : len;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (r->body.len) {
			if (buf_add(&r->body, p + start, i - start))
				return 0;
			apply_line(r, r->body.data, r->body.len);
			r->body.len = 0;
		} else {
			apply_line(r, p + start, i - start);
		}
		start = i + 1;
		if (r->gone)
			return 0; /* ends the transfer: relist */
	}
	if (start < len && buf_add(&r->body, p + start, len - start))
		return 0;
	return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct request *r = arg;

	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&r->w->stop) ? 1 : 0;
}

static struct curl_slist *auth_header(const struct disc_kube_watch *w)
{
	char token[8192], line[8300];
	size_t n;
	FILE *f;

	if (!w->token_path || !(f = fopen(w->token_path, "re")))
		return NULL;
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	token[n] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof(token));
	return curl_slist_append(NULL, line);
}

/* Why a request that ended with status (and body) failed, into r->error. */
static void describe_refusal(struct request *r, long status)
{
	char msg[CURL_ERROR_SIZE];

	if (r->body.data && disc_kube_status_message(r->body.data, r->body.len, msg,
						     sizeof(msg)) == 0)
		snprintf(r->error, sizeof(r->error), "HTTP %ld: %s", status, msg);
	else
		snprintf(r->error, sizeof(r->error), "HTTP %ld", status);
}

/* GET url: the list's body in r->body, or the watch's events applied.
 * The HTTP status, 410 for a watch's Gone, or -EIO (why, in r->error). */
static long get(struct disc_kube_watch *w, const char *url, struct request *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = auth_header(w);
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode cc;

	if (!c) {
		curl_slist_free_all(h);
		snprintf(r->error, sizeof(r->error), "out of memory");
		return -ENOMEM;
	}
	r->curl = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A list must finish; a watch may stay open for its server-side
	 * timeout (timeoutSeconds below), but must not stall. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->watch ? 0L : 60000L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->watch ? 600L : 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, r->watch ? on_watch_body : on_list_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (w->ca_path)
		curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_path);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	r->curl = NULL;
	if (r->gone)
		return 410;
	if (cc != CURLE_OK && !(r->watch && cc == CURLE_WRITE_ERROR)) {
		snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return -EIO;
	}
	if (status != 200)
		describe_refusal(r, status);
	return status;
}

static char *pods_url(const struct disc_kube_watch *w, bool watch)
{
	char *node = curl_easy_escape(NULL, w->node_name, 0), *url = NULL;
	int n;

	if (!node)
		return NULL;
	if (watch)
		n = asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1"
				   "&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=%s",
			     w->api_url, node, w->rv);
	else
		n = asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", w->api_url,
			     node);
	curl_free(node);
	return n < 0 ? NULL : url;
}

/* ---- the thread ---- */

static int list(struct disc_kube_watch *w)
{
	struct request r = { .w = w, .body = { .max = BODY_MAX } };
	char *url = pods_url(w, false), rv[RV_MAX] = "";
	long status;
	int rc;

	if (!url)
		return -ENOMEM;
	status = get(w, url, &r);
	free(url);
	count(w, &w->st.lists);
	if (status != 200) {
		rc = (int)status; /* an HTTP status, or a negative errno */
	} else {
		rc = disc_kube_pods_load_list(w->o.store, r.body.data ? r.body.data : "",
					      r.body.len, rv, sizeof(rv));
		if (rc)
			snprintf(r.error, sizeof(r.error), "the list's answer is not a PodList");
	}
	free(r.body.data);
	if (rc) {
		count_error(w, r.error);
		return rc;
	}
	snprintf(w->rv, sizeof(w->rv), "%s", rv);
	count(w, &w->st.synced);
	return 0;
}

/* Watches until the stream ends; 1 if a relist is due (410 Gone). */
static int watch(struct disc_kube_watch *w)
{
	struct request r = { .w = w, .body = { .max = LINE_MAX_BYTES }, .watch = true };
	char *url = pods_url(w, true);
	long status;

	if (!url)
		return -ENOMEM;
	status = get(w, url, &r);
	free(url);
	free(r.body.data);
	count(w, &w->st.watches);
	if (status == 410) {
		count(w, &w->st.relists);
		return 1;
	}
	if (status != 200) {
		count_error(w, r.error);
		return -EIO;
	}
	return 0; /* the server closed it (timeoutSeconds): resume */
}

/* Sleeps ms, or until stopped; false once stopped. */
static bool pause_ms(struct disc_kube_watch *w, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->stop) &&
	       pthread_cond_timedwait(&w->wake, &w->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&w->lock);
	return !atomic_load(&w->stop);
}

static void *run(void *arg)
{
	struct disc_kube_watch *w = arg;
	int64_t backoff = BACKOFF_MIN_MS;
	bool listed = false;

	bool fresh = false; /* no watch event since the last list */

	while (!atomic_load(&w->stop)) {
		uint64_t events = w->st.events;
		int rc = listed ? watch(w) : list(w);

		if (!listed && rc == 0) {
			listed = true;
			fresh = true;
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (listed && w->st.events != events)
			fresh = false;
		/* 410: the version is gone: list again, at once the first time;
		 * a 410 straight after a list is a server to wait for. */
		if (rc == 1 && !fresh) {
			listed = false;
			continue;
		}
		if (rc == 1)
			listed = false;
		if (rc == 0) { /* a watch ended in order: resume at once */
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (!pause_ms(w, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

/* What _new made, the thread aside. */
static void release(struct disc_kube_watch *w)
{
	free(w->api_url);
	free(w->node_name);
	free(w->token_path);
	free(w->ca_path);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

struct disc_kube_watch *disc_kube_watch_new(const struct disc_kube_watch_opts *o)
{
	struct disc_kube_watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return NULL;
	w->o = *o;
	w->api_url = strdup(o->api_url);
	w->node_name = strdup(o->node_name);
	w->token_path = o->token_path ? strdup(o->token_path) : NULL;
	w->ca_path = o->ca_path ? strdup(o->ca_path) : NULL;
	w->o.api_url = w->api_url;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (!w->api_url || !w->node_name || pthread_create(&w->thread, NULL, run, w)) {
		release(w);
		return NULL;
	}
	return w;
}

void disc_kube_watch_free(struct disc_kube_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	release(w);
}

void disc_kube_watch_get_stats(struct disc_kube_watch *w, struct disc_kube_watch_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}
