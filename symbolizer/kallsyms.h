/* Kernel symbols from a kallsyms file; used by sym_cache.c. Internal to
 * symbolizer/. */
#ifndef SMOLDER_KALLSYMS_H
#define SMOLDER_KALLSYMS_H

#include <stdint.h>

struct sym_kallsyms;

/* -EPERM when every address reads as zero (kptr_restrict hides them). */
int sym_kallsyms_load(const char *path, struct sym_kallsyms **ks);
void sym_kallsyms_free(struct sym_kallsyms *ks);
/* -ENOENT below the first symbol, or where the nearest symbol is not text. */
int sym_kallsyms_lookup(const struct sym_kallsyms *ks, uint64_t addr,
			const char **name);

#endif
