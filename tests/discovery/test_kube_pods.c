/* The pods of a node, as the API server describes them: a PodList in the
 * shape kubectl get pods -o json gives, watch events (ADDED, MODIFIED,
 * DELETED, BOOKMARK, a 410 ERROR), and the labels a process in one of
 * their containers gets: service_name by the rules (annotation, then
 * app.kubernetes.io/name, then namespace/container), the Deployment of a
 * ReplicaSet's pod, sanitized __meta names, the opt-out annotation. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "disc.h"
#include "kube_pods.h"

#define ID_A "aaaa111122223333444455556666777788889999aaaabbbbccccddddeeeeffff"
#define ID_B "bbbb111122223333444455556666777788889999aaaabbbbccccddddeeeeffff"
#define ID_C "cccc111122223333444455556666777788889999aaaabbbbccccddddeeeeffff"

static const char LIST[] =
	"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1000\"},"
	"\"items\":["
	"{\"metadata\":{\"name\":\"web-7d4b9c8f5-x2x9z\",\"namespace\":\"shop\",\"uid\":\"u1\","
	"\"labels\":{\"app.kubernetes.io/name\":\"web\",\"pod-template-hash\":\"7d4b9c8f5\","
	"\"tier\":\"front\"},"
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c8f5\",\"controller\":true}]},"
	"\"spec\":{\"nodeName\":\"node-1\"},"
	"\"status\":{\"containerStatuses\":["
	"{\"name\":\"server\",\"containerID\":\"containerd://" ID_A "\"},"
	"{\"name\":\"sidecar\",\"containerID\":\"containerd://" ID_B "\"}]}},"
	"{\"metadata\":{\"name\":\"batch-1\",\"namespace\":\"jobs\",\"uid\":\"u2\","
	"\"annotations\":{\"pyroscope.io/service_name\":\"nightly-batch\"}},"
	"\"spec\":{\"nodeName\":\"node-1\"},"
	"\"status\":{\"containerStatuses\":[{\"name\":\"run\",\"containerID\":\"cri-o://" ID_C "\"}]}},"
	"{\"metadata\":{\"name\":\"pending\",\"namespace\":\"x\",\"uid\":\"u3\"},"
	"\"status\":{\"containerStatuses\":[{\"name\":\"c\"}]}},"
	"{\"metadata\":{\"name\":\"no-uid\",\"namespace\":\"x\"}}"
	"]}";

static const char *get(const struct disc_labels *l, const char *name)
{
	const char *v = disc_labels_get(l, name);
	return v ? v : "(none)";
}

static void test_list(struct disc_kube_pods *s)
{
	struct disc_labels l;
	char rv[64];
	bool out;

	CHECK_INT(disc_kube_pods_load_list(s, LIST, strlen(LIST), rv, sizeof(rv)), 0);
	CHECK_STR(rv, "1000");
	CHECK_INT(disc_kube_pods_count(s), 3); /* the one without a uid is skipped */
	CHECK(disc_kube_pods_has(s, ID_A) && disc_kube_pods_has(s, ID_B));
	CHECK(!disc_kube_pods_has(s, "0123") && !disc_kube_pods_has(s, ""));

	CHECK_INT(disc_kube_pods_lookup(s, ID_A, &l, &out), 0);
	CHECK(!out);
	CHECK_STR(get(&l, "service_name"), "web");
	CHECK_STR(get(&l, "namespace"), "shop");
	CHECK_STR(get(&l, "pod"), "web-7d4b9c8f5-x2x9z");
	CHECK_STR(get(&l, "container"), "server");
	CHECK_STR(get(&l, "node"), "node-1");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_controller_kind"), "Deployment");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_controller_name"), "web");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_label_app_kubernetes_io_name"), "web");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_label_tier"), "front");
	disc_labels_release(&l);

	CHECK_INT(disc_kube_pods_lookup(s, ID_B, &l, &out), 0);
	CHECK_STR(get(&l, "container"), "sidecar");
	disc_labels_release(&l);

	/* The annotation wins; without a controller there is no kind. */
	CHECK_INT(disc_kube_pods_lookup(s, ID_C, &l, &out), 0);
	CHECK_STR(get(&l, "service_name"), "nightly-batch");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_annotation_pyroscope_io_service_name"),
		  "nightly-batch");
	CHECK_STR(get(&l, "__meta_kubernetes_pod_controller_kind"), "(none)");
	disc_labels_release(&l);

	CHECK_INT(disc_kube_pods_lookup(s, "ffff", &l, &out), -ENOENT);
	CHECK_INT(disc_kube_pods_lookup(s, "", &l, &out), -ENOENT);
}

static void test_events(struct disc_kube_pods *s)
{
	static const char added[] =
		"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"api-0\","
		"\"namespace\":\"shop\",\"uid\":\"u4\",\"resourceVersion\":\"1001\","
		"\"annotations\":{\"smolder.io/profile\":\"false\"}},\"spec\":{\"nodeName\":\"node-1\"},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"api\",\"containerID\":\"docker://"
		"dddd111122223333444455556666777788889999aaaabbbbccccddddeeeeffff\"}]}}}";
	static const char modified[] =
		"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"batch-1\","
		"\"namespace\":\"jobs\",\"uid\":\"u2\",\"resourceVersion\":\"1002\"},"
		"\"spec\":{\"nodeName\":\"node-1\"},\"status\":{\"containerStatuses\":[{\"name\":\"run\","
		"\"containerID\":\"cri-o://" ID_C "\"}]}}}";
	static const char deleted[] =
		"{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c8f5-x2x9z\","
		"\"namespace\":\"shop\",\"uid\":\"u1\",\"resourceVersion\":\"1003\"}}}";
	static const char bookmark[] =
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"1010\"}}}";
	static const char gone[] =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
		"\"message\":\"too old resource version: 1 (1003)\",\"reason\":\"Expired\",\"code\":410}}";
	enum disc_kube_event k;
	struct disc_labels l;
	char rv[64];
	bool out;

	CHECK_INT(disc_kube_pods_apply_event(s, added, strlen(added), &k, rv, sizeof(rv)), 0);
	CHECK_INT(k, DISC_KUBE_ADDED);
	CHECK_STR(rv, "1001");
	CHECK_INT(disc_kube_pods_lookup(s,
		"dddd111122223333444455556666777788889999aaaabbbbccccddddeeeeffff", &l, &out), 0);
	CHECK(out, "smolder.io/profile: \"false\" opts the pod out");
	disc_labels_release(&l);

	/* The annotation is gone: service_name falls back to ns/container. */
	CHECK_INT(disc_kube_pods_apply_event(s, modified, strlen(modified), &k, rv, sizeof(rv)), 0);
	CHECK_INT(k, DISC_KUBE_MODIFIED);
	CHECK_INT(disc_kube_pods_lookup(s, ID_C, &l, &out), 0);
	CHECK_STR(get(&l, "service_name"), "jobs/run");
	disc_labels_release(&l);

	CHECK_INT(disc_kube_pods_apply_event(s, deleted, strlen(deleted), &k, rv, sizeof(rv)), 0);
	CHECK_INT(k, DISC_KUBE_DELETED);
	CHECK_INT(disc_kube_pods_lookup(s, ID_A, &l, &out), -ENOENT);

	CHECK_INT(disc_kube_pods_apply_event(s, bookmark, strlen(bookmark), &k, rv, sizeof(rv)), 0);
	CHECK_INT(k, DISC_KUBE_BOOKMARK);
	CHECK_STR(rv, "1010");
	CHECK_INT(disc_kube_pods_apply_event(s, gone, strlen(gone), &k, rv, sizeof(rv)), 0);
	CHECK_INT(k, DISC_KUBE_GONE);

	CHECK_INT(disc_kube_pods_apply_event(s, "{\"type\":", 8, &k, rv, sizeof(rv)), -EBADMSG);
	CHECK_INT(disc_kube_pods_apply_event(s, "[1,2]", 5, &k, rv, sizeof(rv)), -EBADMSG);
	CHECK_INT(disc_kube_pods_load_list(s, "{\"kind\":\"Pod\"}", 14, rv, sizeof(rv)), -EBADMSG);
	CHECK_INT(disc_kube_pods_count(s), 3); /* u2, u3, u4: u1 deleted */
}

static void test_container_id(void)
{
	char id[80];

	CHECK_INT(disc_kube_container_id("containerd://abc", id, sizeof(id)), 0);
	CHECK_STR(id, "abc");
	CHECK_INT(disc_kube_container_id("abc", id, sizeof(id)), -EINVAL);
	CHECK_INT(disc_kube_container_id("docker://", id, sizeof(id)), -EINVAL);
}

/* The rules see the pod's labels, and what they give wins over the pod's
 * service_name. */
static void test_rules(struct disc_kube_pods *s)
{
	static const char rules[] =
		"relabel_configs:\n"
		"  - source_labels: [__meta_kubernetes_pod_label_tier]\n"
		"    target_label: tier\n";
	struct disc_targets_opts o = { .sz = sizeof(o), .config_yaml = rules,
				       .config_yaml_len = sizeof(rules) - 1 };
	struct disc_targets *t = disc_targets_new(&o);
	struct disc_labels kube, out;
	struct disc_target_input in = { .comm = "server", .container_id = ID_A,
					.default_service_name = "server" };
	bool opted;

	CHECK(t != NULL, "rules parse");
	CHECK_INT(disc_kube_pods_load_list(s, LIST, strlen(LIST), NULL, 0), 0);
	CHECK_INT(disc_kube_pods_lookup(s, ID_A, &kube, &opted), 0);
	in.kube = &kube;
	CHECK_INT(disc_targets_apply(t, &in, &out), 1);
	CHECK_STR(get(&out, "service_name"), "web");
	CHECK_STR(get(&out, "tier"), "front");
	CHECK_STR(get(&out, "namespace"), "shop");
	CHECK_STR(get(&out, "__meta_kubernetes_namespace"), "(none)");
	disc_labels_release(&out);
	disc_labels_release(&kube);
	disc_targets_free(t);
}

/* What the agent logs when the API server refuses: the Status's message,
 * from a refused request's body or a watch's ERROR event. */
static void test_status_message(void)
{
	static const char forbidden[] =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"pods is forbidden: User \\\"system:serviceaccount:smolder:smolder\\\" "
		"cannot list resource\\n\\\"pods\\\"\",\"reason\":\"Forbidden\",\"code\":403}";
	static const char event[] =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
		"\"message\":\"etcdserver: leader changed\"}}";
	static const char pod_event[] =
		"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"message\":\"x\"}}";
	char msg[96];

	CHECK_INT(disc_kube_status_message(forbidden, strlen(forbidden), msg, sizeof(msg)), 0);
	/* Cut to the buffer, and the newline made a space: one log line. */
	CHECK_STR(msg, "pods is forbidden: User \"system:serviceaccount:smolder:smolder\" cannot list "
		       "resource \"pods\"");
	CHECK_INT(disc_kube_status_message(event, strlen(event), msg, sizeof(msg)), 0);
	CHECK_STR(msg, "etcdserver: leader changed");
	CHECK_INT(disc_kube_status_message(pod_event, strlen(pod_event), msg, sizeof(msg)),
		  -EBADMSG);
	CHECK_INT(disc_kube_status_message("<html>502</html>", 16, msg, sizeof(msg)), -EBADMSG);
	CHECK_INT(disc_kube_status_message("", 0, msg, sizeof(msg)), -EBADMSG);
}

int main(void)
{
	struct disc_kube_pods *s = disc_kube_pods_new();

	CHECK(s != NULL);
	test_list(s);
	test_events(s);
	test_container_id();
	test_rules(s);
	test_status_message();
	disc_kube_pods_free(s);
	return check_report("test_kube_pods");
}
