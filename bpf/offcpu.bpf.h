/* Time off the CPU and lock contention, from sched_switch (see offcpu.h).
 * Included by sample.bpf.c: it counts into the same generations, walks
 * stacks with the same readers into the same stack maps, and its books are
 * in the same stats array.
 *
 * Every switch pays for a few loads, one draw and one lookup of the thread
 * coming in; only a drawn switch-out walks stacks. The task switched out
 * is the current one: its user registers are those it saved on entering
 * the kernel, and bpf_get_stack gives its kernel stack.
 */
#ifndef SMOLDER_OFFCPU_BPF_H
#define SMOLDER_OFFCPU_BPF_H

#include "offcpu.h"

/* Set by the agent before load. */
const volatile __u32 offcpu_types = 0;         /* SMOLDER_OFFCPU_TYPE_* */
const volatile __u64 offcpu_threshold = 0;     /* see SMOLDER_OFFCPU_ALWAYS */
const volatile __u64 offcpu_min_block_ns = 0;  /* 0: every block counts */
const volatile __u32 offcpu_regs_from_kernel_stack = 0; /* no bpf_task_pt_regs */


/* When each generation began (bpf_ktime_get_ns), by generation: the agent
 * writes the new one's before it flips to it, so a program that reads the
 * generation and then its start sees the pair. */
volatile __u64 generation_start_ns[SMOLDER_GENERATIONS];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_PENDING_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* thread id */
	__type(value, struct smolder_pending);
} pending SEC(".maps");

/* Keyed and allocated as the count maps are (sample.bpf.c). */
#define WAIT_MAP(name) KEYED_MAP(name, SMOLDER_WAIT_MAP_ENTRIES, struct smolder_wait)

WAIT_MAP(waits_0);
WAIT_MAP(waits_1);

#define TASK_RUNNING 0x0
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_DEAD 0x80     /* the last switch of a thread that exited */
#define TASK_NOLOAD 0x400 /* TASK_IDLE: a kernel thread idling, not I/O */

#define SYS_FUTEX 202 /* x86-64 */
#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD_BITS 0x7f /* without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */

struct task_struct___before_5_14 {
	long state;
} __attribute__((preserve_access_index));

/* The state of the current task (a trusted pointer: plain loads, no
 * helper call on a path every switch takes). */
static __always_inline unsigned int task_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return task->__state;
	return (unsigned int)((struct task_struct___before_5_14 *)task)->state;
}

/* Why a task left the CPU, from its state (read from the task rather than
 * the tracepoint's prev_state, Linux 5.18: a task that set a sleeping
 * state and found a signal pending is put back to running, and waits in
 * the run queue). */
static __always_inline __u32 offcpu_kind(unsigned int state)
{
	if (state == TASK_RUNNING)
		return SMOLDER_KIND_OFFCPU_RUNQUEUE;
	if ((state & TASK_UNINTERRUPTIBLE) && !(state & TASK_NOLOAD))
		return SMOLDER_KIND_OFFCPU_IO;
	return SMOLDER_KIND_OFFCPU_SLEEP;
}

/* A task blocked in futex() to acquire a lock: glibc's mutex slow path
 * waits with FUTEX_WAIT, PI mutexes lock with FUTEX_LOCK_PI(2). A
 * FUTEX_WAIT_BITSET wait may be a lock's (glibc's rwlocks, Rust's std
 * locks) or not (a condition variable's, a semaphore's): the agent decides
 * by the stack's functions. Any other wait is no lock's. */
static __always_inline __u32 lock_wait_flags(struct task_struct *task)
{
	struct pt_regs *regs = offcpu_regs_from_kernel_stack
				       ? regs_on_kernel_stack(task)
				       : (struct pt_regs *)bpf_task_pt_regs(task);
	unsigned long cmd;

	if (!regs || BPF_CORE_READ(regs, orig_ax) != SYS_FUTEX)
		return 0;
	cmd = BPF_CORE_READ(regs, si) & FUTEX_CMD_BITS;
	if (cmd == FUTEX_WAIT || cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2)
		return SMOLDER_PENDING_MUTEX;
	return cmd == FUTEX_WAIT_BITSET ? SMOLDER_PENDING_MUTEX_MAYBE : 0;
}

/* Adds ns (and count blocks) to key's entry of the generation's wait map;
 * false when the map has no room for a new key. */
static __always_inline bool wait_add(__u32 gen, const struct smolder_count_key *key, __u64 ns,
				     __u64 count)
{
	void *waits = gen ? (void *)&waits_1 : (void *)&waits_0;
	struct smolder_wait *v = bpf_map_lookup_elem(waits, key);
	struct smolder_wait fresh = { .count = count, .ns = ns };
	long err;

	if (!v) {
		err = bpf_map_update_elem(waits, key, &fresh, BPF_NOEXIST);
		if (!err)
			return true;
		if (err == -EEXIST) /* another CPU added it just now */
			v = bpf_map_lookup_elem(waits, key);
	}
	if (!v)
		return false;
	__sync_fetch_and_add(&v->count, count);
	__sync_fetch_and_add(&v->ns, ns);
	return true;
}

/* A piece of a pending block, counted as what it is counted as. */
static __always_inline void pending_count(__u32 gen, struct smolder_pending *p, __u64 ns,
					  __u64 count)
{
	bool stored = true;

	if (p->flags & SMOLDER_PENDING_OFFCPU)
		stored = wait_add(gen, &p->key, ns, count);
	if (p->flags & (SMOLDER_PENDING_MUTEX | SMOLDER_PENDING_MUTEX_MAYBE)) {
		struct smolder_count_key k = p->key;

		k.kind = (p->flags & SMOLDER_PENDING_MUTEX) ? SMOLDER_KIND_MUTEX
							    : SMOLDER_KIND_MUTEX_MAYBE;
		stored = wait_add(gen, &k, ns, count) && stored;
	}
	if (!stored)
		stat_add(gen, SMOLDER_STAT_OFFCPU_LOST_WAIT_MAP_FULL);
}

/* A stack of one generation's map into the other's, under the same key. */
static __always_inline void stack_move(void *from, void *to, __u64 key)
{
	void *v;

	if (!key)
		return;
	v = bpf_map_lookup_elem(from, &key);
	if (v)
		bpf_map_update_elem(to, &key, v, BPF_NOEXIST);
}

static __always_inline void stacks_move(__u32 from, const struct smolder_count_key *k)
{
	stack_move(from ? (void *)&user_stacks_1 : (void *)&user_stacks_0,
		   from ? (void *)&user_stacks_0 : (void *)&user_stacks_1, k->user_stack);
	stack_move(from ? (void *)&kernel_stacks_1 : (void *)&kernel_stacks_0,
		   from ? (void *)&kernel_stacks_0 : (void *)&kernel_stacks_1, k->kernel_stack);
	stack_move(from ? (void *)&py_stacks_1 : (void *)&py_stacks_0,
		   from ? (void *)&py_stacks_0 : (void *)&py_stacks_1, k->py_stack);
}

/* The thread coming in: the block it ends, if one of its switch-outs was
 * drawn. The entry is deleted before it is counted: if the agent took it
 * first (a drain's cut), the delete fails and the agent counts it. An
 * entry the agent put back while the thread ran (it came back during the
 * cut) ended then: the thread's run time says so. */
static __always_inline void switch_in(struct task_struct *next, __u32 tid)
{
	struct smolder_pending *p = bpf_map_lookup_elem(&pending, &tid), e;
	__u64 now;
	__u32 gen;

	if (!p)
		return;
	e = *p;
	if (bpf_map_delete_elem(&pending, &tid))
		return;
	gen = generation & 1;
	if (BPF_CORE_READ(next, se.sum_exec_runtime) != e.runtime_ns) {
		stat_add(gen, SMOLDER_STAT_OFFCPU_STALE);
		return;
	}
	now = bpf_ktime_get_ns();
	stat_add(gen, SMOLDER_STAT_OFFCPU_ENDED);
	if (offcpu_min_block_ns && now - e.start_ns < offcpu_min_block_ns) {
		stat_add(gen, SMOLDER_STAT_OFFCPU_SHORT);
		return;
	}
	if (e.gen != gen) {
		/* Left before the flip and not cut by the agent yet: the
		 * time up to the flip is the old generation's. */
		__u64 cut = generation_start_ns[gen & 1];

		if (cut > e.from_ns && cut < now) {
			pending_count(e.gen & 1, &e, cut - e.from_ns, 0);
			e.from_ns = cut;
		}
		stacks_move(e.gen & 1, &e.key);
	}
	if (now > e.from_ns)
		pending_count(gen, &e, now - e.from_ns, 1);
}

/* The stacks of a task switched out: its kernel stack here, its user stack
 * from the registers it saved on entering the kernel. */
static __always_inline enum smolder_stat read_wait_stacks(void *ctx, __u32 gen,
							  struct task_struct *task, bool kthread,
							  struct smolder_count_key *key,
							  enum sample_walk walk)
{
	struct walk_state *st = walk_scratch_unheld();
	enum smolder_stat fate;

	if (!kthread && st &&
	    read_saved_regs(st, task, offcpu_regs_from_kernel_stack ? REGS_KERNEL_STACK
								     : REGS_HELPER)) {
		fate = store_user_walk(st, gen, key, st->saved.ip, st->saved.sp, st->saved.bp,
				       walk, WALK_FROM_STOP);
		if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
			return fate;
		if (walk == WALK_CFI)
			read_python(gen, task, key);
	}
	fate = read_kernel_stack(ctx, gen, &key->kernel_stack);
	if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
		return fate;
	if (key->user_stack == 0 && key->kernel_stack == 0)
		return SMOLDER_STAT_LOST_STACK_READ;
	return SMOLDER_STAT_COUNTED;
}

static __always_inline enum smolder_stat offcpu_stat(enum smolder_stat fate)
{
	if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
		return SMOLDER_STAT_OFFCPU_LOST_STACK_COLLISION;
	return SMOLDER_STAT_OFFCPU_LOST_STACK_READ;
}

/* Tells the agent about the process (a thread that only sleeps is never
 * on a CPU sample), and, as a CPU sample does, copies the stack of a walk
 * that lacked tables: the agent walks the copy, which makes it read the
 * files the walk needs, so the next switch-outs are walked whole. The
 * copy's samples stay as BPF walked them (the agent moves only CPU
 * samples to their copy's walk). */
static __always_inline void announce_waiter(__u32 gen, struct task_struct *task,
					    const struct smolder_count_key *key,
					    enum smolder_stat fate, enum sample_walk walk)
{
	struct walk_state *st = walk_scratch_get();
	bool outside;

	outside = announce(task, key->tgid, key->start_ticks,
			   st && key->user_stack ? st->saved.ip : 0);
	if (walk == WALK_CFI && st && fate == SMOLDER_STAT_COUNTED && key->user_stack &&
	    (st->no_tables || outside))
		send_stack_copy(gen, key, st, task, COPY_OFFCPU);
}

/* The task going out: drawn with the configured probability among those
 * we profile, its stacks and the time it left are kept until it comes
 * back. */
static __always_inline void switch_out(void *ctx, struct task_struct *task, bool preempt,
				       enum sample_walk walk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, gen = generation & 1;
	struct smolder_pending p = {};
	enum smolder_stat fate;
	__u32 lock_wait = 0;
	unsigned int state;
	bool kthread;

	if (tid == 0 || (agent_tgid && (tgid == agent_tgid || task->real_parent->tgid == agent_tgid)) ||
	    (filter_by_pid && !bpf_map_lookup_elem(&pid_filter, &tgid)))
		return;
	state = preempt ? TASK_RUNNING : task_state(task);
	/* A thread's last switch, after its exit: it never comes back. */
	if (state & TASK_DEAD)
		return;
	stat_add(gen, SMOLDER_STAT_OFFCPU_SWITCHES);
	kthread = task->flags & PF_KTHREAD;
	/* Blocked, not on its way out of futex() (preempted, or woken by a
	 * signal before it slept). */
	if ((offcpu_types & SMOLDER_OFFCPU_TYPE_MUTEX) && !kthread && state != TASK_RUNNING)
		lock_wait = lock_wait_flags(task);
	if (lock_wait)
		stat_add(gen, SMOLDER_STAT_MUTEX_WAITS);
	if (offcpu_types & SMOLDER_OFFCPU_TYPE_OFFCPU)
		p.flags |= SMOLDER_PENDING_OFFCPU;
	p.flags |= lock_wait;
	if (!p.flags)
		return;
	if (offcpu_threshold < SMOLDER_OFFCPU_ALWAYS && bpf_get_prandom_u32() >= offcpu_threshold)
		return;
	stat_add(gen, SMOLDER_STAT_OFFCPU_SAMPLED);
	if (lock_wait)
		stat_add(gen, SMOLDER_STAT_MUTEX_SAMPLED);

	p.key.tgid = tgid;
	p.key.flags = kthread ? SMOLDER_KEY_KERNEL_THREAD : 0;
	p.key.start_ticks = task_start_ticks(task);
	p.key.kind = offcpu_kind(state);
	if (!kthread)
		p.key.exec_id = task_exec_id(task);
	fate = read_wait_stacks(ctx, gen, task, kthread, &p.key, walk);
	if (!kthread)
		announce_waiter(gen, task, &p.key, fate, walk);
	if (fate != SMOLDER_STAT_COUNTED) {
		stat_add(gen, offcpu_stat(fate));
		return;
	}
	p.start_ns = bpf_ktime_get_ns();
	p.from_ns = p.start_ns;
	/* Final: the scheduler accounted this run before the tracepoint. */
	p.runtime_ns = task->se.sum_exec_runtime;
	p.gen = gen;
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY)) {
		stat_add(gen, SMOLDER_STAT_OFFCPU_LOST_PENDING_FULL);
		return;
	}
	stat_add(gen, SMOLDER_STAT_OFFCPU_STORED);
}

/* sched_switch(bool preempt, struct task_struct *prev, struct task_struct
 * *next, ...): prev is the current task. */
static __always_inline int on_switch(void *ctx, __u64 preempt, struct task_struct *next,
				     __u32 next_tid, enum sample_walk walk)
{
	if (next_tid)
		switch_in(next, next_tid);
	switch_out(ctx, bpf_get_current_task_btf(), preempt & 1, walk);
	return 0;
}

/* One per walk and tracepoint kind; the agent loads the one it needs, and
 * none when neither offcpu nor mutex profiles are asked for. tp_btf's next
 * is a trusted pointer, read with a plain load. */
SEC("tp_btf/sched_switch")
int BPF_PROG(smolder_off_cfi, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, next, next->pid, WALK_CFI);
}

SEC("raw_tp/sched_switch")
int smolder_off_cfi_r(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *next = (struct task_struct *)ctx->args[2];

	return on_switch(ctx, ctx->args[0], next, BPF_CORE_READ(next, pid), WALK_CFI);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(smolder_off_fp, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, next, next->pid, WALK_FP);
}

SEC("raw_tp/sched_switch")
int smolder_off_fp_r(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *next = (struct task_struct *)ctx->args[2];

	return on_switch(ctx, ctx->args[0], next, BPF_CORE_READ(next, pid), WALK_FP);
}

#endif
