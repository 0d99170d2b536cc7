/* Kernel feature probes and their fallbacks (see kernel_features.h).
 * Each probe asks the kernel itself (a helper, map or program type it
 * accepts, a tiny program it loads), never the version number: distribution
 * kernels carry features back, and configurations turn them off. */
#include "kernel_features.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"

struct feature_def {
	const char *name;
	const char *what;     /* the kernel feature, with its first kernel */
	const char *fallback; /* what is done and lost without it; NULL: none */
};

static const struct feature_def features[KF_COUNT] = {
	[KF_RINGBUF] = { "ringbuf", "the BPF ring buffer (Linux 5.8), through which the BPF "
		"programs tell the agent about processes", NULL },
	[KF_TP_BTF] = { "tp_btf", "BTF tracepoints (tp_btf, Linux 5.5)",
		"exec and exit are watched through raw tracepoints instead; nothing is lost" },
	[KF_RAW_TP] = { "raw_tp", "raw tracepoints (Linux 4.17)", NULL },
	[KF_TASK_PT_REGS] = { "task_pt_regs", "the bpf_task_pt_regs helper (Linux 5.15)",
		"the user registers of a sample taken in the kernel are read from the top of "
		"the task's kernel stack (x86-64's layout, checked by its code segment); a "
		"sample whose registers are not there has no user stack" },
	[KF_BPF_LOOP] = { "bpf_loop", "the bpf_loop helper (Linux 5.17)",
		"user stacks are walked by frame pointers only: code built without them (most "
		"distributions' libraries) ends a stack early, marked [unwind error: ...]" },
	[KF_MMAP2_BUILD_ID] = { "mmap2_build_id", "build-ids in perf's mmap records (Linux 5.12)",
		"a process gone before its /proc files are read keeps its samples and labels, but "
		"its frames are unnamed" },
	[KF_KSYM_BPF] = { "ksym_bpf", "syscall BPF programs with bpf_snprintf (Linux 5.14)",
		"kernel frames are named from /proc/kallsyms, read whole at start (some 60 ms "
		"of CPU)" },
	[KF_HASH_NO_PREALLOC] = { "hash_no_prealloc", "hash maps allocated as they fill "
		"(BPF_F_NO_PREALLOC) in perf_event programs (Linux 6.1)",
		"the count and user-stack maps are allocated whole at start: some 0.15 s more of "
		"CPU, and all their memory from the first second" },
	[KF_ATTACH_COOKIE] = { "attach_cookie", "the bpf_get_attach_cookie helper in uprobe "
		"programs (Linux 5.15)",
		"memory profiles probe each kind of allocator call with an entry program of its "
		"own, told apart by name instead of by cookie; nothing is lost" },
	[KF_FENTRY] = { "fentry", "fentry programs on vm_mmap_pgoff (Linux 5.5, with "
		"ftrace direct calls)",
		"not watching for dlopen: a new library is found when its frames are named" },
};

const char *kernel_feature_name(enum kernel_feature f)
{
	return f < KF_COUNT ? features[f].name : "?";
}

int kernel_features_parse(const char *list, unsigned int *mask, char *err, size_t len)
{
	const char *p = list;

	*mask = 0;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		int found = -1;

		for (int f = 0; f < KF_COUNT; f++)
			if (strlen(features[f].name) == n && !strncmp(p, features[f].name, n))
				found = f;
		if (found < 0) {
			snprintf(err, len, "unknown kernel feature \"%.*s\" (known: ringbuf, tp_btf, "
				 "raw_tp, task_pt_regs, bpf_loop, fentry, mmap2_build_id, ksym_bpf, "
				 "hash_no_prealloc, attach_cookie)", (int)n, p);
			return -EINVAL;
		}
		*mask |= 1u << found;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Loads "return 0" as a tracing program of the given attach type on the
 * vmlinux BTF type named name: whether the kernel takes such programs. */
static bool tracing_program_loads(const struct btf *vmlinux, const char *name, __u32 kind,
				  enum bpf_attach_type type)
{
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	__s32 id;
	int fd;

	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, name, kind);
	if (id <= 0)
		return false;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "smolder_probe", "GPL", ret0, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A dummy software event asking for build-ids in its mmap records, on one
 * CPU: the kernel refuses the attribute it does not know (EINVAL). */
static bool mmap2_build_ids(void)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr), .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_DUMMY,
		.mmap = 1, .mmap2 = 1, .build_id = 1,
	};
	int fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether a perf_event program may use a hash map that is not
 * preallocated: one map lookup in one, loaded. */
static bool hash_no_prealloc(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_NO_PREALLOC);
	int map = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, 8, 8, 1, &mopts);
	int prog;

	if (map < 0)
		return false;
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	prog = bpf_prog_load(BPF_PROG_TYPE_PERF_EVENT, NULL, "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
	close(map);
	if (prog < 0)
		return false;
	close(prog);
	return true;
}

static bool helper_in_perf_event(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, id, NULL) == 1;
}

void kernel_features_probe(struct kernel_features *kf, unsigned int pretend_missing)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	if (libbpf_get_error(vmlinux))
		vmlinux = NULL;
	kf->have[KF_RINGBUF] = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	kf->have[KF_TP_BTF] = tracing_program_loads(vmlinux, "btf_trace_sched_process_exec",
						    BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP);
	kf->have[KF_RAW_TP] = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1;
	kf->have[KF_TASK_PT_REGS] = helper_in_perf_event(BPF_FUNC_task_pt_regs);
	kf->have[KF_BPF_LOOP] = helper_in_perf_event(BPF_FUNC_loop);
	kf->have[KF_MMAP2_BUILD_ID] = mmap2_build_ids();
	kf->have[KF_FENTRY] = tracing_program_loads(vmlinux, "vm_mmap_pgoff", BTF_KIND_FUNC,
						    BPF_TRACE_FENTRY);
	kf->have[KF_KSYM_BPF] =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, NULL) == 1 &&
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_SYSCALL, BPF_FUNC_snprintf, NULL) == 1;
	kf->have[KF_HASH_NO_PREALLOC] = hash_no_prealloc();
	kf->have[KF_ATTACH_COOKIE] =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, NULL) == 1;
	btf__free(vmlinux);
	kf->pretended = pretend_missing;
	for (int f = 0; f < KF_COUNT; f++)
		if (pretend_missing & (1u << f))
			kf->have[f] = false;
}

static const char *how_missing(const struct kernel_features *kf, enum kernel_feature f)
{
	return kf->pretended & (1u << f) ? " (pretended missing by --test-pretend-missing)" : "";
}

int kernel_features_check(const struct kernel_features *kf, char *what, size_t len)
{
	enum kernel_feature missing = KF_COUNT;

	if (!kf->have[KF_RINGBUF])
		missing = KF_RINGBUF;
	else if (!kf->have[KF_TP_BTF] && !kf->have[KF_RAW_TP])
		missing = KF_RAW_TP;
	if (missing == KF_COUNT)
		return 0;
	snprintf(what, len, "missing %s%s: smolder cannot run without it", features[missing].what,
		 how_missing(kf, missing));
	return -EOPNOTSUPP;
}

void kernel_features_warn(const struct kernel_features *kf)
{
	for (int f = 0; f < KF_COUNT; f++) {
		if (kf->have[f] || !features[f].fallback)
			continue;
		log_warn("kernel feature missing (%s): %s%s; %s", features[f].name, features[f].what,
			 how_missing(kf, f), features[f].fallback);
	}
}
