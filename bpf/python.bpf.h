/* The Python walk of the sampling program (included by sample.bpf.c): the
 * Python frames of the sampled thread, leaf first, for a process the agent
 * has described in py_procs (bpf/python.h). Only for kernels with bpf_loop,
 * as the CFI walk: each thread of the list, and each frame, is one
 * iteration.
 *
 * Every read is of the process's memory, which the process may be
 * changing under us (another thread, or the sampled one, interrupted
 * between two stores): a walk that reads something that is no frame ends
 * as READ, or stops at the frame limit, and the names the agent reads
 * later are checked against the code object's type and tag. A wrong
 * address here can cost a frame, never a wrong name.
 */
#ifndef SMOLDER_PYTHON_BPF_H
#define SMOLDER_PYTHON_BPF_H

#include "python.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_PY_PROCS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct smolder_py_proc);
} py_procs SEC(".maps");

/* A block's room: twice the most read, so that a length masked to it is
 * in bounds for the verifier of any kernel (5.17's and 6.1's do not follow
 * a range check clang folds into one compare). */
#define PY_BLOCK (2 * SMOLDER_PY_READ_MAX)

struct py_walk_state {
	struct smolder_py_proc proc; /* a copy: the map's may change as we walk */
	__u64 fsbase;                /* the sampled thread's pthread_self() */
	__u64 tstate;                /* its PyThreadState, once found */
	__u32 found;
	__u32 pad;
	__u64 frame;                 /* the next frame to record */
	__u64 hash;
	__u8 frame_block[PY_BLOCK]; /* a frame's fields, read at once */
	__u8 code_block[PY_BLOCK];  /* a code object's, likewise */
	struct smolder_py_stack stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_walk_state);
} py_scratch SEC(".maps");

static __always_inline int py_read_ptr(__u64 addr, __u64 *v)
{
	return bpf_probe_read_user(v, sizeof(*v), (const void *)addr);
}

/* The thread list's next entry after st->tstate, or the match: nonzero
 * ends the loop. A global function, verified once (see smolder_walk_frame). */
__noinline int smolder_py_find_thread(struct py_walk_state *st)
{
	__u64 id, next;

	if (!st || !st->tstate)
		return 1;
	if (py_read_ptr(st->tstate + st->proc.off.tstate_thread_id, &id)) {
		st->tstate = 0;
		return 1;
	}
	if (id == st->fsbase) {
		st->found = 1;
		return 1;
	}
	if (py_read_ptr(st->tstate + st->proc.off.tstate_next, &next))
		next = 0;
	st->tstate = next;
	return next ? 0 : 1;
}

/* bpf_loop's callbacks must return 0 or 1, and the verifier must see it:
 * clang knows what these global functions return and drops a "? 1 : 0"
 * unless the value passes through asm it cannot see into. */
static __always_inline long py_loop_result(int r)
{
	asm volatile("" : "+r"(r));
	return r ? 1 : 0;
}

static long py_thread_one(__u64 index, void *ctx)
{
	return py_loop_result(smolder_py_find_thread(*(struct py_walk_state **)ctx));
}

/* A block read's length: masked to the block (the agent never asks for
 * more than SMOLDER_PY_READ_MAX). */
static __always_inline __u64 py_read_len(__u16 want)
{
	return want & (PY_BLOCK - 1);
}

/* The value of the size-byte field at off of a block read, 0 where it
 * would lie outside the block. */
static __always_inline __u64 py_field(const __u8 *block, __u32 off, __u32 size)
{
	__u64 v = 0;

	if (off > SMOLDER_PY_READ_MAX - 8)
		return 0;
	if (size == 8)
		v = *(const __u64 *)(block + off);
	else if (size == 4)
		v = *(const __u32 *)(block + off);
	else
		v = block[off];
	return v;
}

/* The byte offset of the frame's instruction (its fields in block), or
 * SMOLDER_PY_INSTR_NONE. */
static __always_inline __s32 py_frame_instr(const struct py_walk_state *st, const __u8 *block,
					    __u64 code)
{
	const struct smolder_py_offsets *o = &st->proc.off;
	__s32 lasti;
	__s64 off;

	if (o->lasti == SMOLDER_PY_LASTI_BYTES || o->lasti == SMOLDER_PY_LASTI_UNITS) {
		lasti = (__s32)py_field(block, o->frame_lasti, 4);
		if (lasti < 0 || lasti >= (1 << 29))
			return SMOLDER_PY_INSTR_NONE;
		return o->lasti == SMOLDER_PY_LASTI_UNITS ? lasti * 2 : lasti;
	}
	off = (__s64)(py_field(block, o->frame_lasti, 8) - (code + o->code_adaptive));
	if (off < 0 || off >= (1 << 30))
		return SMOLDER_PY_INSTR_NONE;
	return (__s32)off;
}

/* A tag of the code object: what tells it from another one that later
 * takes its memory (see python_code.c's sym_py_code_tag). 0 when it cannot
 * be read. */
static __always_inline __u32 py_code_tag(struct py_walk_state *st, __u64 code)
{
	const struct smolder_py_offsets *o = &st->proc.off;
	__u32 from = o->code_read_from;
	__u64 len = py_read_len(o->code_read), h = FNV_OFFSET;

	if (!len || bpf_probe_read_user(st->code_block, len, (const void *)(code + from)))
		return 0;
	h = (h ^ py_field(st->code_block, o->code_firstlineno - from, 4)) * FNV_PRIME;
	h = (h ^ py_field(st->code_block, o->code_name - from, 8)) * FNV_PRIME;
	h = (h ^ py_field(st->code_block, o->code_filename - from, 8)) * FNV_PRIME;
	return (__u32)(h ^ (h >> 32)) & ~SMOLDER_PY_TAG_ENTRY;
}

/* Marks the last frame recorded as its evaluation loop's outermost. */
static __always_inline void py_mark_entry(struct py_walk_state *st)
{
	__u32 n = st->stack.len;

	if (n >= 1 && n <= SMOLDER_PY_MAX_FRAMES)
		st->stack.frames[n - 1].tag |= SMOLDER_PY_TAG_ENTRY;
}

/* Records st->frame and steps to its caller; nonzero when the walk ends.
 * A global function, verified once. */
__noinline int smolder_py_walk_frame(struct py_walk_state *st)
{
	const struct smolder_py_offsets *o;
	struct smolder_py_frame *f;
	__u64 frame, code;
	__u8 owner = 0, entry = 0;
	__u64 len;
	__u32 n;

	if (!st)
		return 1;
	o = &st->proc.off;
	frame = st->frame;
	if (!frame) {
		st->stack.end = SMOLDER_PY_END_WHOLE;
		py_mark_entry(st);
		return 1;
	}
	len = py_read_len(o->frame_read);
	if (!len || bpf_probe_read_user(st->frame_block, len, (const void *)frame)) {
		st->stack.end = SMOLDER_PY_END_READ;
		return 1;
	}
	st->frame = py_field(st->frame_block, o->frame_back, 8);
	code = py_field(st->frame_block, o->frame_code, 8);
	if (o->frame_owner != SMOLDER_PY_FIELD_NONE)
		owner = (__u8)py_field(st->frame_block, o->frame_owner, 1);
	/* A shim a C caller pushed where an evaluation loop began (3.12+):
	 * the frames recorded since the last one are that loop's. */
	if (owner == SMOLDER_PY_OWNED_BY_CSTACK) {
		py_mark_entry(st);
		return 0;
	}
	n = st->stack.len;
	if (n >= SMOLDER_PY_MAX_FRAMES) {
		st->stack.end = SMOLDER_PY_END_TRUNCATED;
		return 1;
	}
	if (o->frame_is_entry != SMOLDER_PY_FIELD_NONE)
		entry = (__u8)py_field(st->frame_block, o->frame_is_entry, 1);
	else if (o->frame_owner == SMOLDER_PY_FIELD_NONE)
		entry = 1; /* before 3.11, each frame is an evaluation loop of its own */
	f = &st->stack.frames[n];
	f->code = code;
	f->instr = py_frame_instr(st, st->frame_block, code);
	f->tag = py_code_tag(st, code) | (entry ? SMOLDER_PY_TAG_ENTRY : 0);
	st->stack.len = n + 1;
	st->hash = (st->hash ^ code) * FNV_PRIME;
	st->hash = (st->hash ^ (((__u64)f->tag << 32) | (__u32)f->instr)) * FNV_PRIME;
	return 0;
}

static long py_frame_one(__u64 index, void *ctx)
{
	return py_loop_result(smolder_py_walk_frame(*(struct py_walk_state **)ctx));
}

/* The first frame of the thread's chain, from its PyThreadState. */
static __always_inline __u64 py_current_frame(const struct py_walk_state *st)
{
	const struct smolder_py_offsets *o = &st->proc.off;
	__u64 p = 0;

	if (py_read_ptr(st->tstate + o->tstate_frame, &p) || !p)
		return 0;
	if (o->cframe_current_frame != SMOLDER_PY_FIELD_NONE &&
	    py_read_ptr(p + o->cframe_current_frame, &p))
		return 0;
	return p;
}

/* The Python frames of the sampled thread, stored under their hash in
 * *key (0: the process is no Python the agent described, or the thread
 * has no Python frames now). Returns COUNTED, or LOST_STACK_COLLISION when
 * the map has no room for a new stack. */
static __always_inline enum smolder_stat read_py_stack(struct task_struct *task, __u32 tgid,
						       __u64 start_ticks, void *stacks, __u64 *key)
{
	const struct smolder_py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
	__u32 zero = 0;
	struct py_walk_state *st;
	__u64 interp = 0;
	long err;

	*key = 0;
	if (!proc || proc->start_ticks != start_ticks)
		return SMOLDER_STAT_COUNTED;
	st = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!st)
		return SMOLDER_STAT_COUNTED;
	st->proc = *proc;
	st->fsbase = BPF_CORE_READ(task, thread.fsbase);
	if (py_read_ptr(st->proc.runtime + st->proc.off.runtime_interp_head, &interp) || !interp ||
	    py_read_ptr(interp + st->proc.off.interp_tstate_head, &st->tstate))
		return SMOLDER_STAT_COUNTED;
	st->found = 0;
	bpf_loop(SMOLDER_PY_MAX_THREADS, py_thread_one, &st, 0);
	if (!st->found)
		return SMOLDER_STAT_COUNTED; /* a thread Python does not know of */
	st->frame = py_current_frame(st);
	if (!st->frame)
		return SMOLDER_STAT_COUNTED;
	st->hash = FNV_OFFSET;
	st->stack.len = 0;
	st->stack.end = SMOLDER_PY_END_TRUNCATED;
	/* Shims take iterations too. */
	bpf_loop(2 * SMOLDER_PY_MAX_FRAMES, py_frame_one, &st, 0);
	if (st->stack.len == 0)
		return SMOLDER_STAT_COUNTED;
	st->hash = (st->hash ^ st->stack.end) * FNV_PRIME;
	if (st->hash == 0)
		st->hash = 1;
	err = bpf_map_update_elem(stacks, &st->hash, &st->stack, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return SMOLDER_STAT_LOST_STACK_COLLISION;
	*key = st->hash;
	return SMOLDER_STAT_COUNTED;
}

#endif
