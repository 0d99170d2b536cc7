// SPDX-License-Identifier: GPL-2.0
/* The sampling program: runs on every CPU-clock tick of every CPU, captures
 * the user and kernel stacks of whatever was running, and counts the sample
 * under (process, start time, stacks) in the current generation's maps.
 *
 * Nothing here allocates beyond the preallocated maps; every way a sample can
 * be lost is counted in stats, so the agent can prove each interval adds up.
 * The shared types and the generation protocol are described in sample.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sample.h"
#include "events_maps.bpf.h"
#include "identity.bpf.h"
#include "unwind.bpf.h"
#include "stack_copy.h"

#define PF_KTHREAD 0x00200000
#define EEXIST 17

#include "python.bpf.h" /* after EEXIST */

/* Set by the agent before load: the verifier prunes what is off. */
const volatile __u32 filter_by_pid = 0;
const volatile __u32 include_idle = 0;
/* Stack copies each CPU may send per second; 0: none (stack_copy.h). */
const volatile __u32 copies_per_sec = 0;

/* The agent's process (0: none), left out with its children, its parser
 * workers, unless --profile-self: a worker is left out from its first
 * instruction, before the agent knows its pid. Written by the agent. */
volatile __u32 agent_tgid = 0;

/* The generation samples go to. The agent flips it, then waits out the
 * programs that may have read the old value before draining that one. */
volatile __u32 generation = 0;

/* The count and stack maps are allocated as they fill: preallocated, their
 * 40 MB were written whole at start (the kernel threads each element onto a
 * free list), a third of the agent's start-up CPU. A kernel before 6.1
 * refuses that in a perf_event program; the agent then clears the flag
 * (agent/sampler.c). */
#define KEYED_MAP(name, entries, value_type)                                 \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_HASH);                             \
		__uint(max_entries, entries);                                \
		__uint(map_flags, BPF_F_NO_PREALLOC);                        \
		__type(key, struct smolder_count_key);                      \
		__type(value, value_type);                                   \
	} name SEC(".maps")
#define COUNT_MAP(name) KEYED_MAP(name, SMOLDER_COUNT_MAP_ENTRIES, __u64)

/* Kernel stacks under a hash of their frames, like user stacks, rather
 * than in a stack trace map (bpf_get_stackid): that map is always
 * preallocated (33 MB for two generations, 15% of the agent's start-up),
 * and it drops a new stack whose bucket another one holds. */
#define KERNEL_STACK_MAP(name)                                               \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_HASH);                             \
		__uint(max_entries, SMOLDER_STACK_MAP_ENTRIES);              \
		__uint(map_flags, BPF_F_NO_PREALLOC);                        \
		__type(key, __u64);                                          \
		__type(value, struct smolder_kernel_stack);                 \
	} name SEC(".maps")

/* User stacks, walked here (unwind.bpf.h), under a hash of their frames
 * and of how the walk ended. Counting stays in the kernel, as it was with
 * bpf_get_stackid: a sample costs a lookup in the count map, and a new
 * stack one insert here, instead of a kilobyte copied to a ring buffer and
 * a wake-up of the agent for each one (BENCHMARKS.md, issue 6). */
#define USER_STACK_MAP(name)                                                 \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_HASH);                             \
		__uint(max_entries, SMOLDER_STACK_MAP_ENTRIES);              \
		__uint(map_flags, BPF_F_NO_PREALLOC);                        \
		__type(key, __u64);                                          \
		__type(value, struct smolder_user_stack);                   \
	} name SEC(".maps")

/* One of each per generation, so a drain owns its maps outright and can
 * clear the stack maps without touching stacks the next interval uses. */
COUNT_MAP(counts_0);
COUNT_MAP(counts_1);
KERNEL_STACK_MAP(kernel_stacks_0);
KERNEL_STACK_MAP(kernel_stacks_1);
USER_STACK_MAP(user_stacks_0);
USER_STACK_MAP(user_stacks_1);

/* Python frames (bpf/python.h), under a hash of their frames. */
#define PY_STACK_MAP(name)                                                   \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_HASH);                             \
		__uint(max_entries, SMOLDER_STACK_MAP_ENTRIES);              \
		__uint(map_flags, BPF_F_NO_PREALLOC);                        \
		__type(key, __u64);                                          \
		__type(value, struct smolder_py_stack);                     \
	} name SEC(".maps")

PY_STACK_MAP(py_stacks_0);
PY_STACK_MAP(py_stacks_1);

/* Where bpf_get_stack writes a kernel stack before it is hashed and
 * stored: one per CPU (perf_event programs do not nest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct smolder_kernel_stack);
} kernel_stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMOLDER_GENERATIONS * SMOLDER_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_PID_FILTER_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SMOLDER_STACK_COPY_RING_BYTES);
} stack_copies SEC(".maps");

/* Where a copy is made before it goes to the ring, sized by what was read:
 * one per CPU (the agent sets max_entries; perf_event programs do not
 * nest), an array since a per-CPU value cannot hold 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct smolder_stack_copy);
} copy_scratch SEC(".maps");

/* Each CPU's token buckets for copies: nanoseconds of credit, one copy
 * costing 1e9 / copies_per_sec, at most a second's worth saved up. One for
 * CPU samples, one for off-CPU switches (a quarter of the rate), so that
 * a host's sleepers do not take the copies its CPU samples need. */
struct copy_budget {
	__u64 last_ns;
	__u64 credit_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct copy_budget);
} copy_budget SEC(".maps");

enum copy_bucket { COPY_CPU, COPY_OFFCPU };

/* Never read here: the agent updates it after flipping the generation, and
 * the kernel makes an update of a map-in-map wait for an RCU grace period,
 * which outlasts every perf_event program that was running. */
struct barrier_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} barrier_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct barrier_inner);
} drain_barrier SEC(".maps") = {
	.values = { &barrier_inner },
};

/* Set while a memory walk holds this CPU's walk scratch. A uprobe program
 * runs with only migration disabled: a CPU-clock sample's program can
 * interrupt it, and on a preemptible kernel another task's can run in
 * between; either would overwrite the walk under way. They find the
 * scratch held and take no user stack (counted as unreadable) instead. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} walk_held SEC(".maps");

/* This CPU's walk scratch, unless a memory walk holds it. */
static __always_inline struct walk_state *walk_scratch_unheld(void)
{
	__u32 zero = 0, *held = bpf_map_lookup_elem(&walk_held, &zero);

	return held && !*held ? walk_scratch_get() : NULL;
}

static __always_inline void stat_add(__u32 gen, enum smolder_stat stat)
{
	__u32 idx = gen * SMOLDER_STAT_COUNT + stat;
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		/* Per CPU. A uprobe program (memory) interrupted by a CPU
		 * sample's between its load and its store loses that one
		 * count: rare enough not to pay an atomic on every sample. */
		*v += 1;
}

/* The kernel stack of a sample taken in the kernel, stored under its hash
 * in *key (0 when it is empty or unreadable). Returns COUNTED, or
 * LOST_STACK_COLLISION when the map has no room for a new stack. */
static __always_inline enum smolder_stat read_kernel_stack(void *ctx, __u32 gen, __u64 *key)
{
	void *stacks = gen ? (void *)&kernel_stacks_1 : (void *)&kernel_stacks_0;
	__u32 zero = 0;
	struct smolder_kernel_stack *ks = bpf_map_lookup_elem(&kernel_stack_scratch, &zero);
	__u64 h = FNV_OFFSET;
	long bytes, err;

	*key = 0;
	if (!ks)
		return SMOLDER_STAT_COUNTED;
	bytes = bpf_get_stack(ctx, ks->pcs, sizeof(ks->pcs), 0);
	if (bytes <= 0)
		return SMOLDER_STAT_COUNTED;
	ks->len = (__u32)(bytes / sizeof(__u64));
	for (__u32 i = 0; i < SMOLDER_MAX_STACK_DEPTH; i++) {
		if (i >= ks->len)
			break;
		h = (h ^ ks->pcs[i]) * FNV_PRIME;
	}
	if (h == 0)
		h = 1;
	err = bpf_map_update_elem(stacks, &h, ks, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return SMOLDER_STAT_LOST_STACK_COLLISION; /* the map is full */
	*key = h;
	return SMOLDER_STAT_COUNTED;
}

/* Adds one to key's count; returns 0 or the reason it could not. */
static __always_inline enum smolder_stat count_sample(__u32 gen,
						      struct smolder_count_key *key)
{
	void *counts = gen ? (void *)&counts_1 : (void *)&counts_0;
	__u64 one = 1, *v;
	long err;

	v = bpf_map_lookup_elem(counts, key);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return SMOLDER_STAT_COUNTED;
	}
	err = bpf_map_update_elem(counts, key, &one, BPF_NOEXIST);
	if (!err)
		return SMOLDER_STAT_COUNTED;
	if (err == -EEXIST) { /* another CPU added it just now */
		v = bpf_map_lookup_elem(counts, key);
		if (v) {
			__sync_fetch_and_add(v, 1);
			return SMOLDER_STAT_COUNTED;
		}
	}
	return SMOLDER_STAT_LOST_COUNT_MAP_FULL;
}

/* How a sampling program is built: each kernel gets the one its features
 * allow (agent/kernel_features.c), loaded under its own name. */
enum sample_walk { WALK_CFI, WALK_FP };           /* bpf_loop (5.17), or not */
enum sample_regs { REGS_HELPER, REGS_KERNEL_STACK }; /* bpf_task_pt_regs (5.15), or not */
/* Where a walk starts: where the task was stopped (its ip exact), or at a
 * return address (a probed function's return: the call is behind it). */
enum walk_from { WALK_FROM_STOP, WALK_FROM_RETURN };

#define USER_CS 0x33 /* __USER_CS: the pt_regs of a 64-bit task in user mode */
#define THREAD_SIZE 16384 /* x86-64's kernel stack; twice that with KASAN */

/* Before bpf_task_pt_regs: x86-64 saves a task's user registers at the top
 * of its kernel stack (no padding on 64-bit). The stack's size is not in
 * BTF, so both sizes are tried and each kept only if its cs is the user
 * code segment: registers read from the wrong place give no stack rather
 * than a wrong one. */
static __always_inline struct pt_regs *regs_on_kernel_stack(struct task_struct *task)
{
	char *stack = BPF_CORE_READ(task, stack);
	struct pt_regs *regs;

	if (!stack)
		return NULL;
	for (int order = 0; order < 2; order++) {
		regs = (struct pt_regs *)(stack + (THREAD_SIZE << order)) - 1;
		if ((BPF_CORE_READ(regs, cs) & 0xffff) == USER_CS)
			return regs;
	}
	return NULL;
}

/* The sampled user registers into st->saved, for the CFI walk: loads of
 * the context must be at constant offsets, hence unrolled. */
static __always_inline void regs_from_ctx(struct walk_state *st, struct bpf_perf_event_data *ctx)
{
	const __u64 *from = (const __u64 *)&ctx->regs;
	__u64 *to = (__u64 *)&st->saved;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(st->saved) / sizeof(__u64)); i++)
		to[i] = from[i];
}

/* The user registers task saved on entering the kernel, into st->saved. */
static __always_inline bool read_saved_regs(struct walk_state *st, struct task_struct *task,
					    enum sample_regs saved)
{
	struct pt_regs *regs = saved == REGS_HELPER ? (struct pt_regs *)bpf_task_pt_regs(task)
						    : regs_on_kernel_stack(task);

	return regs && !bpf_probe_read_kernel(&st->saved, sizeof(st->saved), regs);
}

#define INT3 0xcc

/* A task trapped on a breakpoint (a uprobe's int3: a memory target's
 * allocator) saved the address past it, inside the instruction the int3
 * replaced, which has not run: the walk starts at the breakpoint, whose CFI
 * row is that instruction's. An int3 trap saves no error code (orig_ax -1),
 * unlike a system call or a page fault. Once the kernel has handled the
 * uprobe it emulates the instruction (a push) and the task is past it, at
 * the same address when the push takes one byte (glibc's free, probed at
 * its push %rbp): then the top of the stack holds what was pushed. */
static __always_inline void at_breakpoint(struct pt_regs *regs)
{
	__u64 top = 0;
	__u8 byte = 0;

	if ((long)regs->orig_ax != -1 ||
	    bpf_probe_read_user(&byte, sizeof(byte), (const void *)(regs->ip - 1)) || byte != INT3)
		return;
	if (!bpf_probe_read_user(&top, sizeof(top), (const void *)regs->sp) && top == regs->bp)
		return; /* push %rbp emulated */
	regs->ip -= 1;
}

/* Walks the user stack from (ip, sp, bp) (and, for the CFI walk, the rest
 * of st->saved) and stores it under its hash in key->user_stack. */
static __always_inline enum smolder_stat store_user_walk(struct walk_state *st, __u32 gen,
							 struct smolder_count_key *key, __u64 ip,
							 __u64 sp, __u64 bp, enum sample_walk walk,
							 enum walk_from from)
{
	void *stacks = gen ? (void *)&user_stacks_1 : (void *)&user_stacks_0;
	long err;

	if (ip == 0 || ip >= SMOLDER_KERNEL_START)
		return SMOLDER_STAT_LOST_STACK_READ;
	walk_start(st, key->tgid, key->start_ticks, ip, sp, bp);
	if (walk == WALK_CFI) {
		walk_take_saved_regs(st);
		/* A return address: its CFI row is the call's, one byte back;
		 * the callee-saved registers are the caller's again. */
		if (from == WALK_FROM_RETURN)
			st->interrupted = 0;
		walk_user_stack(st);
	} else {
		walk_user_stack_fp(st);
	}
	err = bpf_map_update_elem(stacks, &st->hash, &st->stack, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return SMOLDER_STAT_LOST_STACK_COLLISION; /* the map is full */
	key->user_stack = st->hash;
	return SMOLDER_STAT_COUNTED;
}

/* The user stack, walked from the registers the task had in user mode:
 * the sample's own when it landed there, else those the kernel saved on
 * entry. Stored under its hash; 0 when it cannot be stored. */
static __always_inline enum smolder_stat read_user_stack(struct bpf_perf_event_data *ctx,
							 __u32 gen, struct task_struct *task,
							 struct smolder_count_key *key,
							 enum sample_walk walk,
							 enum sample_regs saved)
{
	__u64 ip = ctx->regs.ip, sp = ctx->regs.sp, bp = ctx->regs.bp;
	struct walk_state *st = walk_scratch_unheld();

	if (!st)
		return SMOLDER_STAT_LOST_STACK_READ;
	if (ip >= SMOLDER_KERNEL_START) {
		if (!read_saved_regs(st, task, saved))
			return SMOLDER_STAT_LOST_STACK_READ;
		at_breakpoint(&st->saved);
		ip = st->saved.ip;
		sp = st->saved.sp;
		bp = st->saved.bp;
	} else if (walk == WALK_CFI) {
		regs_from_ctx(st, ctx);
	}
	return store_user_walk(st, gen, key, ip, sp, bp, walk, WALK_FROM_STOP);
}

/* The Python frames of a Python process's sample, counted by what became
 * of them; a sample whose frames find no room keeps its native stack. */
static __always_inline void read_python(__u32 gen, struct task_struct *task,
					struct smolder_count_key *key)
{
	void *stacks = gen ? (void *)&py_stacks_1 : (void *)&py_stacks_0;
	enum smolder_stat fate;

	if (!bpf_map_lookup_elem(&py_procs, &key->tgid))
		return;
	fate = read_py_stack(task, key->tgid, key->start_ticks, stacks, &key->py_stack);
	if (fate != SMOLDER_STAT_COUNTED)
		stat_add(gen, SMOLDER_STAT_PY_DROPPED);
	else
		stat_add(gen, key->py_stack ? SMOLDER_STAT_PY_FRAMES : SMOLDER_STAT_PY_NO_FRAMES);
}

/* The stacks of the sample: none of a kind there is none of (a kernel
 * thread's user stack, the kernel stack of a sample taken in user mode). */
static __always_inline enum smolder_stat read_stacks(struct bpf_perf_event_data *ctx,
						     __u32 gen, struct task_struct *task,
						     bool kthread, struct smolder_count_key *key,
						     enum sample_walk walk, enum sample_regs saved)
{
	/* Kernel text lives in the upper half of the address space. (Testing
	 * cs would do too, but it is a 16-bit field on kernels with FRED, and
	 * the verifier allows only full-width loads of the context.) */
	bool in_kernel = ctx->regs.ip >= SMOLDER_KERNEL_START;
	enum smolder_stat fate;

	key->user_stack = 0;
	key->kernel_stack = 0;
	key->py_stack = 0;
	if (!kthread) {
		fate = read_user_stack(ctx, gen, task, key, walk, saved);
		if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
			return fate;
	}
	if (!kthread && walk == WALK_CFI)
		read_python(gen, task, key);
	if (in_kernel) {
		fate = read_kernel_stack(ctx, gen, &key->kernel_stack);
		if (fate == SMOLDER_STAT_LOST_STACK_COLLISION)
			return fate;
	}
	/* An empty or unreadable stack is a loss only when neither stack
	 * could be read. */
	if (key->user_stack == 0 && key->kernel_stack == 0)
		return SMOLDER_STAT_LOST_STACK_READ;
	return SMOLDER_STAT_COUNTED;
}

/* True when the agent knows this process's executable ranges and ip is in
 * none of them: code it cannot name or walk yet (a dlopen, or a library
 * ld.so mapped after the agent read the process's maps). *notify: tell the
 * agent, at most once per SMOLDER_RANGES_RENOTIFY_NS per process. */
static __always_inline bool outside_known_code(__u32 tgid, __u64 start_ticks, __u64 ip,
					       bool *notify)
{
	struct smolder_exec_ranges *er = bpf_map_lookup_elem(&exec_ranges, &tgid);
	__u64 now;

	if (!er || er->start_ticks != start_ticks)
		return false;
	for (__u32 i = 0; i < SMOLDER_MAX_EXEC_RANGES; i++) {
		if (i >= er->n)
			break;
		if (ip >= er->r[i].start && ip < er->r[i].end)
			return false;
	}
	now = bpf_ktime_get_ns();
	if (now - er->last_notify_ns >= SMOLDER_RANGES_RENOTIFY_NS) {
		er->last_notify_ns = now;
		*notify = true;
	}
	return true;
}

#define NSEC_PER_SEC 1000000000ULL

static __always_inline bool copy_allowed(enum copy_bucket bucket)
{
	__u32 idx = bucket;
	struct copy_budget *b = bpf_map_lookup_elem(&copy_budget, &idx);
	__u64 now = bpf_ktime_get_ns(), cost, credit;

	if (!b || !copies_per_sec)
		return false;
	cost = NSEC_PER_SEC / copies_per_sec;
	if (bucket == COPY_OFFCPU)
		cost *= 4;
	credit = b->credit_ns + (now - b->last_ns);
	if (credit > NSEC_PER_SEC)
		credit = NSEC_PER_SEC;
	b->last_ns = now;
	if (credit < cost) {
		b->credit_ns = credit;
		return false;
	}
	b->credit_ns = credit - cost;
	return true;
}

/* The sampled registers and the top of the user stack of a sample whose
 * process had no tables published, for the agent to walk once they are
 * (stack_copy.h). Whole pages from the one holding rsp (or the next, when
 * that one is not there yet), as many as can be read: a page past the
 * stack's end fails and ends the copy. None for a task whose user memory
 * is gone (a sample in its exit, after exit_mm): nothing of its stack can
 * be read, and the agent could walk no copy of it (on a build host, half
 * the copies it could not use). */
static __always_inline void send_stack_copy(__u32 gen, const struct smolder_count_key *key,
					    const struct walk_state *st, struct task_struct *task,
					    enum copy_bucket bucket)
{
	const struct pt_regs *r = &st->saved;
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 image = (__u64)task->mm;
	struct smolder_stack_copy *c;
	__u64 base, probe;
	__u32 len = 0;

	if (!image)
		return;
	if (!copy_allowed(bucket)) {
		stat_add(gen, SMOLDER_STAT_COPIES_DROPPED);
		return;
	}
	c = bpf_map_lookup_elem(&copy_scratch, &cpu);
	if (!c) {
		stat_add(gen, SMOLDER_STAT_COPIES_DROPPED);
		return;
	}
	base = r->sp & ~(__u64)(SMOLDER_STACK_COPY_PAGE - 1);
	/* A frame just made (sub rsp) may reach into a page not touched yet,
	 * so not there to read: its caller's return address is above it. */
	if (bpf_probe_read_user(&probe, sizeof(probe), (const void *)r->sp))
		base += SMOLDER_STACK_COPY_PAGE;
	/* The header before the pages: the verifier walks what follows the
	 * loop once for each page count it may end with (and the load of mm
	 * above, once, costs it a search of the kernel's BTF). */
	c->key = *key;
	c->gen = gen;
	c->base = base;
	c->image = image;
	c->ip = r->ip;
	regs_by_dwarf_number(r, c->regs);
	for (int i = 0; i < SMOLDER_STACK_COPY_PAGES; i++) {
		if (bpf_probe_read_user(c->stack + i * SMOLDER_STACK_COPY_PAGE,
					SMOLDER_STACK_COPY_PAGE,
					(const void *)(base + i * SMOLDER_STACK_COPY_PAGE)))
			break;
		len += SMOLDER_STACK_COPY_PAGE;
	}
	c->len = len;
	/* Only the pages read: a shallow stack's copy is a page or two. */
	if (bpf_ringbuf_output(&stack_copies, c, SMOLDER_STACK_COPY_HEADER + (len & SMOLDER_STACK_COPY_LEN_MASK), 0)) {
		stat_add(gen, SMOLDER_STAT_COPIES_DROPPED);
		return;
	}
	stat_add(gen, SMOLDER_STAT_COPIES_SENT);
}

/* Tells the agent about a process the first time it is sampled, so that it
 * reads the process's /proc files while they are there to read; and again
 * when it runs code outside the mappings the agent has read. True when
 * user_ip is in such code. */
static __always_inline bool announce(struct task_struct *task, __u32 tgid, __u64 start_ticks,
				     __u64 user_ip)
{
	__u64 *known = bpf_map_lookup_elem(&seen, &tgid);
	bool notify = false;
	bool outside = user_ip && outside_known_code(tgid, start_ticks, user_ip, &notify);

	if (known && *known == start_ticks && !notify)
		return outside;
	bpf_map_update_elem(&seen, &tgid, &start_ticks, BPF_ANY);
	event_send_sampled(tgid, start_ticks, task);
	return outside;
}

static __always_inline int sample(struct bpf_perf_event_data *ctx, enum sample_walk walk,
				  enum sample_regs saved)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 gen = generation & 1;
	struct smolder_count_key key = {};
	enum smolder_stat fate;
	bool kthread, unknown_code = false;

	if ((tgid == 0 && !include_idle) ||
	    (agent_tgid && (tgid == agent_tgid || task->real_parent->tgid == agent_tgid)) ||
	    (filter_by_pid && !bpf_map_lookup_elem(&pid_filter, &tgid))) {
		stat_add(gen, SMOLDER_STAT_FILTERED);
		return 0;
	}
	stat_add(gen, SMOLDER_STAT_TAKEN);

	kthread = task->flags & PF_KTHREAD;
	key.tgid = tgid;
	key.flags = kthread ? SMOLDER_KEY_KERNEL_THREAD : 0;
	key.start_ticks = task_start_ticks(task);
	if (!kthread) {
		key.exec_id = task_exec_id(task);
		unknown_code = announce(task, tgid, key.start_ticks,
					ctx->regs.ip < SMOLDER_KERNEL_START ? ctx->regs.ip : 0);
	}

	fate = read_stacks(ctx, gen, task, kthread, &key, walk, saved);
	if (fate == SMOLDER_STAT_COUNTED)
		fate = count_sample(gen, &key);
	stat_add(gen, fate);
	/* Only the CFI walk has tables to wait for: all of a process not
	 * published yet, or those of code its published mappings lack (the
	 * agent reads them again, announced above, and walks the copy). */
	if (walk == WALK_CFI && fate == SMOLDER_STAT_COUNTED && key.user_stack) {
		struct walk_state *st = walk_scratch_get();

		if (st && (st->no_tables || unknown_code))
			send_stack_copy(gen, &key, st, task, COPY_CPU);
	}
	return 0;
}

#include "offcpu.bpf.h" /* after the stack readers it shares */
#include "memory.bpf.h" /* after offcpu.bpf.h's wait maps */

/* One program per combination; the agent loads one. Names stay within the
 * kernel's 15 characters, so bpftool tells them apart. */
SEC("perf_event")
int smolder_cfi(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, WALK_CFI, REGS_HELPER);
}

SEC("perf_event")
int smolder_cfi_ks(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, WALK_CFI, REGS_KERNEL_STACK);
}

SEC("perf_event")
int smolder_fp(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, WALK_FP, REGS_HELPER);
}

SEC("perf_event")
int smolder_fp_ks(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, WALK_FP, REGS_KERNEL_STACK);
}

char LICENSE[] SEC("license") = "GPL";
