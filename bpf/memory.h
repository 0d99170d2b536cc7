/* Types shared by bpf/memory.bpf.h (allocations of memory targets, from
 * uprobes on their allocator) and agent/.
 *
 * The agent attaches, to each memory target alone (uprobes with a pid),
 * an entry probe to each allocation function of the allocator the process
 * uses, a return probe to the same, and an entry probe to each function
 * that frees; the attach cookie says which call it is (enum
 * smolder_mem_call). Only a thread's outermost call counts: an allocator
 * calling itself (realloc calling malloc) is told by the stack pointer,
 * which a nested call's entry has below the outer call's.
 *
 * Allocations are drawn as Go's and tcmalloc's profilers draw them: a
 * thread's countdown of bytes, drawn from an exponential distribution of
 * mean --memory-sample-bytes, is decremented by each allocation's size, and
 * the allocation that takes it to zero or below is sampled. Its user stack,
 * walked at the return, is counted in the wait map of the generation under
 * kind SMOLDER_KIND_MEMORY_ALLOC (count: allocations, ns: their bytes), and
 * the allocation is held in the live map under its address until it is
 * freed. The agent scales as Go does (1 / (1 - exp(-size / rate)) by the
 * mean size under a stack) and, at each drain, reads the live map as what
 * the sampled allocations still hold (inuse_*), copying their stacks to the
 * new generation so they outlive the old one.
 */
#ifndef SMOLDER_BPF_MEMORY_H
#define SMOLDER_BPF_MEMORY_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "sample.h"

#define SMOLDER_MEM_THREAD_ENTRIES 16384
#define SMOLDER_MEM_LIVE_ENTRIES 65536
#define SMOLDER_MEM_TARGET_ENTRIES 1024
#define SMOLDER_MEM_FORK_ENTRIES 1024
/* Draws of -ln(u) * rate, u uniform in (0, 1), that the agent fills. */
#define SMOLDER_MEM_DRAWS 1024

/* What a probe's function does with its arguments (the attach cookie). */
enum smolder_mem_call {
	SMOLDER_MEM_MALLOC = 1,     /* (size): malloc, valloc, pvalloc, operator new, mallocx */
	SMOLDER_MEM_CALLOC,         /* (n, size) */
	SMOLDER_MEM_REALLOC,        /* (ptr, size): realloc, rallocx */
	SMOLDER_MEM_MEMALIGN,       /* (alignment, size): memalign, aligned_alloc */
	SMOLDER_MEM_POSIX_MEMALIGN, /* (&ptr, alignment, size), 0 on success */
	SMOLDER_MEM_FREE,           /* (ptr): free, operator delete, dallocx, sdallocx */
	SMOLDER_MEM_CALL_COUNT,
};

/* A thread of a memory target (mem_threads, keyed by thread id). */
struct smolder_mem_thread {
	__s64 bytes_left; /* until the next sample */
	__u64 entry_sp;   /* sp at the entry of the call in flight; 0: none */
	__u64 size;       /* its size */
	__u64 arg;        /* realloc's old pointer, posix_memalign's &ptr */
	__u32 call;       /* enum smolder_mem_call */
	__u32 sampled;    /* the call in flight is drawn */
	/* Its process: the agent deletes a target's records when it attaches
	 * again, since a call in flight when its probes were taken away never
	 * saw its return. */
	__u32 tgid;
	__u32 pad;
};

/* A sampled allocation not freed yet (mem_live). */
struct smolder_mem_live_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct smolder_mem_live {
	struct smolder_count_key key; /* kind SMOLDER_KIND_MEMORY_ALLOC */
	__u64 size;
};

/* A process a memory target forked (mem_forks, keyed by its tgid): the
 * agent learns of it at once, and makes it a target of its own. */
struct smolder_mem_fork {
	__u32 parent; /* tgid */
	__u32 pad;
	__u64 start_ticks;
};

#endif
