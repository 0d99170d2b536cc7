// SPDX-License-Identifier: GPL-2.0
/* The name of the kernel function at one address: the agent sets addr and
 * runs this program (BPF_PROG_RUN), then reads name. "%ps" is the
 * kernel's own lookup (kallsyms_lookup): "function", "function [module]",
 * or the address in hex when no symbol holds it. A syscall program: run
 * only by the agent, never attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ksym.h"

__u64 addr;
char name[SMOLDER_KSYM_NAME_LEN];
long written;

SEC("syscall")
int smolder_ksym_name(void *ctx)
{
	written = BPF_SNPRINTF(name, sizeof(name), "%ps", addr);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
