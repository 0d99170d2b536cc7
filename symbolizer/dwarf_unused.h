/* DWARF sections naming never reads, left compressed (see dwarf_unused.c). */
#ifndef SMOLDER_DWARF_UNUSED_H
#define SMOLDER_DWARF_UNUSED_H

/* Notes the location lists of the ELF file at fd (read from its section
 * headers; fd's offset is untouched), so that libdw, opening that file on
 * this thread, leaves them compressed. */
void sym_dwarf_unused_note(int fd);

/* Forgets what this thread noted: after the open. */
void sym_dwarf_unused_clear(void);

/* Sections left compressed so far, by every thread. */
unsigned long sym_dwarf_unused_left(void);

#endif
