/* Python processes: which processes run a CPython interpreter the agent
 * can read, described to the sampling program (bpf/python.h) so that it
 * walks their threads' Python frames; and the names of the code objects
 * those frames point to, read through the parser worker from each
 * process's memory once per (process, code object, tag).
 *
 * A process is described when one of its executable files is an
 * interpreter (its dynamic symbols have _PyRuntime and the type objects)
 * of a version with a known layout (symbolizer/python_layout.h). One of
 * another version, or a free-threaded build, keeps its native frames: a
 * warning names the version once, and a counter counts its processes.
 * Run-loop thread only. */
#ifndef SMOLDER_PYTHON_PROCS_H
#define SMOLDER_PYTHON_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "python.h"
#include "sym.h"

struct python_procs;

struct python_procs_opts {
	size_t sz;
	int procs_fd;          /* py_procs; -1: no Python walk in this program */
	struct sym_cache *sym;
	const char *proc_root; /* NULL: /proc */
};

struct python_procs_stats {
	uint64_t processes;      /* gauge: Python processes described to BPF */
	uint64_t unsupported;    /* Python processes of a version or build not read */
	uint64_t codes;          /* gauge: code objects named, held */
	uint64_t code_reads;     /* code objects asked of the worker */
	uint64_t code_errors;    /* ... that could not be named (gone, reused, unreadable) */
};

struct python_procs *python_procs_new(const struct python_procs_opts *opts);
void python_procs_free(struct python_procs *pp);

/* Describes p to the walk if it runs an interpreter we can read (once per
 * process; a file the worker has not read in time is tried again at the
 * next call). */
void python_procs_publish(struct python_procs *pp, const struct disc_process *p);
/* p exited or exec'd: no longer walked; its names are kept for the
 * samples still to be drained, until two intervals have ended. */
void python_procs_forget(struct python_procs *pp, int pid);
/* An interval's profiles are written: records of processes gone long
 * enough are let go. */
void python_procs_end_interval(struct python_procs *pp);

struct python_proc;

/* True when p maps a file named like an interpreter (python3.X,
 * libpython3.X.so) that has not been read yet, so p is not walked: its
 * samples have native frames only (python_undescribed). */
bool python_procs_undescribed(struct python_procs *pp, const struct disc_process *p);

/* p's interpreter as described, or NULL. */
struct python_proc *python_procs_find(struct python_procs *pp, int pid, uint64_t start_ticks);

/* The stride << 8 | size of the perf trampolines (python -X perf, 3.12+)
 * in p's anonymous executable mapping m (SMOLDER_UNWIND_PY_TRAMPOLINE),
 * when its perf map says m holds them from its start; 0 when it does not. */
uint32_t python_procs_trampoline_size(struct python_procs *pp, const struct disc_process *p,
				      const struct disc_mapping *m);

/* True when addr (of the process) is in its evaluation loop. */
bool python_proc_in_eval(const struct python_proc *pr, uint64_t addr);

/* Notes the code objects of frames[0..n) whose names are not held yet,
 * for python_procs_fetch to ask for together. */
void python_procs_want(struct python_procs *pp, struct python_proc *pr,
		       const struct smolder_py_frame *frames, size_t n);
/* Asks the worker for every code object wanted, within the symbol
 * cache's deadline. */
void python_procs_fetch(struct python_procs *pp);

/* The names of frame f's code object, or NULL with *err saying why
 * (-ENOENT: never asked for, or not answered in time). */
const struct sym_py_code *python_proc_code(struct python_proc *pr,
					   const struct smolder_py_frame *f, int *err);

void python_procs_get_stats(const struct python_procs *pp, struct python_procs_stats *st);

#endif
