/* Where a memory target's uprobes go (issue 17): for one process, the
 * allocator it actually uses and the file offset of each of its entry
 * points, with the call each one is (bpf/memory.h's enum
 * smolder_mem_call), for the agent to attach to that process alone.
 *
 * discovery/ says what the process maps; the symbolizer says where the
 * allocator's functions are in its file (through the parser worker:
 * nothing is parsed here); only the first bytes of each function that
 * frees are read, from the process's memory.
 */
#ifndef SMOLDER_MEMORY_PROBES_H
#define SMOLDER_MEMORY_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "sym.h"

struct memory_probe {
	/* What to attach to: "/proc/PID/map_files/START-END" of a mapping of
	 * the file, a magic link the kernel resolves to the very file
	 * mapped, whatever the container's root and symlinks. */
	char *path;
	uint64_t offset;  /* file offset of the probed instruction (perf's uprobe PMU takes it) */
	uint32_t call;    /* enum smolder_mem_call */
	bool ret;         /* attach a return probe at the function's start too (every call but FREE) */
	const char *name; /* the function as its file's table names it, for logs (static) */
};

struct memory_probe_set {
	struct memory_probe *v; /* one per offset, never two at one */
	size_t n;
	/* "glibc", "jemalloc", "tcmalloc", or the executable's base name
	 * when it defines malloc itself. */
	char allocator[64];
};

/* The probes for process p's allocator: the executable when it defines
 * malloc (a statically linked allocator), else a mapped libjemalloc.so*,
 * else a mapped libtcmalloc*.so*, else libc.so.6 (glibc): the first that
 * the dynamic linker would bind malloc to. -ENOENT when p maps none we
 * know (or it has none of their entry points); -EAGAIN when the parser
 * worker did not answer in time (ask again later); -ENOMEM; another
 * error of sym_cache_get_elf's for the allocator's file. out is empty
 * unless 0 is returned. */
int memory_probes_find(struct sym_cache *c, const struct disc_process *p,
		       struct memory_probe_set *out);
void memory_probe_set_release(struct memory_probe_set *s);

#endif
