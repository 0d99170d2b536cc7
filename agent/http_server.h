/* The agent's HTTP endpoints (--http-listen), served by libmicrohttpd on a
 * thread of its own:
 *   GET /healthz  200 "ok" while the run loop makes progress, else 503
 *                 with the reason (health.h: no interval closed, or the
 *                 loop stuck, for too long);
 *   GET /ready    200 once sampling has started and the first interval
 *                 was closed (its profiles written or queued), else 503
 *                 with the reason;
 *   GET /metrics  the counter table in Prometheus text (metrics.h), as of
 *                 the last interval's end, and the time since that end.
 * The run loop only ever takes the server's mutex for a copy of its
 * counters' totals; a scrape never holds up sampling or draining. Slow
 * or idle clients are cut off, and each address may hold only a few
 * connections, so that they cannot starve the probes.
 */
#ifndef SMOLDER_HTTP_SERVER_H
#define SMOLDER_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"

struct http_server;

struct http_server_opts {
	size_t sz;
	const char *listen;   /* --http-listen, already checked by config_parse */
	bool listen_given;    /* by the user, not the default */
	const char *version;
	uint64_t interval_ms; /* --upload-interval */
	uint64_t wake_ms;     /* the longest the run loop waits between passes */
};

/* Listens on opts->listen and starts serving. Returns 0 with *out NULL for
 * "" and "off", 0 with the server in *out, or a negative errno, logged
 * naming the address (a port already in use, say). The default address
 * that cannot be listened on is only a warning (0, *out NULL): a second
 * agent, or another program on the port, must not stop profiling. Call
 * after signals are blocked, so that the server's thread never takes
 * them. */
int http_server_start(const struct http_server_opts *opts, struct http_server **out);

/* The run loop made a pass (see health.h). s may be NULL. */
void http_server_loop_turned(struct http_server *s);

/* Adds the connections refused (past the limits) and cut (closed before
 * a request came whole) since the last call to c's interval: call from
 * the run loop before the interval's counters are logged. s may be
 * NULL. */
void http_server_count(struct http_server *s, struct counters *c);

/* Sampling has started (BPF attached). s may be NULL. */
void http_server_sampling_started(struct http_server *s);

/* Publishes a copy of c's totals: call right after counters_end_interval,
 * as the interval closes. s may be NULL. */
void http_server_publish(struct http_server *s, const struct counters *c);

/* Stops serving and frees s (NULL is fine). */
void http_server_free(struct http_server *s);

#endif
