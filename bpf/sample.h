/* Types shared by bpf/sample.bpf.c (the sampling program) and agent/.
 *
 * The perf_event program counts each sample under a smolder_count_key in the
 * count map of the current generation, and its fate in the stats array. The
 * agent flips the generation, waits out every program still running (an
 * update of a map-in-map makes the kernel wait for an RCU grace period), then
 * drains the old generation's maps at leisure: no sample is lost to the drain
 * and none is counted twice.
 */
#ifndef SMOLDER_BPF_SAMPLE_H
#define SMOLDER_BPF_SAMPLE_H

#ifndef __VMLINUX_H__ /* user space; BPF gets these types from vmlinux.h */
#include <linux/types.h>
#endif

#define SMOLDER_MAX_STACK_DEPTH 127 /* kernel.perf_event_max_stack's default */
#define SMOLDER_GENERATIONS 2

/* Defaults; the agent can resize the maps before load (tests shrink them). */
#define SMOLDER_COUNT_MAP_ENTRIES 16384
#define SMOLDER_STACK_MAP_ENTRIES 16384
#define SMOLDER_PID_FILTER_ENTRIES 1024

/* USER_HZ: /proc/PID/stat reports start times in these ticks. */
#define SMOLDER_USER_HZ 100ULL
#define SMOLDER_NSEC_PER_TICK (1000000000ULL / SMOLDER_USER_HZ)

/* x86_64: kernel addresses are the upper half of the address space. */
#define SMOLDER_KERNEL_START 0xffff800000000000ULL

#define SMOLDER_KEY_KERNEL_THREAD 0x1u

/* What a count key counts (bpf/offcpu.h): CPU samples, in the count maps;
 * time off the CPU, by why the task left it, and lock contentions, in the
 * wait maps. */
enum smolder_kind {
	SMOLDER_KIND_CPU = 0,
	SMOLDER_KIND_OFFCPU_SLEEP,    /* interruptible sleep (S) */
	SMOLDER_KIND_OFFCPU_IO,       /* uninterruptible (D): usually I/O */
	SMOLDER_KIND_OFFCPU_RUNQUEUE, /* preempted while runnable */
	SMOLDER_KIND_MUTEX,           /* a futex wait to acquire a lock */
	/* A FUTEX_WAIT_BITSET wait: a condition variable's, a semaphore's, or
	 * a lock's (glibc's rwlocks, Rust's std locks); the agent tells them
	 * apart by the functions on the stack. */
	SMOLDER_KIND_MUTEX_MAYBE,
	/* Allocations sampled (bpf/memory.h): count, and bytes in ns. */
	SMOLDER_KIND_MEMORY_ALLOC,
	/* What sampled allocations still held at a drain: made by the agent
	 * from the live map, never by BPF. */
	SMOLDER_KIND_MEMORY_INUSE,
	SMOLDER_KIND_COUNT,
};

struct smolder_count_key {
	__u32 tgid;
	__u32 flags;       /* SMOLDER_KEY_* */
	__u64 start_ticks; /* the process's start, in USER_HZ ticks since boot */
	__u64 user_stack;  /* key of the user_stacks map; 0: none (kernel thread) */
	__u64 kernel_stack; /* key of the kernel_stacks map; 0: none (user mode) */
	/* The image the sample was taken in: the process's exec count
	 * (self_exec_id, low bits), so that samples from before and after an
	 * exec in one interval are told apart and each named through its own
	 * image's mappings. 0 for kernel threads. */
	__u32 exec_id;
	__u32 kind; /* enum smolder_kind */
	/* Key of the py_stacks map: the sampled thread's Python frames
	 * (bpf/python.h); 0: none. */
	__u64 py_stack;
};

/* A kernel stack as bpf_get_stack gave it, in the kernel_stacks map of its
 * generation under a hash of its frames (FNV-1a over the addresses, as
 * user stacks are hashed; never 0). */
struct smolder_kernel_stack {
	__u32 len;
	__u32 pad;
	__u64 pcs[SMOLDER_MAX_STACK_DEPTH]; /* leaf first */
};

/* A user stack as the BPF walk left it (bpf/unwind.h), in the user_stacks
 * map of its generation under a hash of its frames and end. */
struct smolder_user_stack {
	__u32 len;
	__u32 end; /* enum smolder_unwind_end */
	__u64 pcs[SMOLDER_MAX_STACK_DEPTH]; /* leaf first */
};

/* What became of each sample, counted per CPU and per generation in the
 * stats array at index gen * SMOLDER_STAT_COUNT + stat. In every interval,
 * TAKEN == COUNTED + LOST_STACK_COLLISION + LOST_COUNT_MAP_FULL +
 * LOST_STACK_READ; the agent then splits COUNTED into profiled and
 * lost-unknown-process. */
enum smolder_stat {
	SMOLDER_STAT_TAKEN = 0,            /* samples of processes we profile */
	SMOLDER_STAT_COUNTED,              /* stored in the count map */
	SMOLDER_STAT_LOST_STACK_COLLISION, /* a stack map had no room for the stack */
	SMOLDER_STAT_LOST_COUNT_MAP_FULL,  /* count map had no room for a new key */
	SMOLDER_STAT_LOST_STACK_READ,      /* the stack could not be read */
	SMOLDER_STAT_FILTERED,             /* idle task or not a --pid target */
	/* Not fates: of the counted samples, those whose stack was also
	 * copied for the agent to walk (stack_copy.h), and those that would
	 * have been but for the rate limit or a full ring buffer. */
	SMOLDER_STAT_COPIES_SENT,
	SMOLDER_STAT_COPIES_DROPPED,
	/* Not fates either: of the counted samples of a Python process the
	 * agent described, those with Python frames, those of a thread
	 * with none (not in the interpreter's thread list, or no frame),
	 * and those whose Python frames had no room in the map (counted
	 * with their native stack alone). */
	SMOLDER_STAT_PY_FRAMES,
	SMOLDER_STAT_PY_NO_FRAMES,
	SMOLDER_STAT_PY_DROPPED,
	/* Off the CPU (bpf/offcpu.h). Switch-outs of tasks we profile, and
	 * of those the ones drawn: OFFCPU_SAMPLED == OFFCPU_STORED +
	 * OFFCPU_LOST_PENDING_FULL + OFFCPU_LOST_STACK_COLLISION +
	 * OFFCPU_LOST_STACK_READ. */
	SMOLDER_STAT_OFFCPU_SWITCHES,
	SMOLDER_STAT_OFFCPU_SAMPLED,
	SMOLDER_STAT_OFFCPU_STORED,             /* waiting in the pending map */
	SMOLDER_STAT_OFFCPU_LOST_PENDING_FULL,  /* the pending map had no room */
	SMOLDER_STAT_OFFCPU_LOST_STACK_COLLISION,
	SMOLDER_STAT_OFFCPU_LOST_STACK_READ,
	/* At switch-in: blocks that ended, of them those shorter than
	 * --off-cpu-min-block (not counted), and pieces of time the wait
	 * maps had no room for. */
	SMOLDER_STAT_OFFCPU_ENDED,
	SMOLDER_STAT_OFFCPU_SHORT,
	SMOLDER_STAT_OFFCPU_LOST_WAIT_MAP_FULL,
	/* Blocks the agent put back at a cut while their thread ran (it came
	 * back between the agent's taking and its putting back), found out
	 * by the thread's run time at its next switch-in, uncounted. */
	SMOLDER_STAT_OFFCPU_STALE,
	/* Of the switch-outs seen, those waiting in futex() to acquire a lock
	 * (FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_LOCK_PI2) or maybe one
	 * (FUTEX_WAIT_BITSET), and of them the ones drawn (stored or lost as
	 * above). */
	SMOLDER_STAT_MUTEX_WAITS,
	SMOLDER_STAT_MUTEX_SAMPLED,
	/* Allocations of memory targets (bpf/memory.h): the outermost calls
	 * seen, of them those drawn, and what became of those:
	 * MEMORY_SAMPLED == MEMORY_STORED + MEMORY_FAILED +
	 * MEMORY_LOST_STACK_COLLISION + MEMORY_LOST_STACK_READ +
	 * MEMORY_LOST_WAIT_MAP_FULL. MEMORY_STORED: counted, of them
	 * MEMORY_LIVE_FULL not tracked until freed (no room: inuse_* misses
	 * them). MEMORY_FAILED: the call returned no memory. */
	SMOLDER_STAT_MEMORY_CALLS,
	SMOLDER_STAT_MEMORY_NESTED,  /* calls inside a call in flight, not counted */
	SMOLDER_STAT_MEMORY_SAMPLED,
	SMOLDER_STAT_MEMORY_STORED,
	SMOLDER_STAT_MEMORY_FAILED,
	SMOLDER_STAT_MEMORY_LOST_STACK_COLLISION,
	SMOLDER_STAT_MEMORY_LOST_STACK_READ,
	SMOLDER_STAT_MEMORY_LOST_WAIT_MAP_FULL,
	SMOLDER_STAT_MEMORY_LIVE_FULL,
	SMOLDER_STAT_MEMORY_FREED,   /* sampled allocations freed (free, realloc) */
	SMOLDER_STAT_MEMORY_NO_THREAD, /* no room for a thread's record: not drawn */
	SMOLDER_STAT_COUNT,
};

#endif
