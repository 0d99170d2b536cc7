/* Start-up checks (see probe.h). 5.11 is the oldest kernel with everything
 * we use: BTF-typed task access (bpf_get_current_task_btf), and BPF memory
 * charged to the memory cgroup rather than to RLIMIT_MEMLOCK. */
#include "probe.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct *data, int cap)
{
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static int check_privileges(char *what, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (has_cap(data, CAP_SYS_ADMIN) || (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON)))
		return 0;
	snprintf(what, len, "privileges: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");
	return -EPERM;
}

/* Whether this process runs under a seccomp filter (/proc/self/status
 * "Seccomp: 2"), as a container runtime's default profile puts it. */
static int seccomp_filtered(void)
{
	char line[256];
	int mode = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode == 2;
}

/* With the capabilities held, EPERM from bpf() or perf_event_open() is not
 * the kernel's capability check: a seccomp filter (container runtimes'
 * default profiles allow the two calls only with CAP_SYS_ADMIN, before
 * CAP_BPF and CAP_PERFMON were known to them) or an LSM. */
static void describe_refusal(char *what, size_t len, const char *call)
{
	snprintf(what, len,
		 "%s() is refused (EPERM) although the capabilities are held: %s; in a container, "
		 "run with a seccomp profile that allows bpf and perf_event_open (Kubernetes: "
		 "securityContext.seccompProfile.type Unconfined, as deploy/kubernetes does)",
		 call, seccomp_filtered() ? "this process runs under a seccomp filter"
					  : "an LSM (AppArmor, SELinux) may block it");
}

static int check_bpf_syscall(char *what, size_t len, bool *refused)
{
	union bpf_attr attr = {
		.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1,
	};
	int fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EPERM)
		return 0; /* the feature checks name what is missing */
	describe_refusal(what, len, "bpf");
	*refused = true;
	return -EPERM;
}

static int check_btf(char *what, size_t len)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	snprintf(what, len, "kernel BTF at /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
	return -ENOENT;
}

static int check_bpf_features(char *what, size_t len)
{
	static const struct { enum bpf_map_type type; const char *name; } maps[] = {
		{ BPF_MAP_TYPE_HASH, "BPF hash maps" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "BPF per-CPU arrays" },
		{ BPF_MAP_TYPE_ARRAY_OF_MAPS, "BPF arrays of maps" },
	};
	static const struct { enum bpf_func_id id; const char *name; } helpers[] = {
		{ BPF_FUNC_get_stack, "the bpf_get_stack helper" },
		{ BPF_FUNC_get_current_task_btf, "the bpf_get_current_task_btf helper" },
	};

	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL) != 1) {
		snprintf(what, len, "BPF perf_event programs");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) != 1) {
			snprintf(what, len, "%s", maps[i].name);
			return -EOPNOTSUPP;
		}
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, helpers[i].id, NULL) != 1) {
			snprintf(what, len, "%s in perf_event programs", helpers[i].name);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

static int check_perf_events(char *what, size_t len, bool *refused)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = 97,
	};
	int fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EPERM) {
		describe_refusal(what, len, "perf_event_open");
		*refused = true;
		return -EPERM;
	}
	snprintf(what, len, "perf events (software CPU clock): perf_event_open: %s", strerror(errno));
	return -errno;
}

int probe_requirements(char *what, size_t len, bool *refused)
{
	int err;

	*refused = false;
	err = check_privileges(what, len);
	if (!err)
		err = check_bpf_syscall(what, len, refused);
	if (!err)
		err = check_btf(what, len);
	if (!err)
		err = check_bpf_features(what, len);
	if (!err)
		err = check_perf_events(what, len, refused);
	return err;
}
