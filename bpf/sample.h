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
	__u32 pad;
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
	SMOLDER_STAT_COUNT,
};

#endif
