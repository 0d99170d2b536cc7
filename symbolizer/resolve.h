/* Resolving one address of a file, with the answer kept (resolve.c).
 * Internal to symbolizer/. */
#ifndef SMOLDER_SYM_RESOLVE_H
#define SMOLDER_SYM_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "sym.h"

/* Fills loc for vaddr of elf, from its kept answers or anew; *added is
 * what a new answer costs in bytes (0 when it was kept). */
int sym_elf_resolve_address(struct sym_elf *elf, uint64_t vaddr,
			    struct sym_location *loc, size_t *added);

#endif
