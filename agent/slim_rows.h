/* A table's rows as the rows array holds them (bpf/unwind.h): 8-byte rows
 * that index their file's distinct rules, then the rules.
 */
#ifndef SMOLDER_SLIM_ROWS_H
#define SMOLDER_SLIM_ROWS_H

#include <stddef.h>

#include "unwind.h"

/* rows[0..n) (sorted by pc, as the symbolizer builds them) then their
 * distinct rules, into *out (malloc'd, *n_elems elements). -ERANGE: a
 * row's pc does not fit in 32 bits (the table cannot be loaded);
 * -ENOMEM. */
int slim_rows_make(const struct smolder_unwind_row *rows, size_t n,
		   union smolder_unwind_elem **out, size_t *n_elems);

#endif
