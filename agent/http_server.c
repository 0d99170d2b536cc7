/* The HTTP endpoints (see http_server.h). libmicrohttpd runs them on its
 * own polling thread; what they read of the agent is a copy under a
 * mutex, written by the run loop once an interval. */
#include "http_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "health.h"
#include "log.h"
#include "metrics.h"

/* Scrapes and probes are few and quick: a kubelet's two probes and a
 * Prometheus come from an address each. Past PER_CLIENT connections from
 * one address, more are refused at once, so that a client dripping
 * header bytes holds a few of the MAX_CONNECTIONS, not all; one that sends
 * nothing for CONNECTION_TIMEOUT_S is cut off (under the probes' own 5 s
 * timeout). The one polling thread (epoll) serves every connection as its
 * bytes come, so a slow one delays no other. */
#define MAX_CONNECTIONS 64
#define PER_CLIENT 4
#define CONNECTION_TIMEOUT_S 5

struct http_server {
	struct MHD_Daemon *daemon;
	char *version;
	struct health health;
	/* Counted on the server's thread; what http_server_count handed
	 * the counter table so far is only the run loop's. */
	_Atomic uint64_t refused, cut;
	uint64_t refused_seen, cut_seen;
	pthread_mutex_t lock;
	/* under lock */
	bool sampling;
	uint64_t intervals;
	uint64_t totals[CTR__COUNT];
};

/* A connection past PER_CLIENT or MAX_CONNECTIONS is closed as it is
 * accepted, and libmicrohttpd tells it only in this message. */
#define REFUSED_MESSAGE "reached connection limit"

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	struct http_server *s = arg;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (strstr(line, REFUSED_MESSAGE)) {
		atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
		return; /* one a refusal: the count says it */
	}
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("http: %s", line);
}

/* Each connection's socket context is whether a request of it reached
 * handle(); one closed before any did was cut (idle past the timeout, a
 * request that never ended) or given up by its client. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;

	(void)conn;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*ctx = calloc(1, sizeof(bool));
		return;
	}
	if (*ctx && !*(bool *)*ctx)
		atomic_fetch_add_explicit(&s->cut, 1, memory_order_relaxed);
	free(*ctx);
	*ctx = NULL;
}

static void mark_answered(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (ci && ci->socket_context)
		*(bool *)ci->socket_context = true;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

static int64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *conn)
{
	uint64_t totals[CTR__COUNT];
	struct metrics_process proc;
	size_t len;
	char *text;

	pthread_mutex_lock(&s->lock);
	memcpy(totals, s->totals, sizeof(totals));
	pthread_mutex_unlock(&s->lock);
	metrics_process_read(&proc);
	text = metrics_format(totals, &proc, health_since_closed_s(&s->health, now_mono_ns()),
			      s->version, &len);
	if (!text)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_health(struct http_server *s, struct MHD_Connection *conn)
{
	char why[160];
	char *body;

	if (!health_check(&s->health, now_mono_ns(), why, sizeof(why)))
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (asprintf(&body, "not healthy: %s\n", why) < 0)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not healthy\n");
	return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body,
		     strlen(body), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_ready(struct http_server *s, struct MHD_Connection *conn)
{
	bool sampling;
	uint64_t intervals;

	pthread_mutex_lock(&s->lock);
	sampling = s->sampling;
	intervals = s->intervals;
	pthread_mutex_unlock(&s->lock);
	if (!sampling)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "not ready: sampling has not started (BPF not attached yet)\n");
	if (!intervals)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "not ready: the first interval has not ended yet\n");
	return reply_text(conn, MHD_HTTP_OK, "ready\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req)
{
	static int started;
	struct http_server *s = cls;

	(void)version;
	(void)upload_data;
	/* The first call only announces the request; a body is ignored. */
	if (!*req) {
		*req = &started;
		mark_answered(conn);
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (strcmp(url, "/healthz") == 0)
		return serve_health(s, conn);
	if (strcmp(url, "/ready") == 0)
		return serve_ready(s, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(s, conn);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /healthz, /ready or /metrics\n");
}

/* Our own socket, so that a failure to bind is told with its errno. */
static int listen_on(const struct sockaddr_storage *addr, socklen_t len)
{
	int one = 1, fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The default address taken (a second agent, another program) costs the
 * endpoints, not the profiles; an address the user gave must be had. */
static int cannot_listen(const struct http_server_opts *o, int err)
{
	if (o->listen_given) {
		log_error("--http-listen %s: cannot listen: %s", o->listen, strerror(-err));
		return err;
	}
	log_warn("--http-listen %s (the default): cannot listen: %s; profiling without "
		 "/healthz, /ready and /metrics (give --http-listen another address, or off)",
		 o->listen, strerror(-err));
	return 0;
}

int http_server_start(const struct http_server_opts *o, struct http_server **out)
{
	struct sockaddr_storage addr;
	struct http_server *s;
	socklen_t len;
	char err[256];
	int r, fd;

	*out = NULL;
	r = metrics_parse_listen(o->listen, &addr, &len, err, sizeof(err));
	if (r == 1)
		return 0;
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	fd = listen_on(&addr, len);
	if (fd < 0)
		return cannot_listen(o, fd);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->version = strdup(o->version ? o->version : ""))) {
		free(s);
		close(fd);
		log_error("--http-listen %s: out of memory", o->listen);
		return -ENOMEM;
	}
	health_init(&s->health, o->interval_ms, o->wake_ms, now_mono_ns());
	pthread_mutex_init(&s->lock, NULL);
	/* The logger first, or libmicrohttpd logs the other options' errors
	 * to stderr. */
	s->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
				     0, NULL, NULL, handle, s,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_CLIENT,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	if (!s->daemon) {
		/* fd is not closed: whether libmicrohttpd did is not told. */
		log_error("--http-listen %s: cannot start the HTTP server", o->listen);
		http_server_free(s);
		return -EIO;
	}
	log_info("serving /healthz, /ready and /metrics on http://%s", o->listen);
	*out = s;
	return 0;
}

void http_server_loop_turned(struct http_server *s)
{
	if (s)
		health_loop_turned(&s->health, now_mono_ns());
}

void http_server_count(struct http_server *s, struct counters *c)
{
	uint64_t refused, cut;

	if (!s)
		return;
	refused = atomic_load_explicit(&s->refused, memory_order_relaxed);
	cut = atomic_load_explicit(&s->cut, memory_order_relaxed);
	counters_add(c, CTR_HTTP_REFUSED, refused - s->refused_seen);
	counters_add(c, CTR_HTTP_CUT, cut - s->cut_seen);
	s->refused_seen = refused;
	s->cut_seen = cut;
}

void http_server_sampling_started(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->sampling = true;
	pthread_mutex_unlock(&s->lock);
}

void http_server_publish(struct http_server *s, const struct counters *c)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	memcpy(s->totals, c->total, sizeof(s->totals));
	s->intervals++;
	pthread_mutex_unlock(&s->lock);
	health_interval_closed(&s->health, now_mono_ns());
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->lock);
	free(s->version);
	free(s);
}
