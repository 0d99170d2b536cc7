/* The layouts of CPython's objects, by minor version: what the sampling
 * program reads to walk a thread's frames (struct smolder_py_offsets, in
 * bpf/python.h), and what the parser worker reads to name a code object.
 * Taken from each version's DWARF (the pyenv builds'), and checked against
 * the process before use: a code object's type must be PyCode_Type, a
 * string's PyUnicode_Type. Internal to symbolizer/ and agent/. */
#ifndef SMOLDER_PYTHON_LAYOUT_H
#define SMOLDER_PYTHON_LAYOUT_H

#include <stdint.h>

#include "python.h" /* bpf/ */

struct sym_py_layout {
	unsigned int minor; /* 3.minor */
	struct smolder_py_offsets walk;
	/* PyThreadState.interp, to check a thread list found. */
	uint16_t tstate_interp;
	/* PyCodeObject */
	uint16_t code_qualname;  /* co_qualname (3.11+); SMOLDER_PY_FIELD_NONE before */
	uint16_t code_linetable; /* co_lnotab (3.8, 3.9), co_linetable (3.10+): a bytes object */
	/* PyUnicodeObject: a compact string's characters follow its header,
	 * sizeof(PyASCIIObject) for an ASCII one, sizeof(PyCompactUnicodeObject)
	 * for others. state's bits, from the lowest: interned (2), kind (3),
	 * compact (1), ascii (1). */
	uint16_t unicode_length;
	uint16_t unicode_state;
	uint16_t unicode_ascii_data;
	uint16_t unicode_compact_data;
	/* PyBytesObject: ob_size and ob_sval */
	uint16_t bytes_size;
	uint16_t bytes_data;
};

/* The layout of CPython 3.minor, or NULL when it is not one we know. */
const struct sym_py_layout *sym_py_layout_find(unsigned int major, unsigned int minor);

#endif
