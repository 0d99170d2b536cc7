/* Kubernetes in the agent: when it runs in a cluster (--kubernetes, or
 * $KUBERNETES_SERVICE_HOST set), the pods of this node are watched from
 * the API server with the pod's service account (discovery/kube_watch.h)
 * and each process in one of their containers gets its pod's labels
 * (discovery/kube_pods.h). */
#ifndef SMOLDER_KUBE_H
#define SMOLDER_KUBE_H

#include <stdbool.h>

#include "config.h"
#include "counters.h"
#include "disc.h"

struct kube;

/* NULL when not in a cluster (nothing to do), or on failure (logged). */
struct kube *kube_start(const struct config *cfg);
void kube_stop(struct kube *k);

/* The pod labels of the process in container_id, into *labels (release
 * them); false when no pod of this node has that container. *opted_out:
 * its pod asked not to be profiled. */
/* The watch's news since the last call, into the interval's counters; a
 * failure since then is logged, with what the server or libcurl said. */
void kube_count(struct kube *k, struct counters *c);

/* Whether the pods of this node have been listed (the store means
 * something), and whether one of them has container_id. */
bool kube_synced(struct kube *k);
bool kube_knows(struct kube *k, const char *container_id);

bool kube_pod_labels(struct kube *k, const char *container_id, struct disc_labels *labels,
		     bool *opted_out);

#endif
