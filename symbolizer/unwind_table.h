/* The unwind-table builder: an ELF file's CFI made into the sorted rows
 * (bpf/unwind.h) that the BPF walk follows. Internal to symbolizer/; sym.h
 * offers it for the files of the cache. */
#ifndef SMOLDER_SYM_UNWIND_TABLE_H
#define SMOLDER_SYM_UNWIND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "unwind.h"

struct sym_unwind_table {
	struct smolder_unwind_row *rows; /* sorted by pc, consecutive rows differ */
	size_t n;
	/* What the CFI held that the walk cannot follow, and FDEs skipped
	 * (an encoding we do not read, a range libdw refused). */
	size_t unsupported_rows;
	size_t skipped_fdes;
};

/* Builds the table of elf's .eh_frame (or, without one, its .debug_frame).
 * -ENOENT: the file has no CFI; -EBADMSG: its CFI cannot be read;
 * -ENOMEM. */
int sym_unwind_table_build(Elf *elf, struct sym_unwind_table *out);
void sym_unwind_table_release(struct sym_unwind_table *t);

/* The row that holds at pc (a file address), or NULL before the first. */
const struct smolder_unwind_row *sym_unwind_table_find(const struct sym_unwind_table *t,
						       uint64_t pc);

#endif
