/* Types shared by bpf/offcpu.bpf.h (time off the CPU and lock contention,
 * from sched_switch) and agent/.
 *
 * At a switch-out drawn with probability 1/scale, the task's stacks go to
 * the stack maps of the current generation and a smolder_pending entry,
 * keyed by thread id, holds its count key and when it left. At its
 * switch-in the time off is added to the wait map of the generation: one
 * count key per stack and why (enum smolder_kind), whose value sums the
 * blocks that ended and their nanoseconds. The agent scales by the inverse
 * of the probability.
 *
 * A block that spans a drain is cut there. The agent, after flipping the
 * generation and waiting out running programs, takes each pending entry of
 * the old generation (lookup-and-delete: the entry is the agent's or the
 * program's, never both), counts its time up to the flip in the old
 * generation, copies its stacks to the new generation's maps and puts it
 * back as of the flip. A switch-in that finds an entry the agent has not
 * taken yet does the same cut itself. So a thread asleep for a minute shows
 * in every interval it slept through, and one that never wakes still does.
 */
#ifndef SMOLDER_BPF_OFFCPU_H
#define SMOLDER_BPF_OFFCPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "sample.h"

#define SMOLDER_PENDING_ENTRIES 16384
#define SMOLDER_WAIT_MAP_ENTRIES 16384

/* The probability of a draw, in 1/2^32: a switch-out is drawn when
 * bpf_get_prandom_u32() < threshold; 2^32 draws every one. */
#define SMOLDER_OFFCPU_ALWAYS (1ULL << 32)

/* What the agent asked for (offcpu_types). */
#define SMOLDER_OFFCPU_TYPE_OFFCPU 0x1u
#define SMOLDER_OFFCPU_TYPE_MUTEX 0x2u

/* What a pending block is counted as (smolder_pending.flags). */
#define SMOLDER_PENDING_OFFCPU 0x1u
#define SMOLDER_PENDING_MUTEX 0x2u       /* counted as SMOLDER_KIND_MUTEX */
#define SMOLDER_PENDING_MUTEX_MAYBE 0x4u /* ... as SMOLDER_KIND_MUTEX_MAYBE */

struct smolder_pending {
	/* Kind SMOLDER_KIND_OFFCPU_*: why it left; the stacks are in the
	 * stack maps of generation gen. */
	struct smolder_count_key key;
	__u64 start_ns; /* when it left the CPU (bpf_ktime_get_ns) */
	__u64 from_ns;  /* counted up to here already: start_ns, or the last cut */
	/* The thread's run time when it left (se.sum_exec_runtime): one that
	 * differs at its switch-in says it ran in between, unseen. */
	__u64 runtime_ns;
	__u32 gen;
	__u32 flags;    /* SMOLDER_PENDING_* */
};

/* The value of a wait map entry. */
struct smolder_wait {
	__u64 count; /* blocks (contentions) that ended under the key */
	__u64 ns;    /* and the time they were off, cut at drains */
};

#endif
