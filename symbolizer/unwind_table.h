/* The unwind-table builder: an ELF file's CFI made into the sorted rows
 * (bpf/unwind.h) that the BPF walk follows. Internal to symbolizer/; sym.h
 * offers it for the files of the cache. */
#ifndef SMOLDER_SYM_UNWIND_TABLE_H
#define SMOLDER_SYM_UNWIND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "sym.h"
#include "unwind.h"

/* Builds the table of elf's .eh_frame (or, without one, its .debug_frame).
 * -ENOENT: the file has no CFI; -EBADMSG: its CFI cannot be read;
 * -ENOMEM. */
int sym_unwind_table_build(Elf *elf, struct sym_unwind_table *out);


#endif
