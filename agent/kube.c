/* Kubernetes in the agent (see kube.h): in-cluster configuration, the
 * node's name, and the watch. */
#include "kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube_pods.h"
#include "kube_watch.h"
#include "log.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube {
	struct disc_kube_pods *pods;
	struct disc_kube_watch *watch;
	struct disc_kube_watch_stats seen;
	char node[256];
};

static bool in_cluster(const struct config *cfg)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	return cfg->kubernetes || cfg->test_kube_api_url || (host && *host);
}

/* The API server: the test's, else the in-cluster service's. */
static bool api_url(const struct config *cfg, char *out, size_t len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (cfg->test_kube_api_url) {
		snprintf(out, len, "%s", cfg->test_kube_api_url);
		return true;
	}
	if (!host || !*host)
		return false;
	/* An IPv6 service address needs brackets. */
	snprintf(out, len, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		 port && *port ? port : "443");
	return true;
}

static void node_name(const struct config *cfg, char *out, size_t len)
{
	const char *env = getenv("NODE_NAME");

	if (cfg->node_name && *cfg->node_name)
		snprintf(out, len, "%s", cfg->node_name);
	else if (env && *env)
		snprintf(out, len, "%s", env);
	else if (gethostname(out, len))
		out[0] = '\0';
}

struct kube *kube_start(const struct config *cfg)
{
	char url[512], node[256];
	struct disc_kube_watch_opts o = { .sz = sizeof(o) };
	struct kube *k;

	if (!in_cluster(cfg))
		return NULL;
	if (!api_url(cfg, url, sizeof(url))) {
		log_error("kubernetes: no API server ($KUBERNETES_SERVICE_HOST is not set): pods are "
			  "not known, processes are labelled without them");
		return NULL;
	}
	node_name(cfg, node, sizeof(node));
	k = calloc(1, sizeof(*k));
	if (!k || !(k->pods = disc_kube_pods_new())) {
		free(k);
		log_error("kubernetes: out of memory");
		return NULL;
	}
	o.api_url = url;
	o.node_name = node;
	o.store = k->pods;
	if (!cfg->test_kube_api_url) {
		o.token_path = SA_DIR "/token";
		o.ca_path = SA_DIR "/ca.crt";
	}
	k->watch = disc_kube_watch_new(&o);
	if (!k->watch) {
		log_error("kubernetes: cannot start the pod watch: %s", strerror(errno));
		disc_kube_pods_free(k->pods);
		free(k);
		return NULL;
	}
	snprintf(k->node, sizeof(k->node), "%s", node);
	log_info("kubernetes: watching the pods of node %s at %s", node, url);
	return k;
}

void kube_count(struct kube *k, struct counters *c)
{
	struct disc_kube_watch_stats st;

	if (!k)
		return;
	disc_kube_watch_get_stats(k->watch, &st);
	counters_set(c, CTR_KUBE_PODS, disc_kube_pods_count(k->pods));
	counters_add(c, CTR_KUBE_EVENTS, st.events - k->seen.events);
	counters_add(c, CTR_KUBE_RELISTS, st.relists - k->seen.relists);
	counters_add(c, CTR_KUBE_ERRORS, st.errors - k->seen.errors);
	if (st.errors != k->seen.errors)
		log_warn("kubernetes: %llu request(s) for the pods of node %s failed since the last "
			 "interval (retried with backoff); the last: %s",
			 (unsigned long long)(st.errors - k->seen.errors), k->node,
			 st.last_error_text);
	if (st.synced && !k->seen.synced)
		log_info("kubernetes: %zu pod(s) of node %s listed", disc_kube_pods_count(k->pods),
			 k->node);
	k->seen = st;
}

void kube_stop(struct kube *k)
{
	if (!k)
		return;
	disc_kube_watch_free(k->watch);
	disc_kube_pods_free(k->pods);
	free(k);
}

bool kube_pod_labels(struct kube *k, const char *container_id, struct disc_labels *labels,
		     bool *opted_out)
{
	*opted_out = false;
	*labels = (struct disc_labels){ 0 };
	if (!k || !container_id || !*container_id)
		return false;
	return disc_kube_pods_lookup(k->pods, container_id, labels, opted_out) == 0;
}

bool kube_synced(struct kube *k)
{
	struct disc_kube_watch_stats st;

	if (!k)
		return false;
	disc_kube_watch_get_stats(k->watch, &st);
	return st.synced > 0;
}

bool kube_knows(struct kube *k, const char *container_id)
{
	return k && disc_kube_pods_has(k->pods, container_id);
}
