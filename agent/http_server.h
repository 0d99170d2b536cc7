/* The agent's HTTP endpoints (--http-listen), served by libmicrohttpd on a
 * thread of its own:
 *   GET /healthz  200 "ok" while the agent runs;
 *   GET /ready    200 once sampling has started and the first interval
 *                 was closed (its profiles written or queued), else 503
 *                 with the reason;
 *   GET /metrics  the counter table in Prometheus text (metrics.h), as of
 *                 the last interval's end.
 * The run loop only ever takes the server's mutex for a copy of its
 * counters' totals; a scrape never holds up sampling or draining.
 */
#ifndef SMOLDER_HTTP_SERVER_H
#define SMOLDER_HTTP_SERVER_H

#include "counters.h"

struct http_server;

/* Listens on listen (--http-listen, already checked by config_parse) and
 * starts serving. Returns 0 with *out NULL for "" and "off", 0 with the
 * server in *out, or a negative errno, logged naming the address (a port
 * already in use, say). Call after signals are blocked, so that the
 * server's thread never takes them. */
int http_server_start(const char *listen, const char *version, struct http_server **out);

/* Sampling has started (BPF attached). s may be NULL. */
void http_server_sampling_started(struct http_server *s);

/* Publishes a copy of c's totals: call right after counters_end_interval.
 * s may be NULL. */
void http_server_publish(struct http_server *s, const struct counters *c);

/* Stops serving and frees s (NULL is fine). */
void http_server_free(struct http_server *s);

#endif
