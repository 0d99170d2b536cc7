/* The uploader: delivers profiles to a Pyroscope-compatible server on a
 * thread of its own, so that neither the drain nor the sampling ever waits
 * for the network.
 *
 * Profiles are delivered in the order they were queued. One that cannot be
 * delivered for now (no connection, a timeout, 408, 429, 5xx) is retried,
 * with the same ID, after an exponential backoff with jitter from 0.5 s to
 * 5 min (longer if the server's Retry-After says so); meanwhile it and
 * every profile after it wait in the spool on disk, so an outage or a
 * restart loses nothing within the spool's bounds. A profile the server
 * refuses (another 4xx) is dropped, and the server's message logged.
 */
#ifndef SMOLDER_UPLOADER_H
#define SMOLDER_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"
#include "upload_profile.h"

struct uploader;

struct uploader_opts {
	size_t sz;
	const char *url;              /* the server's base URL */
	bool legacy;                  /* POST /ingest instead of the push API */
	const char *basic_auth_user;  /* with basic_auth_password */
	const char *basic_auth_password;
	const char *bearer_token;
	const char *tenant_id;        /* sent as X-Scope-OrgID */
	const char *const *headers;   /* NAME=VALUE, n_headers of them */
	size_t n_headers;
	const char *tls_ca_file;
	bool tls_insecure_skip_verify;
	uint64_t timeout_ms;          /* one request, connection included */
	const char *user_agent;
	const char *spool_dir;        /* NULL: profiles wait in memory only */
	uint64_t spool_max_bytes;
	uint64_t spool_max_age_ms;
};

struct uploader_stats {
	uint64_t queued;         /* profiles handed to the uploader */
	uint64_t delivered;
	uint64_t refused;        /* a 4xx other than 408 and 429: dropped */
	uint64_t retried;        /* attempts that failed and will be tried again */
	uint64_t dropped_memory; /* no spool to go to, and memory full */
	uint64_t in_memory;      /* gauge: profiles waiting in memory */
	bool spooling;           /* a spool is in use */
	struct spool_stats spool;
};

/* Starts the thread (call after signals are blocked). NULL with errno set
 * on failure; *what says what failed. The strings are copied. */
struct uploader *uploader_new(const struct uploader_opts *opts, const char **what);

/* Queues p (the uploader takes it). Never waits for the network: when the
 * server is failing or behind, p goes to the spool from here. */
void uploader_submit(struct uploader *u, struct upload_profile *p);

void uploader_get_stats(struct uploader *u, struct uploader_stats *st);

/* Stops: profiles still in memory are delivered for at most flush_ms, then
 * what is left (and a request still running) goes to the spool. The last
 * stats go to *last, if not NULL. */
void uploader_free(struct uploader *u, uint64_t flush_ms, struct uploader_stats *last);

/* url without user and password, for the log, into out. */
void uploader_redact_url(const char *url, char *out, size_t len);

#endif
