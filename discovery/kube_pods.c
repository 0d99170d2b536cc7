/* The pods of this node and their labels (see kube_pods.h). The API
 * server's answers are untrusted bytes: json-c parses them with their
 * length, every field is type-checked, and a pod missing what identifies
 * it is skipped. A node runs at most a few hundred containers, so lookups
 * scan an array. */
#include "kube_pods.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define JSON_MAX (64u << 20)
#define KV_MAX 128 /* labels or annotations kept a pod */
#define CONTAINERS_MAX 64

struct kv {
	char *k, *v;
};

struct kube_container {
	char *name;
	char id[DISC_CONTAINER_ID_LEN + 1];
};

struct kube_pod {
	char *uid, *ns, *name, *node;
	char *owner_kind, *owner_name;
	struct kv labels[KV_MAX];
	size_t n_labels;
	struct kv annotations[KV_MAX];
	size_t n_annotations;
	struct kube_container c[CONTAINERS_MAX];
	size_t n_c;
};

struct disc_kube_pods {
	pthread_mutex_t lock;
	struct kube_pod *v;
	size_t n, cap;
};

static void pod_release(struct kube_pod *p)
{
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->node);
	free(p->owner_kind);
	free(p->owner_name);
	for (size_t i = 0; i < p->n_labels; i++) {
		free(p->labels[i].k);
		free(p->labels[i].v);
	}
	for (size_t i = 0; i < p->n_annotations; i++) {
		free(p->annotations[i].k);
		free(p->annotations[i].v);
	}
	for (size_t i = 0; i < p->n_c; i++)
		free(p->c[i].name);
	memset(p, 0, sizeof(*p));
}

struct disc_kube_pods *disc_kube_pods_new(void)
{
	struct disc_kube_pods *s = calloc(1, sizeof(*s));

	if (s)
		pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void clear(struct disc_kube_pods *s)
{
	for (size_t i = 0; i < s->n; i++)
		pod_release(&s->v[i]);
	s->n = 0;
}

void disc_kube_pods_free(struct disc_kube_pods *s)
{
	if (!s)
		return;
	clear(s);
	free(s->v);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t disc_kube_pods_count(struct disc_kube_pods *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int disc_kube_container_id(const char *status_id, char *out, size_t len)
{
	const char *sep = status_id ? strstr(status_id, "://") : NULL;

	if (!sep || !sep[3] || strlen(sep + 3) >= len)
		return -EINVAL;
	snprintf(out, len, "%s", sep + 3);
	return 0;
}

/* ---- reading a pod ---- */

static const char *str_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *obj_at(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int read_map(struct json_object *m, struct kv *out, size_t *n)
{
	*n = 0;
	if (!m)
		return 0;
	json_object_object_foreach(m, k, v) {
		if (*n == KV_MAX)
			break;
		if (!json_object_is_type(v, json_type_string))
			continue;
		out[*n].k = strdup(k);
		out[*n].v = strdup(json_object_get_string(v));
		if (!out[*n].k || !out[*n].v) {
			free(out[*n].k);
			free(out[*n].v);
			return -ENOMEM;
		}
		(*n)++;
	}
	return 0;
}

static int read_containers(struct json_object *status, const char *key, struct kube_pod *p)
{
	struct json_object *a = obj_at(status, key, json_type_array);
	size_t n = a ? json_object_array_length(a) : 0;

	for (size_t i = 0; i < n && p->n_c < CONTAINERS_MAX; i++) {
		struct json_object *c = json_object_array_get_idx(a, i);
		const char *name = str_at(c, "name"), *id = str_at(c, "containerID");
		struct kube_container *kc = &p->c[p->n_c];

		if (!name || !id || disc_kube_container_id(id, kc->id, sizeof(kc->id)))
			continue; /* not started yet: no id */
		kc->name = strdup(name);
		if (!kc->name)
			return -ENOMEM;
		p->n_c++;
	}
	return 0;
}

static void read_owner(struct json_object *meta, struct kube_pod *p)
{
	struct json_object *refs = obj_at(meta, "ownerReferences", json_type_array);
	size_t n = refs ? json_object_array_length(refs) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(refs, i);
		struct json_object *ctl = obj_at(r, "controller", json_type_boolean);

		if (ctl && json_object_get_boolean(ctl) && str_at(r, "kind") && str_at(r, "name")) {
			p->owner_kind = strdup(str_at(r, "kind"));
			p->owner_name = strdup(str_at(r, "name"));
			return;
		}
	}
}

/* A pod of the list or of an event into *p; -EBADMSG if it lacks its
 * uid, namespace or name. */
static int read_pod(struct json_object *o, struct kube_pod *p)
{
	struct json_object *meta = obj_at(o, "metadata", json_type_object);
	struct json_object *spec = obj_at(o, "spec", json_type_object);
	struct json_object *status = obj_at(o, "status", json_type_object);
	int rc;

	memset(p, 0, sizeof(*p));
	if (!str_at(meta, "uid") || !str_at(meta, "namespace") || !str_at(meta, "name"))
		return -EBADMSG;
	p->uid = strdup(str_at(meta, "uid"));
	p->ns = strdup(str_at(meta, "namespace"));
	p->name = strdup(str_at(meta, "name"));
	p->node = dup_or_null(str_at(spec, "nodeName"));
	read_owner(meta, p);
	if ((rc = read_map(obj_at(meta, "labels", json_type_object), p->labels, &p->n_labels)) ||
	    (rc = read_map(obj_at(meta, "annotations", json_type_object), p->annotations,
			   &p->n_annotations)) ||
	    (rc = read_containers(status, "containerStatuses", p)) ||
	    (rc = read_containers(status, "initContainerStatuses", p)) ||
	    (rc = read_containers(status, "ephemeralContainerStatuses", p)))
		goto fail;
	if (!p->uid || !p->ns || !p->name) {
		rc = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	pod_release(p);
	return rc;
}

static struct json_object *parse(const char *json, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > JSON_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void copy_rv(struct json_object *meta, char *rv, size_t len)
{
	const char *v = str_at(meta, "resourceVersion");

	if (rv && len)
		snprintf(rv, len, "%s", v ? v : "");
}

/* ---- the store ---- */

static struct kube_pod *find_uid(struct disc_kube_pods *s, const char *uid)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].uid, uid) == 0)
			return &s->v[i];
	return NULL;
}

static int put(struct disc_kube_pods *s, struct kube_pod *p)
{
	struct kube_pod *old = find_uid(s, p->uid);

	if (old) {
		pod_release(old);
		*old = *p;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct kube_pod *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *p;
	return 0;
}

static void drop_uid(struct disc_kube_pods *s, const char *uid)
{
	struct kube_pod *p = find_uid(s, uid);

	if (!p)
		return;
	pod_release(p);
	*p = s->v[--s->n];
}

int disc_kube_pods_load_list(struct disc_kube_pods *s, const char *json, size_t len,
			     char *rv, size_t rv_len)
{
	struct json_object *o = parse(json, len);
	struct json_object *items = obj_at(o, "items", json_type_array);
	size_t n = items ? json_object_array_length(items) : 0;
	int rc = 0;

	if (!o || !items || !str_at(o, "kind") || strcmp(str_at(o, "kind"), "PodList") != 0) {
		json_object_put(o);
		return -EBADMSG;
	}
	pthread_mutex_lock(&s->lock);
	clear(s);
	for (size_t i = 0; i < n && rc != -ENOMEM; i++) {
		struct kube_pod p;

		rc = read_pod(json_object_array_get_idx(items, i), &p);
		if (rc == 0 && (rc = put(s, &p)))
			pod_release(&p);
	}
	pthread_mutex_unlock(&s->lock);
	copy_rv(obj_at(o, "metadata", json_type_object), rv, rv_len);
	json_object_put(o);
	return rc == -ENOMEM ? rc : 0;
}

static enum disc_kube_event event_kind(const char *type)
{
	static const struct { const char *s; enum disc_kube_event k; } kinds[] = {
		{ "ADDED", DISC_KUBE_ADDED }, { "MODIFIED", DISC_KUBE_MODIFIED },
		{ "DELETED", DISC_KUBE_DELETED }, { "BOOKMARK", DISC_KUBE_BOOKMARK },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].s) == 0)
			return kinds[i].k;
	return DISC_KUBE_ERROR;
}

int disc_kube_pods_apply_event(struct disc_kube_pods *s, const char *json, size_t len,
			       enum disc_kube_event *kind, char *rv, size_t rv_len)
{
	struct json_object *o = parse(json, len);
	struct json_object *obj = obj_at(o, "object", json_type_object);
	const char *type = str_at(o, "type");
	struct kube_pod p;
	int rc = 0;

	if (!o || !obj || !type) {
		json_object_put(o);
		return -EBADMSG;
	}
	*kind = event_kind(type);
	if (*kind == DISC_KUBE_ERROR) {
		/* A Status: 410 Gone says the version is too old to resume. */
		struct json_object *code = obj_at(obj, "code", json_type_int);
		if (code && json_object_get_int(code) == 410)
			*kind = DISC_KUBE_GONE;
		json_object_put(o);
		return 0;
	}
	copy_rv(obj_at(obj, "metadata", json_type_object), rv, rv_len);
	if (*kind == DISC_KUBE_BOOKMARK) {
		json_object_put(o);
		return 0;
	}
	rc = read_pod(obj, &p);
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		if (*kind == DISC_KUBE_DELETED) {
			drop_uid(s, p.uid);
			pod_release(&p);
		} else if ((rc = put(s, &p))) {
			pod_release(&p);
		}
		pthread_mutex_unlock(&s->lock);
	}
	json_object_put(o);
	return rc;
}

int disc_kube_status_message(const char *json, size_t len, char *out, size_t out_len)
{
	struct json_object *o = parse(json, len), *st = o;
	const char *kind, *msg;

	if (st && str_at(st, "type"))
		st = obj_at(st, "object", json_type_object); /* a watch's ERROR event */
	kind = str_at(st, "kind");
	msg = str_at(st, "message");
	if (!kind || strcmp(kind, "Status") || !msg || !out_len) {
		json_object_put(o);
		return -EBADMSG;
	}
	snprintf(out, out_len, "%s", msg);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	json_object_put(o);
	return 0;
}

/* ---- labels ---- */

static const char *kv_get(const struct kv *v, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].k, k) == 0)
			return v[i].v;
	return NULL;
}

/* prefix + name, every byte outside [A-Za-z0-9_] made '_', as Prometheus
 * does for Kubernetes label names. */
static void meta_name(const char *prefix, const char *name, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "%s", prefix);

	for (const char *c = name; *c && n + 1 < len; c++) {
		unsigned char ch = (unsigned char)*c;
		bool ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9');

		out[n++] = ok ? (char)ch : '_';
	}
	out[n < len ? n : len - 1] = '\0';
}

/* A ReplicaSet's Deployment is its name less the pod-template-hash
 * label's "-<hash>" suffix: no extra API call, no extra permission. */
static void controller(const struct kube_pod *p, char *kind, size_t kl, char *name, size_t nl)
{
	const char *hash = kv_get(p->labels, p->n_labels, "pod-template-hash");
	size_t on = p->owner_name ? strlen(p->owner_name) : 0, hn = hash ? strlen(hash) : 0;

	snprintf(kind, kl, "%s", p->owner_kind ? p->owner_kind : "");
	snprintf(name, nl, "%s", p->owner_name ? p->owner_name : "");
	if (p->owner_kind && strcmp(p->owner_kind, "ReplicaSet") == 0 && hash && on > hn + 1 &&
	    p->owner_name[on - hn - 1] == '-' && strcmp(p->owner_name + on - hn, hash) == 0) {
		snprintf(kind, kl, "Deployment");
		name[on - hn - 1] = '\0';
	}
}

static int pod_labels(const struct kube_pod *p, const struct kube_container *c,
		      struct disc_labels *l)
{
	const char *svc = kv_get(p->annotations, p->n_annotations, "pyroscope.io/service_name");
	char buf[1100], kind[256], owner[512];
	int rc;

	if (!svc || !*svc)
		svc = kv_get(p->labels, p->n_labels, "app.kubernetes.io/name");
	if (!svc || !*svc) {
		snprintf(buf, sizeof(buf), "%s/%s", p->ns, c->name);
		svc = buf;
	}
	controller(p, kind, sizeof(kind), owner, sizeof(owner));
	if ((rc = disc_labels_set(l, "service_name", svc)) ||
	    (rc = disc_labels_set(l, "namespace", p->ns)) ||
	    (rc = disc_labels_set(l, "pod", p->name)) ||
	    (rc = disc_labels_set(l, "container", c->name)) ||
	    (rc = disc_labels_set(l, "node", p->node)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_namespace", p->ns)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_name", p->name)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_uid", p->uid)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_container_name", c->name)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_node_name", p->node)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_controller_kind", kind)) ||
	    (rc = disc_labels_set(l, "__meta_kubernetes_pod_controller_name", owner)))
		return rc;
	for (size_t i = 0; i < p->n_labels; i++) {
		meta_name("__meta_kubernetes_pod_label_", p->labels[i].k, buf, sizeof(buf));
		if ((rc = disc_labels_set(l, buf, p->labels[i].v)))
			return rc;
	}
	for (size_t i = 0; i < p->n_annotations; i++) {
		meta_name("__meta_kubernetes_pod_annotation_", p->annotations[i].k, buf, sizeof(buf));
		if ((rc = disc_labels_set(l, buf, p->annotations[i].v)))
			return rc;
	}
	return 0;
}

bool disc_kube_pods_has(struct disc_kube_pods *s, const char *container_id)
{
	bool found = false;

	if (!container_id || !*container_id)
		return false;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && !found; i++)
		for (size_t j = 0; j < s->v[i].n_c && !found; j++)
			found = strcmp(s->v[i].c[j].id, container_id) == 0;
	pthread_mutex_unlock(&s->lock);
	return found;
}

int disc_kube_pods_lookup(struct disc_kube_pods *s, const char *container_id,
			  struct disc_labels *meta, bool *opted_out)
{
	int rc = -ENOENT;

	*meta = (struct disc_labels){ 0 };
	*opted_out = false;
	if (!container_id || !*container_id)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && rc == -ENOENT; i++) {
		const struct kube_pod *p = &s->v[i];

		for (size_t j = 0; j < p->n_c; j++) {
			if (strcmp(p->c[j].id, container_id) != 0)
				continue;
			const char *opt = kv_get(p->annotations, p->n_annotations, "smolder.io/profile");
			*opted_out = opt && strcmp(opt, "false") == 0;
			rc = pod_labels(p, &p->c[j], meta);
			opt = kv_get(p->annotations, p->n_annotations, "smolder.io/profile-memory");
			/* As a target rule would say it, before the rules
			 * run: they may take it back. */
			if (!rc && opt && strcmp(opt, "true") == 0)
				rc = disc_labels_set(meta, DISC_LABEL_PROFILE_MEMORY, "true");
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc && rc != -ENOENT)
		disc_labels_release(meta);
	return rc;
}
