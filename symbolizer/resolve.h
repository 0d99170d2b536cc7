/* Resolving one address of a file, with the answer kept (resolve.c).
 * Internal to symbolizer/. */
#ifndef SMOLDER_SYM_RESOLVE_H
#define SMOLDER_SYM_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sym.h"

/* Fills loc for vaddr of elf, from its kept answers or anew; *added is
 * what a new answer costs in bytes (0 when it was kept). */
int sym_elf_resolve_address(struct sym_elf *elf, uint64_t vaddr,
			    struct sym_location *loc, size_t *added);

/* Fills loc from vaddr's kept answer; false when there is none. */
bool sym_elf_kept_address(const struct sym_elf *elf, uint64_t vaddr, struct sym_location *loc);

/* Keeps a copy of frames[0..n) (named elsewhere: the parser worker) as
 * vaddr's answer and fills loc from it; *added as above. */
int sym_elf_keep_address(struct sym_elf *elf, uint64_t vaddr, const struct sym_frame *frames,
			 size_t n, bool from_dwarf, struct sym_location *loc, size_t *added);

#endif
