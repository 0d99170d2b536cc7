/* discovery: keeps the pod store (kube_pods.h) current from the API
 * server, on a thread of its own: list this node's pods
 * (fieldSelector=spec.nodeName=NODE), then watch from the list's
 * resourceVersion; a broken watch resumes from the last version seen
 * after a backoff (1 s doubling to 30 s), and a 410 Gone relists. The
 * service account's token is read anew for each request (kubelet rotates
 * it). Nothing here logs: the agent reads the stats, and the last
 * error's text with them. */
#ifndef SMOLDER_DISC_KUBE_WATCH_H
#define SMOLDER_DISC_KUBE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kube_pods.h"

struct disc_kube_watch;

struct disc_kube_watch_opts {
	size_t sz;
	const char *api_url;     /* https://HOST:PORT (in cluster), or a test server's */
	const char *token_path;  /* NULL: no Authorization */
	const char *ca_path;     /* NULL: the system's CAs */
	const char *node_name;
	struct disc_kube_pods *store; /* not owned */
};

struct disc_kube_watch_stats {
	uint64_t lists, watches, events, errors, relists;
	uint64_t synced;    /* lists that succeeded */
	/* What went wrong last: libcurl's words (a TLS or connection
	 * failure), or "HTTP 403: " and the server's Status message. */
	char last_error_text[320];
};

struct disc_kube_watch *disc_kube_watch_new(const struct disc_kube_watch_opts *opts);
void disc_kube_watch_free(struct disc_kube_watch *w);
void disc_kube_watch_get_stats(struct disc_kube_watch *w, struct disc_kube_watch_stats *st);

#endif
