/* The parser worker's answer to a PythonCodes request (proto/worker.proto):
 * each code object read from the process's memory (python_code.h) and put
 * into its reply; and the agent's check of such an answer. Internal to
 * symbolizer/. */
#ifndef SMOLDER_WORKER_PYTHON_H
#define SMOLDER_WORKER_PYTHON_H

#include <stddef.h>

#include "sym.h"
#include "worker.pb-c.h"

/* At most this many code objects are asked for in one request. */
#define SYM_PY_CODES_PER_REQUEST SYM_PY_CODES_BATCH

/* The reply to req, in *out (worker_python_reply_free it). */
int worker_python_reply(const Smolder__Worker__PythonCodes *req, int mem_fd,
			Smolder__Worker__PythonCodesReply **out);
void worker_python_reply_free(Smolder__Worker__PythonCodesReply *r);

/* 3.13's debug offsets, both ways over the wire; take checks them (the
 * worker is not trusted) and returns false for any out of range. */
void worker_python_debug_fill(const struct sym_py_debug_offsets *o,
			      Smolder__Worker__PythonDebugOffsets *m);
bool worker_python_debug_take(const Smolder__Worker__PythonDebugOffsets *m,
			      struct sym_py_debug_offsets *o);

/* One code object of a reply into *out, checked (the worker is not
 * trusted): -EPROTO for names or ranges no reader would give. */
int worker_python_take(const Smolder__Worker__PythonCode *pc, struct sym_py_code *out);

#endif
