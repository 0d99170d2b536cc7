/* Allocations of memory targets, from uprobes on their allocator (see
 * memory.h). Included by sample.bpf.c: the sampled allocations are counted
 * in its wait maps, walked with its walkers into its stack maps, and their
 * books are in its stats array.
 *
 * Every call of a target's allocator traps whatever is done here (most of
 * a hit's cost is the trap), so what runs on every call is small: a hit
 * count, a lookup of the thread's record and the countdown. Only a drawn
 * allocation walks its stack, at its return, so that the stack and the
 * live entry that holds it go to one generation.
 */
#ifndef SMOLDER_MEMORY_BPF_H
#define SMOLDER_MEMORY_BPF_H

#include "memory.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SMOLDER_MEM_THREAD_ENTRIES);
	__type(key, __u32); /* thread id */
	__type(value, struct smolder_mem_thread);
} mem_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MEM_LIVE_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct smolder_mem_live_key);
	__type(value, struct smolder_mem_live);
} mem_live SEC(".maps");

/* -ln(u) * --memory-sample-bytes for u evenly spread over (0, 1): BPF has
 * no floating point, so the agent draws the exponential's quantiles. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SMOLDER_MEM_DRAWS);
	__type(key, __u32);
	__type(value, __u64);
} mem_draws SEC(".maps");

/* Probe hits by target process, for the agent's ceiling: entries the agent
 * adds when it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MEM_TARGET_ENTRIES);
	__type(key, __u32); /* tgid */
	__type(value, __u64);
} mem_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MEM_FORK_ENTRIES);
	__type(key, __u32); /* the child's tgid */
	__type(value, struct smolder_mem_fork);
} mem_forks SEC(".maps");

/* Bytes until the next sample: a fresh exponential draw. */
static __always_inline __s64 mem_draw(void)
{
	__u32 i = bpf_get_prandom_u32() % SMOLDER_MEM_DRAWS;
	__u64 *d = bpf_map_lookup_elem(&mem_draws, &i);

	return d ? (__s64)*d : 1;
}

static __always_inline void mem_hit(__u32 tgid)
{
	__u64 *hits = bpf_map_lookup_elem(&mem_hits, &tgid);

	if (hits)
		__sync_fetch_and_add(hits, 1);
}

/* The bytes a call asks for, from its arguments. */
static __always_inline __u64 mem_call_size(struct pt_regs *ctx, __u32 call)
{
	__u64 n, size;

	switch (call) {
	case SMOLDER_MEM_CALLOC:
		n = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM2(ctx);
		/* No 128-bit product in BPF: a product that may not fit in
		 * 64 bits is taken as the overflow calloc refuses, but for
		 * one element of any size. */
		if (n == 1 || size == 1)
			return n * size;
		if (n >> 32 || size >> 32)
			return 0;
		return n * size;
	case SMOLDER_MEM_REALLOC:
	case SMOLDER_MEM_MEMALIGN:
		return PT_REGS_PARM2(ctx);
	case SMOLDER_MEM_POSIX_MEMALIGN:
		return PT_REGS_PARM3(ctx);
	default:
		return PT_REGS_PARM1(ctx);
	}
}

/* A sampled allocation freed: it leaves what is held. */
static __always_inline void mem_forget(__u32 gen, __u32 tgid, __u64 addr)
{
	struct smolder_mem_live_key k = { .tgid = tgid, .addr = addr };

	if (addr && bpf_map_delete_elem(&mem_live, &k) == 0)
		stat_add(gen, SMOLDER_STAT_MEMORY_FREED);
}

static __always_inline struct smolder_mem_thread *mem_thread(__u32 gen, __u32 tid, __u32 tgid)
{
	struct smolder_mem_thread *t = bpf_map_lookup_elem(&mem_threads, &tid), fresh = {};

	if (t)
		return t;
	fresh.bytes_left = mem_draw();
	fresh.tgid = tgid;
	bpf_map_update_elem(&mem_threads, &tid, &fresh, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&mem_threads, &tid);
	if (!t)
		stat_add(gen, SMOLDER_STAT_MEMORY_NO_THREAD);
	return t;
}

/* The entry of every probed function: frees leave the live map; an
 * outermost allocation is recorded and drawn. A call made from inside one
 * in flight (realloc's malloc, a tail call to it) has its entry's stack
 * pointer at or below the outer one's: not counted again. */
static __always_inline int mem_entry(struct pt_regs *ctx, __u32 call)
{
	__u64 id = bpf_get_current_pid_tgid(), sp = PT_REGS_SP(ctx);
	__u32 tid = (__u32)id, tgid = id >> 32, gen = generation & 1;
	struct smolder_mem_thread *t;
	__u64 size;

	mem_hit(tgid);
	if (call == SMOLDER_MEM_FREE) {
		mem_forget(gen, tgid, PT_REGS_PARM1(ctx));
		return 0;
	}
	t = mem_thread(gen, tid, tgid);
	if (!t)
		return 0;
	if (t->entry_sp && sp <= t->entry_sp) {
		stat_add(gen, SMOLDER_STAT_MEMORY_NESTED);
		return 0;
	}
	stat_add(gen, SMOLDER_STAT_MEMORY_CALLS);
	size = mem_call_size(ctx, call);
	t->entry_sp = sp;
	t->call = call;
	t->size = size;
	t->arg = call == SMOLDER_MEM_REALLOC || call == SMOLDER_MEM_POSIX_MEMALIGN
			 ? PT_REGS_PARM1(ctx) : 0;
	t->sampled = 0;
	if (size > (1ULL << 62))
		size = 1ULL << 62;
	t->bytes_left -= (__s64)size;
	if (size && t->bytes_left <= 0) {
		t->sampled = 1;
		t->bytes_left = mem_draw();
	}
	return 0;
}

/* Told which call it is by the attach cookie (Linux 5.15). */
SEC("uprobe")
int smolder_mem_in(struct pt_regs *ctx)
{
	return mem_entry(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/* Without cookies: a program for each kind of call, told by its name. */
#define MEM_ENTRY_PROGRAM(name, call)                                         \
	SEC("uprobe")                                                         \
	int name(struct pt_regs *ctx)                                         \
	{                                                                     \
		return mem_entry(ctx, call);                                  \
	}

MEM_ENTRY_PROGRAM(smolder_mi_malloc, SMOLDER_MEM_MALLOC)
MEM_ENTRY_PROGRAM(smolder_mi_calloc, SMOLDER_MEM_CALLOC)
MEM_ENTRY_PROGRAM(smolder_mi_realloc, SMOLDER_MEM_REALLOC)
MEM_ENTRY_PROGRAM(smolder_mi_memalign, SMOLDER_MEM_MEMALIGN)
MEM_ENTRY_PROGRAM(smolder_mi_posix_ma, SMOLDER_MEM_POSIX_MEMALIGN)
MEM_ENTRY_PROGRAM(smolder_mi_free, SMOLDER_MEM_FREE)

/* The user registers at the return into st->saved: loads of the context
 * at constant offsets, hence unrolled. */
static __always_inline void regs_from_uprobe(struct walk_state *st, const struct pt_regs *ctx)
{
	const __u64 *from = (const __u64 *)ctx;
	__u64 *to = (__u64 *)&st->saved;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(st->saved) / sizeof(__u64)); i++)
		to[i] = from[i];
}

/* A drawn allocation: its stack, walked from its caller at the return,
 * counted under kind MEMORY_ALLOC, and the allocation held as live. */
static __always_inline enum smolder_stat mem_record(struct pt_regs *ctx, __u32 gen, __u32 tgid,
						    __u64 addr, __u64 size, enum sample_walk walk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct smolder_count_key key = {
		.tgid = tgid,
		.start_ticks = task_start_ticks(task),
		.exec_id = task_exec_id(task),
		.kind = SMOLDER_KIND_MEMORY_ALLOC,
	};
	struct smolder_mem_live_key lk = { .tgid = tgid, .addr = addr };
	__u32 zero = 0, *held = bpf_map_lookup_elem(&walk_held, &zero);
	struct walk_state *st = walk_scratch_get();
	struct smolder_mem_live live;
	enum smolder_stat fate;

	/* Held: this walk stopped another one midway (a preemption). */
	if (!st || !held || *held)
		return SMOLDER_STAT_MEMORY_LOST_STACK_READ;
	*held = 1;
	if (walk == WALK_CFI)
		regs_from_uprobe(st, ctx);
	fate = store_user_walk(st, gen, &key, PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx),
			       walk, WALK_FROM_RETURN);
	*held = 0;
	if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
		return SMOLDER_STAT_MEMORY_LOST_STACK_COLLISION;
	if (fate != SMOLDER_STAT_COUNTED)
		return SMOLDER_STAT_MEMORY_LOST_STACK_READ;
	if (!wait_add(gen, &key, size, 1))
		return SMOLDER_STAT_MEMORY_LOST_WAIT_MAP_FULL;
	live.key = key;
	live.size = size;
	if (bpf_map_update_elem(&mem_live, &lk, &live, BPF_ANY))
		stat_add(gen, SMOLDER_STAT_MEMORY_LIVE_FULL);
	return SMOLDER_STAT_MEMORY_STORED;
}

/* The return of a probed allocation function: only the outermost call's
 * (its stack pointer is back where the entry left it, plus the return
 * address popped). Chained return probes (a tail call from one probed
 * function to another) both come here at one return: the first acts. */
static __always_inline int mem_return(struct pt_regs *ctx, enum sample_walk walk)
{
	__u64 id = bpf_get_current_pid_tgid(), addr = PT_REGS_RC(ctx);
	__u32 tid = (__u32)id, tgid = id >> 32, gen = generation & 1;
	struct smolder_mem_thread *t = bpf_map_lookup_elem(&mem_threads, &tid);

	if (!t || !t->entry_sp || PT_REGS_SP(ctx) != t->entry_sp + 8)
		return 0;
	t->entry_sp = 0;
	if (t->call == SMOLDER_MEM_POSIX_MEMALIGN) {
		if ((int)addr != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)t->arg))
			addr = 0;
	}
	/* realloc's old block is gone, moved or grown in place, unless the
	 * call failed (NULL for a size other than 0). */
	if (t->call == SMOLDER_MEM_REALLOC && (addr || !t->size))
		mem_forget(gen, tgid, t->arg);
	if (!t->sampled)
		return 0;
	stat_add(gen, SMOLDER_STAT_MEMORY_SAMPLED);
	stat_add(gen, addr ? mem_record(ctx, gen, tgid, addr, t->size, walk)
			   : SMOLDER_STAT_MEMORY_FAILED);
	return 0;
}

SEC("uretprobe")
int smolder_mem_ret(struct pt_regs *ctx)
{
	return mem_return(ctx, WALK_CFI);
}

SEC("uretprobe")
int smolder_mem_rfp(struct pt_regs *ctx)
{
	return mem_return(ctx, WALK_FP);
}

/* A fork of a memory target (not a thread's): its child is a target too
 * until it execs, and calls the allocator at once (a prefork server's
 * worker), before the agent's scan of /proc would find it. A raw
 * tracepoint, as old kernels have it. */
SEC("raw_tp/sched_process_fork")
int smolder_mem_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	struct smolder_mem_fork f = { .parent = ptgid };

	if (ptgid == ctgid || !bpf_map_lookup_elem(&mem_hits, &ptgid))
		return 0;
	f.start_ticks = task_start_ticks(child);
	bpf_map_update_elem(&mem_forks, &ctgid, &f, BPF_ANY);
	return 0;
}

#endif
