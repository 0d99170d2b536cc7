/* Kernel features the agent uses beyond its floor (probe.h), each probed at
 * start. A missing feature has either a fallback, chosen with one warning
 * that names the feature and what is lost, or no fallback, and the agent
 * exits with one line naming it.
 *
 * Every new kernel feature comes the same way: an entry in the table of
 * kernel_features.c (its probe, its first kernel, its fallback or refusal),
 * the programs that use it and those that replace it, and a test that
 * forces the fallback with --test-pretend-missing.
 */
#ifndef SMOLDER_KERNEL_FEATURES_H
#define SMOLDER_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

enum kernel_feature {
	KF_RINGBUF,      /* BPF ring buffer: process events; no fallback */
	KF_TP_BTF,       /* BTF tracepoints: exec and exit; else raw tracepoints */
	KF_RAW_TP,       /* raw tracepoints: exec and exit without tp_btf */
	KF_TASK_PT_REGS, /* bpf_task_pt_regs: user registers of a sample in the kernel */
	KF_BPF_LOOP,     /* bpf_loop: the CFI walk; else frame pointers only */
	KF_FENTRY,       /* fentry on vm_mmap_pgoff: the dlopen watch */
	KF_MMAP2_BUILD_ID, /* perf's mmap records with build-ids: gone processes' mappings */
	KF_KSYM_BPF,     /* syscall programs with bpf_snprintf: kernel names without kallsyms */
	KF_HASH_NO_PREALLOC, /* hash maps allocated as filled, in perf_event programs */
	KF_ATTACH_COOKIE, /* bpf_get_attach_cookie in uprobes: one entry program for all */
	KF_COUNT
};

struct kernel_features {
	bool have[KF_COUNT];
	unsigned int pretended; /* bit per feature: said missing by a test */
};

/* The feature's name as --test-pretend-missing and the log spell it. */
const char *kernel_feature_name(enum kernel_feature f);

/* Parses a comma-separated list of feature names into a bit per feature.
 * On an unknown name returns -EINVAL with the sentence in err. */
int kernel_features_parse(const char *list, unsigned int *mask, char *err, size_t len);

/* Probes every feature; those in pretend_missing count as missing. */
void kernel_features_probe(struct kernel_features *kf, unsigned int pretend_missing);

/* 0 when the agent can run on these features; else -EOPNOTSUPP with the
 * one line naming what is missing in what. */
int kernel_features_check(const struct kernel_features *kf, char *what, size_t len);

/* One warning per fallback taken, naming the feature and what is lost. */
void kernel_features_warn(const struct kernel_features *kf);

#endif
