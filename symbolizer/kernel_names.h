/* Kernel function names asked of a namer one address at a time (the
 * kernel's own lookup, through BPF: agent/ksym_names.c), each answer kept,
 * in place of reading all of kallsyms. Internal to symbolizer/. */
#ifndef SMOLDER_SYM_KERNEL_NAMES_H
#define SMOLDER_SYM_KERNEL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "sym.h"

struct sym_kernel_names;

/* At most max_entries answers are kept; past them, each lookup asks. */
struct sym_kernel_names *sym_kernel_names_new(sym_kernel_namer namer, void *ctx,
					      size_t max_entries);
void sym_kernel_names_free(struct sym_kernel_names *k);
/* -ENOENT: no function holds addr; another error: the namer's, not kept. */
int sym_kernel_names_lookup(struct sym_kernel_names *k, uint64_t addr, const char **name);
size_t sym_kernel_names_bytes(const struct sym_kernel_names *k);

#endif
