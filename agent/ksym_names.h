/* Kernel function names from the kernel itself, one address at a time,
 * through a BPF syscall program (bpf/ksym.bpf.c): the agent's namer for
 * sym_cache_set_kernel_namer, so that it need not read /proc/kallsyms. */
#ifndef SMOLDER_KSYM_NAMES_H
#define SMOLDER_KSYM_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct ksym_names;

/* Loads the program (Linux 5.14: syscall programs, bpf_snprintf's "%ps").
 * NULL with errno set when the kernel cannot. */
struct ksym_names *ksym_names_new(void);
void ksym_names_free(struct ksym_names *k);
/* A sym_kernel_namer (symbolizer/sym.h); ctx is a struct ksym_names. */
int ksym_names_name(void *ctx, uint64_t addr, char *buf, size_t len);

#endif
