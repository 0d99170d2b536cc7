/* discovery: /proc/PID/cgroup, and the container its path names.
 *
 * process_table.c reads the file when it adds a process and keeps the path
 * and what the path says: the container the process runs in (runtime and
 * 64-hex id) and, under Kubernetes, its pod's UID. Samples are labelled
 * with them, and a later step looks the pod up by its UID.
 *
 * Two steps, each tested on its own:
 *
 * 1. disc_cgroup_parse picks one path out of the file's lines, one a
 *    hierarchy, "hierarchy-ID:controller-list:cgroup-path":
 *      - the v2 line ("0::/..."), unless it is "/": on a v2 host it is the
 *        only line, and on a hybrid host systemd mirrors its v1 tree there;
 *      - else the v1 "name=systemd" line, unless it is "/": systemd, and
 *        every runtime using the systemd cgroup driver, place each process
 *        in that hierarchy;
 *      - else the first v1 line whose path is not "/": on a v1 host without
 *        systemd, runtimes create the same path in each controller they
 *        use, and a controller left at "/" says nothing;
 *      - else "/": the process is in no cgroup of its own.
 *    The text is untrusted in principle (a delegated subtree's owner names
 *    its cgroups; the kernel refuses only '/' and, since 4.x, '\n' in a
 *    name), so the path runs to the end of its line, ':' and spaces
 *    included, and a file with two v2 or two name=systemd lines, which a
 *    name with a forged line in it would give, is refused.
 *
 * 2. disc_container_from_cgroup walks that path's components from the last
 *    to the first and stops at the first that names a container: the
 *    innermost container the process runs in. Components below it are
 *    sub-cgroups of the container (systemd in a container makes
 *    "init.scope" and slices; rootless podman puts the payload in
 *    ".../libpod-<id>.scope/container"), and components above it are the
 *    runtime's or an outer container's (docker in docker, a kind node).
 *    A component names a container when it is, with <id> 64 lowercase hex:
 *
 *      docker-<id>.scope          docker, systemd driver (also in k8s pods)
 *      cri-containerd-<id>.scope  containerd, systemd driver
 *      crio-<id>.scope            cri-o, systemd driver
 *      crio-<id>                  cri-o, cgroupfs driver
 *      libpod-<id>.scope          podman (rootful or rootless)
 *      libpod-<id>                podman, cgroupfs manager
 *      <id> below "docker"        docker, cgroupfs driver: /docker/<id>
 *      <id> below a pod cgroup    Kubernetes, cgroupfs driver:
 *                                 /kubepods[/<qos>]/pod<uid>/<id>
 *
 *    The last form does not name its runtime: containerd and docker (the
 *    dockershim, removed in Kubernetes 1.24, or cri-dockerd) write the same
 *    path. It is taken as containerd, today's runtime for it (k3s, kind,
 *    kubeadm with cgroupfs); with the systemd driver the runtimes differ.
 *    A bare id anywhere else (a custom --cgroup-parent) is not taken: we
 *    could not say whose it is.
 *
 *    conmon: cri-o and podman start one monitor process per container, in
 *    a cgroup of its own, crio-conmon-<id>.scope or libpod-conmon-<id>.scope.
 *    It is the runtime's process, running the host's conmon, not the
 *    container's image, so it is not the container: the walk goes on above
 *    it and usually finds nothing (runtime NONE), so its CPU is not charged
 *    to the container it watches.
 *
 *    The pod UID is read from the container's parent component, the pod's
 *    cgroup: "pod<uid>" (cgroupfs) or "...-pod<uid>.slice" (systemd, where
 *    systemd's '_' stands for '-', a unit name's separator). A UID is a
 *    UUID, or 32 hex digits for a static pod (the hash of its manifest).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* One line of the file, pointing into the text. */
struct cgroup_line {
	uint64_t hierarchy;
	const char *controllers, *controllers_end;
	const char *path, *path_end;
};

/* "hierarchy-ID:controller-list:cgroup-path": a decimal ID (0 only for the
 * v2 line, which lists no controllers), controllers without ':', and an
 * absolute path to the end of the line. */
static int parse_line(const char *p, const char *end, struct cgroup_line *l)
{
	if (disc_text_number(&p, end, 10, INT_MAX, &l->hierarchy) ||
	    disc_text_char(&p, end, ':'))
		return -EINVAL;
	l->controllers = p;
	while (p < end && *p != ':')
		p++;
	l->controllers_end = p;
	if (disc_text_char(&p, end, ':') || p >= end || *p != '/')
		return -EINVAL;
	if (l->hierarchy == 0 && l->controllers != l->controllers_end)
		return -EINVAL;
	l->path = p;
	l->path_end = end;
	return 0;
}

/* Whether the comma-separated list holds the item want. */
static bool has_controller(const struct cgroup_line *l, const char *want)
{
	size_t want_len = strlen(want);
	const char *p = l->controllers;

	while (p < l->controllers_end) {
		const char *comma = memchr(p, ',', (size_t)(l->controllers_end - p));
		const char *item_end = comma ? comma : l->controllers_end;

		if ((size_t)(item_end - p) == want_len && !memcmp(p, want, want_len))
			return true;
		p = item_end + 1;
	}
	return false;
}

static bool is_root(const struct cgroup_line *l)
{
	return l->path_end - l->path == 1;
}

int disc_cgroup_parse(const char *text, size_t len, struct disc_cgroup *out)
{
	struct cgroup_line v2 = { 0 }, systemd = { 0 }, v1 = { 0 }, first = { 0 };
	const struct cgroup_line *chosen;
	const char *p, *end;

	out->path = NULL;
	out->hierarchy = -1;
	if (len == 0)
		return -ENODATA;
	/* A NUL would cut the path short without anyone noticing. */
	if (!text || memchr(text, '\0', len))
		return -EINVAL;
	p = text;
	end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cgroup_line l;

		if (parse_line(p, nl ? nl : end, &l))
			return -EINVAL;
		if (l.hierarchy == 0) {
			if (v2.path)
				return -EINVAL;
			v2 = l;
		} else if (has_controller(&l, "name=systemd")) {
			if (systemd.path)
				return -EINVAL;
			systemd = l;
		} else if (!v1.path && !is_root(&l)) {
			v1 = l;
		}
		if (!first.path)
			first = l;
		p = nl ? nl + 1 : end;
	}
	if (v2.path && !is_root(&v2))
		chosen = &v2;
	else if (systemd.path && !is_root(&systemd))
		chosen = &systemd;
	else if (v1.path)
		chosen = &v1;
	else if (v2.path) /* every line says "/" */
		chosen = &v2;
	else if (systemd.path)
		chosen = &systemd;
	else
		chosen = &first;
	out->path = strndup(chosen->path, (size_t)(chosen->path_end - chosen->path));
	if (!out->path)
		return -ENOMEM;
	out->hierarchy = (int)chosen->hierarchy;
	return 0;
}

void disc_cgroup_release(struct disc_cgroup *cg)
{
	if (!cg)
		return;
	free(cg->path);
	cg->path = NULL;
}

int disc_cgroup_read_at(int dirfd, struct disc_cgroup *out)
{
	char *text;
	size_t len;
	int err;

	out->path = NULL;
	out->hierarchy = -1;
	err = disc_proc_file_read(dirfd, "cgroup", &text, &len);
	if (err)
		return err;
	err = disc_cgroup_parse(text, len, out);
	free(text);
	return err;
}

int disc_cgroup_read(const char *proc_root, int pid, struct disc_cgroup *out)
{
	int dirfd, err;

	out->path = NULL;
	out->hierarchy = -1;
	dirfd = disc_proc_dir_open(proc_root, pid);
	if (dirfd < 0)
		return dirfd;
	err = disc_cgroup_read_at(dirfd, out);
	close(dirfd);
	return err;
}

/* A component of the path: [s, e). */
struct component {
	const char *s, *e;
};

static size_t comp_len(struct component c)
{
	return (size_t)(c.e - c.s);
}

static bool comp_is(struct component c, const char *str)
{
	return comp_len(c) == strlen(str) && !memcmp(c.s, str, comp_len(c));
}

/* Removes prefix from the front of *c, if it is there. */
static bool strip_prefix(struct component *c, const char *prefix)
{
	size_t n = strlen(prefix);

	if (comp_len(*c) < n || memcmp(c->s, prefix, n))
		return false;
	c->s += n;
	return true;
}

static bool strip_suffix(struct component *c, const char *suffix)
{
	size_t n = strlen(suffix);

	if (comp_len(*c) < n || memcmp(c->e - n, suffix, n))
		return false;
	c->e -= n;
	return true;
}

/* Runtimes write ids in lowercase; anything else is not one of theirs. */
static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_container_id(struct component c)
{
	return comp_len(c) == DISC_CONTAINER_ID_LEN && is_hex(c.s, comp_len(c));
}

/* A pod UID, its groups separated by sep ('-' in cgroupfs names, '_' in
 * systemd ones), copied to out with '-'. */
static bool pod_uid(struct component c, char sep, char out[DISC_POD_UID_LEN + 1])
{
	size_t n = comp_len(c);

	if (n == 32) { /* a static pod's: an md5 in hex */
		if (!is_hex(c.s, n))
			return false;
	} else if (n == DISC_POD_UID_LEN) {
		for (size_t i = 0; i < n; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? c.s[i] != sep : !is_hex(&c.s[i], 1))
				return false;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = c.s[i] == sep ? '-' : c.s[i];
	out[n] = '\0';
	return true;
}

/* The UID of the pod whose cgroup is c: "pod<uid>" (cgroupfs driver) or
 * "kubepods[-<qos>]-pod<uid>.slice" (systemd driver; kind nests it as
 * "kubelet-kubepods-..."), so any slice ending in "-pod<uid>.slice". */
static bool pod_cgroup(struct component c, char out[DISC_POD_UID_LEN + 1])
{
	static const size_t uid_lens[] = { DISC_POD_UID_LEN, 32 };
	struct component uid = c;

	if (strip_prefix(&uid, "pod") && pod_uid(uid, '-', out))
		return true;
	if (!strip_suffix(&c, ".slice"))
		return false;
	for (size_t i = 0; i < sizeof(uid_lens) / sizeof(uid_lens[0]); i++) {
		size_t n = uid_lens[i];

		if (comp_len(c) < n + 4)
			continue;
		uid = (struct component){ c.e - n, c.e };
		if (!memcmp(uid.s - 4, "-pod", 4) && pod_uid(uid, '_', out))
			return true;
	}
	return false;
}

/* The components that name their runtime, "<prefix><id>[.scope]". The
 * conmon cgroups (crio-conmon-<id>, libpod-conmon-<id>) share a prefix but
 * are not containers: what follows the prefix is not an id. */
static const struct {
	const char *prefix;
	enum disc_container_runtime runtime;
} prefixed[] = {
	{ "docker-", DISC_CONTAINER_DOCKER },
	{ "cri-containerd-", DISC_CONTAINER_CONTAINERD },
	{ "crio-", DISC_CONTAINER_CRIO },
	{ "libpod-", DISC_CONTAINER_PODMAN },
};

/* Whether c, whose parent component is parent (empty at the top), names a
 * container; if so, fills out. */
static bool container(struct component c, struct component parent,
		      struct disc_container *out)
{
	enum disc_container_runtime runtime = DISC_CONTAINER_NONE;
	char uid[DISC_POD_UID_LEN + 1];
	bool in_pod = pod_cgroup(parent, uid);
	struct component id = c;

	for (size_t i = 0; i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
		id = c;
		if (!strip_prefix(&id, prefixed[i].prefix))
			continue;
		strip_suffix(&id, ".scope");
		if (is_container_id(id))
			runtime = prefixed[i].runtime;
		break;
	}
	if (runtime == DISC_CONTAINER_NONE && is_container_id(c)) {
		id = c;
		if (comp_is(parent, "docker"))
			runtime = DISC_CONTAINER_DOCKER;
		else if (in_pod)
			runtime = DISC_CONTAINER_CONTAINERD; /* or dockershim: see above */
	}
	if (runtime == DISC_CONTAINER_NONE)
		return false;
	out->runtime = runtime;
	memcpy(out->id, id.s, DISC_CONTAINER_ID_LEN);
	out->id[DISC_CONTAINER_ID_LEN] = '\0';
	if (in_pod)
		memcpy(out->pod_uid, uid, sizeof(out->pod_uid));
	return true;
}

/* The component that ends at e (a '/' or the path's end), which begins
 * after the '/' before it. */
static struct component component_ending(const char *path, const char *e)
{
	const char *s = e;

	while (s > path && s[-1] != '/')
		s--;
	return (struct component){ s, e };
}

int disc_container_from_cgroup(const char *path, struct disc_container *out)
{
	struct component c, parent;

	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return -EINVAL;
	/* Innermost first; the leading '/' ends the walk, so c.s > path and
	 * c.s[-1] is always a '/'. */
	for (c = component_ending(path, path + strlen(path)); c.s > path;
	     c = parent) {
		parent = component_ending(path, c.s - 1);
		if (container(c, parent, out))
			return 0;
	}
	return 0;
}

const char *disc_container_runtime_name(enum disc_container_runtime r)
{
	switch (r) {
	case DISC_CONTAINER_DOCKER:
		return "docker";
	case DISC_CONTAINER_CONTAINERD:
		return "containerd";
	case DISC_CONTAINER_CRIO:
		return "cri-o";
	case DISC_CONTAINER_PODMAN:
		return "podman";
	case DISC_CONTAINER_NONE:
		break;
	}
	return NULL;
}
