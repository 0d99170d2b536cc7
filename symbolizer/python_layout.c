/* The layouts of CPython's objects, one per minor version (see
 * python_layout.h): the offsets the sampling program walks a thread's
 * frames by, and those the parser worker names a code object by.
 *
 * Every number is from the DWARF of pyenv's builds for x86_64 (the default
 * configuration: no Py_DEBUG, no Py_TRACE_REFS, so sizeof(PyObject) is 16;
 * 3.13 without free threading), 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and
 * 3.13.0, read with gdb from each one's own libpython:
 *
 *   gdb -batch -nx -ex 'p (int)&((PyThreadState *)0)->thread_id' \
 *       -ex 'p (int)sizeof(PyASCIIObject)' -ex 'ptype /o PyASCIIObject' \
 *       /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0
 *
 * and so on for each field, through the typedefs (_PyRuntimeState,
 * PyInterpreterState, PyThreadState, _PyCFrame, PyFrameObject,
 * _PyInterpreterFrame, PyCodeObject, PyASCIIObject, PyCompactUnicodeObject,
 * PyBytesObject). Debian's statically linked /usr/bin/python3.11 (3.11.2,
 * DWARF from python3.11-dbg) gives the same numbers as 3.11.7: patch
 * releases keep these layouts, so the table is by minor version.
 *
 * Not in the table, for the record (same method, 3.7.16 and 3.6.15):
 * both keep f_lasti in bytes, co_lnotab, and 3.8's unicode and bytes
 * layouts (16, 32, 48, 72; 16, 32), and have no co_qualname.
 *   3.7: _PyRuntime.interpreters.head 24; tstate_head 8; PyThreadState
 *        next 8, interp 16, frame 24, thread_id 176; f_back 24, f_code 32,
 *        f_lasti 104; co_firstlineno 36, co_filename 96, co_name 104,
 *        co_lnotab 112.
 *   3.6: no _PyRuntime: the interpreter list's head is pystate.c's static
 *        interp_head, a local symbol; otherwise as 3.7 but for
 *        PyThreadState.thread_id 152 and f_lasti 120.
 */
#include "python_layout.h"

#include <stddef.h> /* NULL */

/* 3.8 and 3.9 differ in no field read here. */
static const struct sym_py_layout py3_8 = {
	.minor = 8,
	.walk = {
		.runtime_interp_head = 32,
		.interp_tstate_head = 8,
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_frame = 24,
		.cframe_current_frame = SMOLDER_PY_FIELD_NONE,
		.frame_back = 24,
		.frame_code = 32,
		.frame_lasti = 104,
		.frame_owner = SMOLDER_PY_FIELD_NONE,
		.frame_is_entry = SMOLDER_PY_FIELD_NONE,
		.code_adaptive = SMOLDER_PY_FIELD_NONE,
		.code_firstlineno = 40,
		.code_name = 112,
		.code_filename = 104,
		.lasti = SMOLDER_PY_LASTI_BYTES,
	},
	.tstate_interp = 16,
	.code_qualname = SMOLDER_PY_FIELD_NONE,
	.code_linetable = 120, /* co_lnotab */
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 48, /* the header still carries wstr (until 3.12) */
	.unicode_compact_data = 72,
	.bytes_size = 16,
	.bytes_data = 32,
};

static const struct sym_py_layout py3_9 = {
	.minor = 9,
	.walk = {
		.runtime_interp_head = 32,
		.interp_tstate_head = 8,
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_frame = 24,
		.cframe_current_frame = SMOLDER_PY_FIELD_NONE,
		.frame_back = 24,
		.frame_code = 32,
		.frame_lasti = 104,
		.frame_owner = SMOLDER_PY_FIELD_NONE,
		.frame_is_entry = SMOLDER_PY_FIELD_NONE,
		.code_adaptive = SMOLDER_PY_FIELD_NONE,
		.code_firstlineno = 40,
		.code_name = 112,
		.code_filename = 104,
		.lasti = SMOLDER_PY_LASTI_BYTES,
	},
	.tstate_interp = 16,
	.code_qualname = SMOLDER_PY_FIELD_NONE,
	.code_linetable = 120, /* co_lnotab */
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 48,
	.unicode_compact_data = 72,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* f_lasti counts 2-byte code units from 3.10: its PyFrame_GetLineNumber
 * passes f_lasti * 2 (lea (%rax,%rax,1)) to PyCode_Addr2Line, which takes
 * a byte offset, where 3.9's passes f_lasti as it is. */
static const struct sym_py_layout py3_10 = {
	.minor = 10,
	.walk = {
		.runtime_interp_head = 32,
		.interp_tstate_head = 8,
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_frame = 24,
		.cframe_current_frame = SMOLDER_PY_FIELD_NONE,
		.frame_back = 24,
		.frame_code = 32,
		.frame_lasti = 96,
		.frame_owner = SMOLDER_PY_FIELD_NONE,
		.frame_is_entry = SMOLDER_PY_FIELD_NONE,
		.code_adaptive = SMOLDER_PY_FIELD_NONE,
		.code_firstlineno = 40,
		.code_name = 112,
		.code_filename = 104,
		.lasti = SMOLDER_PY_LASTI_UNITS,
	},
	.tstate_interp = 16,
	.code_qualname = SMOLDER_PY_FIELD_NONE,
	.code_linetable = 120, /* co_linetable, where co_lnotab was */
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 48,
	.unicode_compact_data = 72,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* 3.11 keeps frames in _PyInterpreterFrame, reached through the thread's
 * _PyCFrame, and already moved the thread list into
 * PyInterpreterState.threads (threads.head; there is no tstate_head). */
static const struct sym_py_layout py3_11 = {
	.minor = 11,
	.walk = {
		.runtime_interp_head = 40,
		.interp_tstate_head = 16, /* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.tstate_frame = 56, /* cframe */
		.cframe_current_frame = 8,
		.frame_back = 48, /* previous */
		.frame_code = 32,
		.frame_lasti = 56, /* prev_instr */
		.frame_owner = 69, /* a char */
		.frame_is_entry = 68, /* a _Bool */
		.code_adaptive = 184,
		.code_firstlineno = 72,
		.code_name = 120,
		.code_filename = 112,
		.lasti = SMOLDER_PY_LASTI_PREV_INSTR,
	},
	.tstate_interp = 16,
	.code_qualname = 128,
	.code_linetable = 136,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 48,
	.unicode_compact_data = 72,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* 3.12 drops is_entry (entry frames are owned by the C stack instead) and
 * the unicode header's wstr, which shortens both string headers. */
static const struct sym_py_layout py3_12 = {
	.minor = 12,
	.walk = {
		.runtime_interp_head = 40,
		.interp_tstate_head = 72, /* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 136,
		.tstate_frame = 56, /* cframe */
		.cframe_current_frame = 0,
		.frame_back = 8, /* previous */
		.frame_code = 0,
		.frame_lasti = 56, /* prev_instr */
		.frame_owner = 70,
		.frame_is_entry = SMOLDER_PY_FIELD_NONE,
		.code_adaptive = 192,
		.code_firstlineno = 68,
		.code_name = 120,
		.code_filename = 112,
		.lasti = SMOLDER_PY_LASTI_PREV_INSTR,
	},
	.tstate_interp = 16,
	.code_qualname = 128,
	.code_linetable = 136,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 40,
	.unicode_compact_data = 56,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* 3.13 drops _PyCFrame: the thread points at its frame. _PyRuntime now
 * opens with _Py_DebugOffsets, hence the large offsets; they still fit
 * a __u16. */
static const struct sym_py_layout py3_13 = {
	.minor = 13,
	.walk = {
		.runtime_interp_head = 632,
		.interp_tstate_head = 7344, /* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.tstate_frame = 72, /* current_frame */
		.cframe_current_frame = SMOLDER_PY_FIELD_NONE,
		.frame_back = 8, /* previous */
		.frame_code = 0, /* f_executable */
		.frame_lasti = 56, /* instr_ptr */
		.frame_owner = 70,
		.frame_is_entry = SMOLDER_PY_FIELD_NONE,
		.code_adaptive = 200,
		.code_firstlineno = 68,
		.code_name = 120,
		.code_filename = 112,
		.lasti = SMOLDER_PY_LASTI_INSTR_PTR,
	},
	.tstate_interp = 16,
	.code_qualname = 128,
	.code_linetable = 136,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 40,
	.unicode_compact_data = 56,
	.bytes_size = 16,
	.bytes_data = 32,
};

const struct sym_py_layout *sym_py_layout_find(unsigned int major, unsigned int minor)
{
	if (major != 3)
		return NULL;
	switch (minor) {
	case 8:
		return &py3_8;
	case 9:
		return &py3_9;
	case 10:
		return &py3_10;
	case 11:
		return &py3_11;
	case 12:
		return &py3_12;
	case 13:
		return &py3_13;
	default:
		return NULL;
	}
}
