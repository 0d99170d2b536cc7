/* A CPython code object read out of the profiled process's memory, in the
 * parser worker: its qualified name, file, first line and line table,
 * each checked against the interpreter's own type objects (a code object
 * must be PyCode_Type, a string PyUnicode_Type, a table PyBytes_Type) and
 * against the tag the sampling program took of it (bpf/python.h), so that
 * memory reused since by another object is never named as the old one.
 * Internal to symbolizer/. */
#ifndef SMOLDER_PYTHON_CODE_H
#define SMOLDER_PYTHON_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "python_layout.h"
#include "sym.h"

/* The most a string or table read may take: a longer one is refused. */
#define SYM_PY_NAME_MAX 1024
#define SYM_PY_FILE_MAX 4096
#define SYM_PY_TABLE_MAX (256u << 10)
#define SYM_PY_RANGES_MAX 65536

/* The tag bpf/python.bpf.h's py_code_tag takes of a code object, without
 * its entry bit. */
uint32_t sym_py_code_tag(int32_t firstlineno, uint64_t name, uint64_t filename);

/* Reads code object addr of the process whose memory mem_fd reads, into
 * *out (sym_py_code_release it). -ESTALE: not the code object tagged tag
 * any more; -EINVAL: something that is no code object of this layout;
 * -ENOTSUP: a minor version with no layout; -EIO: memory that cannot be read (the process is gone); -E2BIG: over a
 * cap above; -ENOMEM. */
int sym_py_code_read(int mem_fd, const struct sym_py_types *types, uint64_t addr,
		     uint32_t tag, struct sym_py_code *out);

/* Whether the process reads as o says: PyCode_Type's name reads back
 * "code"; the offsets its tp_members gives co_name, co_filename,
 * co_qualname, co_firstlineno and co_linetable (co_lnotab before 3.10)
 * are o's; and the thread list of the interpreter at runtime is one: an
 * interpreter, its first thread and every next one (at most
 * SMOLDER_PY_MAX_THREADS) pointing back to it. 0 with the count of
 * threads in *threads; -EINVAL when it does not; -EAGAIN when there is
 * nothing to tell yet (no interpreter, or no thread: the process has not
 * started Python); -EIO when the memory cannot be read. */
int sym_py_check_layout(int mem_fd, uint64_t runtime, const struct sym_py_check *o,
			 uint32_t *threads);

#endif
