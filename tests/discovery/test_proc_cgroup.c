/* tests/discovery: /proc/PID/cgroup, on files shaped like the kernel's:
 * which line's path is taken (v1 multi-line files, v2 single lines, hybrid
 * hosts), which container each runtime's path names (systemd and cgroupfs
 * drivers, Kubernetes QoS classes, nesting), and text that must be refused. */
#include <errno.h>
#include <stdio.h>

#include "check.h"
#include "disc.h"

/* Container ids and pod UIDs as the runtimes and the API server make them. */
#define ID_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define ID_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define ID_C "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
#define ID_D "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"
#define ID_E "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
#define POD "a85707b1-6d86-43ca-a8c9-1b282d0e2cb8"
#define POD_SD "a85707b1_6d86_43ca_a8c9_1b282d0e2cb8" /* systemd's spelling */
#define STATIC_POD "6b3a9c2f0d8e4f1a9b7c5d3e2f1a0b9c"  /* a manifest's md5 */

#define DOCKER DISC_CONTAINER_DOCKER
#define CONTAINERD DISC_CONTAINER_CONTAINERD
#define CRIO DISC_CONTAINER_CRIO
#define PODMAN DISC_CONTAINER_PODMAN
#define NONE DISC_CONTAINER_NONE

struct form_case {
	const char *name;
	const char *path;
	enum disc_container_runtime runtime;
	const char *id;
	const char *pod_uid;
};

static const struct form_case forms[] = {
	/* docker */
	{ "docker, cgroupfs driver (v1)", "/docker/" ID_A, DOCKER, ID_A, "" },
	{ "docker, systemd driver", "/system.slice/docker-" ID_A ".scope", DOCKER, ID_A, "" },
	{ "docker in kubernetes, systemd driver",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" POD_SD
	  ".slice/docker-" ID_A ".scope", DOCKER, ID_A, POD },
	/* The dockershim wrote this same path: a bare id in a pod cgroup does
	 * not say which runtime made it, and containerd is today's. */
	{ "docker or containerd in kubernetes, cgroupfs driver, besteffort",
	  "/kubepods/besteffort/pod" POD "/" ID_A, CONTAINERD, ID_A, POD },

	/* containerd (CRI) */
	{ "containerd, cgroupfs, burstable", "/kubepods/burstable/pod" POD "/" ID_B,
	  CONTAINERD, ID_B, POD },
	{ "containerd, cgroupfs, guaranteed (no QoS level)", "/kubepods/pod" POD "/" ID_B,
	  CONTAINERD, ID_B, POD },
	{ "containerd, systemd, burstable",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_SD
	  ".slice/cri-containerd-" ID_B ".scope", CONTAINERD, ID_B, POD },
	{ "containerd, systemd, besteffort",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" POD_SD
	  ".slice/cri-containerd-" ID_B ".scope", CONTAINERD, ID_B, POD },
	{ "containerd, systemd, guaranteed (no QoS level)",
	  "/kubepods.slice/kubepods-pod" POD_SD ".slice/cri-containerd-" ID_B ".scope",
	  CONTAINERD, ID_B, POD },
	{ "containerd, static pod, cgroupfs", "/kubepods/burstable/pod" STATIC_POD "/" ID_B,
	  CONTAINERD, ID_B, STATIC_POD },
	{ "containerd, static pod, systemd",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_POD
	  ".slice/cri-containerd-" ID_B ".scope", CONTAINERD, ID_B, STATIC_POD },

	/* cri-o */
	{ "cri-o, systemd, burstable",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_SD
	  ".slice/crio-" ID_C ".scope", CRIO, ID_C, POD },
	{ "cri-o, systemd, guaranteed",
	  "/kubepods.slice/kubepods-pod" POD_SD ".slice/crio-" ID_C ".scope", CRIO, ID_C, POD },
	{ "cri-o, cgroupfs, besteffort", "/kubepods/besteffort/pod" POD "/crio-" ID_C,
	  CRIO, ID_C, POD },
	/* conmon watches the container from a cgroup of its own: it is the
	 * runtime's process, not the container. */
	{ "cri-o conmon, systemd",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_SD
	  ".slice/crio-conmon-" ID_C ".scope", NONE, "", "" },
	{ "cri-o conmon, cgroupfs", "/kubepods/besteffort/pod" POD "/crio-conmon-" ID_C,
	  NONE, "", "" },

	/* podman */
	{ "podman, rootful", "/machine.slice/libpod-" ID_D ".scope", PODMAN, ID_D, "" },
	{ "podman, rootless, payload in a sub-cgroup",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_D
	  ".scope/container", PODMAN, ID_D, "" },
	{ "podman pod (not a kubernetes one)",
	  "/machine.slice/machine-libpod_pod_" ID_E ".slice/libpod-" ID_D ".scope",
	  PODMAN, ID_D, "" },
	{ "podman, cgroupfs manager", "/libpod_parent/libpod-" ID_D, PODMAN, ID_D, "" },
	{ "podman conmon, rootful", "/machine.slice/libpod-conmon-" ID_D ".scope", NONE, "", "" },
	{ "podman conmon, rootless",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID_D
	  ".scope", NONE, "", "" },

	/* Sub-cgroups and nesting: the innermost container wins. */
	{ "systemd inside a container: init.scope",
	  "/system.slice/docker-" ID_A ".scope/init.scope", DOCKER, ID_A, "" },
	{ "systemd inside a container: a service",
	  "/system.slice/docker-" ID_A ".scope/system.slice/nginx.service", DOCKER, ID_A, "" },
	{ "docker in docker", "/docker/" ID_A "/docker/" ID_B, DOCKER, ID_B, "" },
	{ "kind: a pod's container inside a node container",
	  "/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" POD_SD
	  ".slice/cri-containerd-" ID_B ".scope", CONTAINERD, ID_B, POD },
	{ "kind: conmon belongs to the node container",
	  "/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-pod" POD_SD ".slice/crio-conmon-" ID_C ".scope", DOCKER, ID_A, "" },
	{ "read from another cgroup namespace",
	  "/../../kubepods.slice/kubepods-pod" POD_SD ".slice/cri-containerd-" ID_B ".scope",
	  CONTAINERD, ID_B, POD },

	/* Not containers */
	{ "short id", "/docker/ca978112ca1b", NONE, "", "" },
	{ "63 hex digits", "/docker/" "a978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
	  NONE, "", "" },
	{ "65 hex digits", "/docker/0" ID_A, NONE, "", "" },
	{ "not hex", "/docker/" "ga978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
	  NONE, "", "" },
	{ "upper-case hex", "/docker/" "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB",
	  NONE, "", "" },
	{ "short id in a scope", "/system.slice/docker-ca978112ca1b.scope", NONE, "", "" },
	{ "a service, not a scope", "/system.slice/docker-" ID_A ".service", NONE, "", "" },
	{ "a bare id below an unknown parent", "/custom-parent/" ID_A, NONE, "", "" },
	{ "a bare id below a malformed pod", "/kubepods/burstable/podnot-a-uid/" ID_B, NONE, "", "" },
	{ "a cgroupfs pod spelled the systemd way", "/kubepods/burstable/pod" POD_SD "/" ID_B,
	  NONE, "", "" },
	{ "a pod cgroup itself", "/kubepods/burstable/pod" POD, NONE, "", "" },
	{ "dockerd", "/system.slice/docker.service", NONE, "", "" },
	{ "containerd and its shims", "/system.slice/containerd.service", NONE, "", "" },
	{ "a login session", "/user.slice/user-1000.slice/session-3.scope", NONE, "", "" },
	{ "a host service", "/system.slice/sshd.service", NONE, "", "" },
	{ "systemd itself", "/init.scope", NONE, "", "" },
	{ "the root cgroup", "/", NONE, "", "" },

	/* A container whose pod we cannot read still is one. */
	{ "malformed pod UID in a systemd slice",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podxyz.slice/cri-containerd-"
	  ID_B ".scope", CONTAINERD, ID_B, "" },
};

/* The same path in every shape a host writes it: */
static const struct {
	const char *name;
	const char *format; /* %1$s: the path */
	int hierarchy;      /* the line the path must be taken from */
	int root_hierarchy; /* the same, when the path is "/" */
} shapes[] = {
	{ "v2", "0::%1$s\n", 0, 0 },
	{ "v1 with systemd",
	  "12:pids:%1$s\n11:hugetlb:%1$s\n10:net_cls,net_prio:%1$s\n9:perf_event:%1$s\n"
	  "8:memory:%1$s\n7:devices:%1$s\n6:cpu,cpuacct:%1$s\n5:blkio:%1$s\n4:freezer:%1$s\n"
	  "3:cpuset:%1$s\n2:rdma:/\n1:name=systemd:%1$s\n", 1, 1 },
	{ "v1 without systemd",
	  "10:net_prio:/\n9:perf_event:%1$s\n8:blkio:%1$s\n7:net_cls:%1$s\n6:freezer:%1$s\n"
	  "5:devices:%1$s\n4:memory:%1$s\n3:cpuacct:%1$s\n2:cpu:%1$s\n", 9, 10 },
	{ "hybrid",
	  "11:cpuset:%1$s\n10:memory:%1$s\n9:pids:%1$s\n8:devices:%1$s\n7:cpu,cpuacct:%1$s\n"
	  "6:misc:/\n5:rdma:/\n4:blkio:%1$s\n3:freezer:%1$s\n2:net_cls,net_prio:%1$s\n"
	  "1:name=systemd:%1$s\n0::%1$s\n", 0, 0 },
};

static void check_container(const char *path, const struct form_case *c)
{
	struct disc_container ct;

	CHECK_INT(disc_container_from_cgroup(path, &ct), 0);
	CHECK_INT(ct.runtime, c->runtime);
	CHECK_STR(ct.id, c->id);
	CHECK_STR(ct.pod_uid, c->pod_uid);
	CHECK_STR(disc_container_runtime_name(ct.runtime),
		  c->runtime == NONE ? NULL : disc_container_runtime_name(c->runtime));
}

static void test_forms(void)
{
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const struct form_case *c = &forms[i];

		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			int failed_before = check_failures;
			struct disc_cgroup cg;
			char text[8192];
			int n, err;

			n = snprintf(text, sizeof(text), shapes[s].format, c->path);
			CHECK(n > 0 && (size_t)n < sizeof(text));
			err = disc_cgroup_parse(text, (size_t)n, &cg);
			CHECK_INT(err, 0);
			if (!err) {
				CHECK_STR(cg.path, c->path);
				CHECK_INT(cg.hierarchy, strcmp(c->path, "/") ? shapes[s].hierarchy :
					  shapes[s].root_hierarchy);
				check_container(cg.path, c);
			}
			disc_cgroup_release(&cg);
			if (check_failures != failed_before)
				fprintf(stderr, "  in case: %s, %s file\n", c->name, shapes[s].name);
		}
	}
}

struct file_case {
	const char *name;
	const char *text;
	int err;
	const char *path;
	int hierarchy;
};

static const struct file_case files[] = {
	{ "v1 docker, Debian without systemd",
	  "10:net_prio:/docker/" ID_A "\n9:perf_event:/docker/" ID_A "\n8:blkio:/docker/" ID_A
	  "\n2:cpu:/docker/" ID_A "\n", 0, "/docker/" ID_A, 10 },
	{ "v1 docker, CentOS with systemd driver",
	  "10:devices:/system.slice/docker-" ID_A ".scope\n"
	  "2:cpuacct,cpu:/system.slice/docker-" ID_A ".scope\n"
	  "1:name=systemd:/system.slice/docker-" ID_A ".scope\n", 0,
	  "/system.slice/docker-" ID_A ".scope", 1 },
	{ "v1: name=systemd wins over an earlier controller's path",
	  "4:memory:/some/other\n1:name=systemd:/system.slice/cron.service\n", 0,
	  "/system.slice/cron.service", 1 },
	{ "v1: name=systemd at the root, one controller placed",
	  "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/060b4ca840559719fcf8c99176d48f87\n"
	  "3:cpuset:/\n1:cpu:/\n0::/\n", 0, "/process_api/060b4ca840559719fcf8c99176d48f87", 4 },
	{ "v1: everything at the root", "3:cpuset:/\n2:cpu:/\n1:name=systemd:/\n", 0, "/", 1 },
	{ "v1 without systemd, at the root", "3:cpuset:/\n2:cpu:/\n", 0, "/", 3 },
	{ "hybrid: v2 at the root, v1 placed",
	  "2:cpu,cpuacct:/docker/" ID_A "\n1:name=systemd:/docker/" ID_A "\n0::/\n", 0,
	  "/docker/" ID_A, 1 },
	{ "v2 at the root (a kernel thread, PID 1 of a container)", "0::/\n", 0, "/", 0 },
	{ "v2 without a newline", "0::/system.slice/sshd.service", 0,
	  "/system.slice/sshd.service", 0 },
	{ "':' and spaces in the path are the path's",
	  "0::/user.slice/user-1000.slice/user@1000.service/app.slice/my app:1.scope\n", 0,
	  "/user.slice/user-1000.slice/user@1000.service/app.slice/my app:1.scope", 0 },
	{ "a dead cgroup (v2 zombie)", "0::/system.slice/job.service (deleted)\n", 0,
	  "/system.slice/job.service (deleted)", 0 },
	{ "a v1 line with no controllers", "5::/x\n", 0, "/x", 5 },

	{ "empty", "", -ENODATA, NULL, -1 },
	{ "a blank line", "\n", -EINVAL, NULL, -1 },
	{ "a blank line between two", "1:cpu:/a\n\n2:memory:/b\n", -EINVAL, NULL, -1 },
	{ "a blank line at the end", "0::/a\n\n", -EINVAL, NULL, -1 },
	{ "no path", "0::\n", -EINVAL, NULL, -1 },
	{ "no path, no newline", "0::", -EINVAL, NULL, -1 },
	{ "no controller field", "1:/a\n", -EINVAL, NULL, -1 },
	{ "controllers on the v2 line", "0:cpu:/\n", -EINVAL, NULL, -1 },
	{ "relative path", "1:cpu:docker/x\n", -EINVAL, NULL, -1 },
	{ "no hierarchy ID", ":cpu:/\n", -EINVAL, NULL, -1 },
	{ "hierarchy ID not a number", "x::/\n", -EINVAL, NULL, -1 },
	{ "negative hierarchy ID", "-1::/\n", -EINVAL, NULL, -1 },
	{ "hierarchy ID past INT_MAX", "2147483648:cpu:/\n", -EINVAL, NULL, -1 },
	{ "space before the colon", "1 :cpu:/\n", -EINVAL, NULL, -1 },
	{ "two v2 lines (a forged one in a cgroup's name)",
	  "0::/user.slice/x\n0::/system.slice/docker-" ID_A ".scope\n", -EINVAL, NULL, -1 },
	{ "two name=systemd lines",
	  "1:name=systemd:/user.slice\n7:name=systemd:/docker/" ID_A "\n", -EINVAL, NULL, -1 },
	{ "not a cgroup file", "garbage\n", -EINVAL, NULL, -1 },
};

static void test_files(void)
{
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const struct file_case *c = &files[i];
		int failed_before = check_failures;
		struct disc_cgroup cg;
		int err = disc_cgroup_parse(c->text, strlen(c->text), &cg);

		CHECK_INT(err, c->err);
		CHECK_STR(cg.path, c->path);
		CHECK_INT(cg.hierarchy, c->hierarchy);
		disc_cgroup_release(&cg);
		CHECK_STR(cg.path, NULL);
		if (check_failures != failed_before)
			fprintf(stderr, "  in case: %s\n", c->name);
	}
}

static void test_odd_inputs(void)
{
	static const char with_nul[] = "0::/system.slice/a\0/docker/" ID_A "\n";
	struct disc_cgroup cg;
	struct disc_container ct;

	/* A NUL would hide the rest of the path. */
	CHECK_INT(disc_cgroup_parse(with_nul, sizeof(with_nul) - 1, &cg), -EINVAL);
	CHECK_STR(cg.path, NULL);
	/* Only as much as len says is read. */
	CHECK_INT(disc_cgroup_parse("0::/a/b", 5, &cg), 0);
	CHECK_STR(cg.path, "/a");
	disc_cgroup_release(&cg);

	CHECK_INT(disc_container_from_cgroup(NULL, &ct), -EINVAL);
	CHECK_INT(disc_container_from_cgroup("docker/" ID_A, &ct), -EINVAL);
	CHECK_INT(ct.runtime, NONE);
	CHECK_INT(disc_container_from_cgroup("", &ct), -EINVAL);
	CHECK_INT(disc_container_from_cgroup("//docker//" ID_A, &ct), 0);
	CHECK_INT(ct.runtime, NONE); /* an empty parent is not "docker" */

	CHECK_STR(disc_container_runtime_name(DOCKER), "docker");
	CHECK_STR(disc_container_runtime_name(CONTAINERD), "containerd");
	CHECK_STR(disc_container_runtime_name(CRIO), "cri-o");
	CHECK_STR(disc_container_runtime_name(PODMAN), "podman");
	CHECK_STR(disc_container_runtime_name(NONE), NULL);
	CHECK_STR(disc_container_runtime_name((enum disc_container_runtime)99), NULL);
}

int main(void)
{
	test_forms();
	test_files();
	test_odd_inputs();
	return check_report("test_proc_cgroup");
}
