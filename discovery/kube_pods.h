/* discovery: the pods of this node, from the Kubernetes API server, and
 * what a process in one of their containers is labelled with.
 *
 * kube_pods.c reads the API server's JSON (a PodList, and the events of a
 * watch, one JSON object a line) into a store keyed by container id, and
 * turns a pod's metadata into labels:
 *   namespace, pod, container, node (kept unless a rule removes them);
 *   __meta_kubernetes_namespace, __meta_kubernetes_pod_name,
 *   __meta_kubernetes_pod_container_name, __meta_kubernetes_pod_node_name,
 *   __meta_kubernetes_pod_controller_kind / _name (a ReplicaSet's
 *   Deployment: its name less the pod-template-hash label's suffix),
 *   __meta_kubernetes_pod_label_<name>, __meta_kubernetes_pod_annotation_<name>
 *   (names sanitized as Prometheus does), for the target rules;
 *   service_name: the pyroscope.io/service_name annotation, else the
 *   app.kubernetes.io/name label, else <namespace>/<container>.
 * A pod annotated smolder.io/profile: "false" is not profiled.
 * kube_watch.c keeps the store current; the store is thread-safe.
 */
#ifndef SMOLDER_DISC_KUBE_PODS_H
#define SMOLDER_DISC_KUBE_PODS_H

#include <stdbool.h>
#include <stddef.h>

#include "disc.h"

struct disc_kube_pods;

struct disc_kube_pods *disc_kube_pods_new(void);
void disc_kube_pods_free(struct disc_kube_pods *s);

/* Replaces the store's pods with those of a PodList (the list's answer).
 * Its metadata.resourceVersion, where a watch resumes, into rv (len
 * bytes). -EBADMSG if it is not a PodList. */
int disc_kube_pods_load_list(struct disc_kube_pods *s, const char *json, size_t len,
			     char *rv, size_t rv_len);

enum disc_kube_event {
	DISC_KUBE_ADDED,
	DISC_KUBE_MODIFIED,
	DISC_KUBE_DELETED,
	DISC_KUBE_BOOKMARK,
	DISC_KUBE_GONE,   /* ERROR with code 410: the version is too old, relist */
	DISC_KUBE_ERROR,  /* another ERROR */
};

/* Applies one watch event (one JSON object); its resourceVersion into rv.
 * -EBADMSG if it is not one. */
int disc_kube_pods_apply_event(struct disc_kube_pods *s, const char *json, size_t len,
			       enum disc_kube_event *kind, char *rv, size_t rv_len);

/* What the process in container_id is labelled with (into *meta, which is
 * overwritten: release it), and whether its pod opted out. -ENOENT: no pod
 * of this node has that container (yet). */
int disc_kube_pods_lookup(struct disc_kube_pods *s, const char *container_id,
			  struct disc_labels *meta, bool *opted_out);

size_t disc_kube_pods_count(struct disc_kube_pods *s);

/* Whether a pod of this node has container_id (a lookup without labels). */
bool disc_kube_pods_has(struct disc_kube_pods *s, const char *container_id);

/* What an API server's refusal says: the message of a Status body
 * ({"kind":"Status","code":403,"message":"pods is forbidden: ..."}), or of
 * a watch's ERROR event, into out (len bytes, control characters made
 * spaces: it goes to the log). -EBADMSG if json is neither. */
int disc_kube_status_message(const char *json, size_t len, char *out, size_t out_len);

/* "containerd://<id>", "docker://<id>", "cri-o://<id>": the id alone, in
 * out (len bytes). -EINVAL when it has no "://". */
int disc_kube_container_id(const char *status_id, char *out, size_t len);

#endif
