/* CPython's line-number tables: which source line each instruction of a
 * code object comes from. The parser worker reads a code object's table
 * (co_lnotab, co_linetable) out of the profiled process's memory, decodes
 * it here into ranges of bytecode, and names a frame's line from the
 * instruction it was at. Internal to symbolizer/.
 *
 * The bytes are the other process's: a table is checked as it is read,
 * never read past its length, and what it may cost is bounded by the
 * caller (max_ranges). */
#ifndef SMOLDER_PYTHON_LINES_H
#define SMOLDER_PYTHON_LINES_H

#include <stddef.h>
#include <stdint.h>

/* A run of bytecode [start, end) (byte offsets into the code object's
 * bytecode) that belongs to one source line; line -1: none (3.10+ can say
 * so). Lines are never below -1. */
struct sym_py_line_range {
	uint32_t start, end;
	int32_t line;
};

/* Decodes the line table of a code object of CPython 3.minor (8..13):
 * co_lnotab (3.8, 3.9), 3.10's co_linetable, 3.11+'s location table
 * (co_linetable), given co_firstlineno. *out (malloc'd, caller frees;
 * NULL when *n is 0) sorted by start, not overlapping, none empty, and
 * neighbours with the same line joined. 3.10+ tables cover the bytecode
 * exactly: the last range ends where it does. A co_lnotab does not say
 * where the bytecode ends: its last range ends at UINT32_MAX, as CPython
 * 3.8 gives the last line to any offset past the table.
 * -EINVAL for bytes that are no table of that version (never reads past
 * len), or a line outside [0, INT32_MAX]; -ENOTSUP for a minor it does not
 * know; -E2BIG when more than max_ranges ranges; -ENOMEM. */
int sym_py_lines_decode(unsigned int minor, const uint8_t *table, size_t len,
			int32_t firstlineno, size_t max_ranges,
			struct sym_py_line_range **out, size_t *n);

/* The line of the instruction at byte offset off, or -1 (binary search). */
int32_t sym_py_line_at(const struct sym_py_line_range *r, size_t n, uint32_t off);

#endif
