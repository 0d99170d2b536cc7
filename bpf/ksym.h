/* Kernel function names by address, from the kernel itself (bpf/ksym.bpf.c,
 * agent/ksym_names.c): what kallsyms would say of one address, without
 * reading all of /proc/kallsyms (~120k lines, some 60 ms of the agent's
 * start, most of it the kernel writing the file). */
#ifndef SMOLDER_BPF_KSYM_H
#define SMOLDER_BPF_KSYM_H

/* KSYM_NAME_LEN is 512 since 6.1, but no function name comes near: a
 * longer one is cut, and the agent then says it does not know it. */
#define SMOLDER_KSYM_NAME_LEN 256

#endif
