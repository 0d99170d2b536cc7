/* The user-stack walk of the sampling program (included by sample.bpf.c):
 * CFI rows where the agent has loaded a table for the code, frame pointers
 * where it has not. See unwind.h for the rows and their rules.
 *
 * The walk keeps its state in a per-CPU scratch value (a stack of 127
 * frames does not fit in BPF's 512 bytes) and takes one frame per bpf_loop
 * iteration. Besides rip, rsp and rbp it holds the other general registers
 * of the frame the sample interrupted (and of one a signal interrupted),
 * for CFI that computes the CFA from them there; no frame above has them. Each frame costs a lookup of the process's mappings, a binary
 * search over its file's rows (at most SMOLDER_UNWIND_SEARCH_STEPS array
 * lookups) and one to three reads of the user stack: one where the saved
 * rbp sits just below the return address (a frame-pointer frame, or CFI's
 * "rbp at CFA-16"), the two read together, as a read is most of a frame's
 * cost.
 *
 * A function with a uretprobe pending (bpftrace's, a memory profile's on
 * malloc) returns to the uprobes trampoline, not to its caller: the kernel
 * put the trampoline's address (the start of the [uprobes] vma) in the
 * return address's slot at its entry, and keeps the real one in the task's
 * list of return instances, newest first. The walk puts each back as the
 * kernel's own fixup_uretprobe_trampoline_entries() (6.11) does for
 * bpf_get_stack, and goes on from there.
 */
#ifndef SMOLDER_UNWIND_BPF_H
#define SMOLDER_UNWIND_BPF_H

#include "unwind.h"

/* Return instances a walk reads at most: a stack rarely has more than one
 * or two functions under a uretprobe at once. */
#define SMOLDER_URETPROBE_READS 16

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SMOLDER_UNWIND_ROWS_DEFAULT);
	__uint(map_flags, BPF_F_MMAPABLE); /* the agent walks stack copies with the same rows */
	__type(key, __u32);
	__type(value, union smolder_unwind_elem);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_UNWIND_PROCS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct smolder_unwind_proc);
} unwind_procs SEC(".maps");

struct walk_state {
	__u64 ip, sp, bp;
	__u64 hash;
	__u32 tgid;
	/* This frame was interrupted (the sampled one, or by a signal), not
	 * making a call: its ip is exact and regs holds its registers. */
	__u32 interrupted;
	__u64 start_ticks;
	/* Frames were walked by frame pointers for want of tables the agent
	 * has not loaded yet: it had published no mappings of this process,
	 * or the walk went through a mapping whose file it has not read
	 * (SMOLDER_UNWIND_PENDING). The stack is copied for the agent. */
	__u32 no_tables;
	__u32 opaque; /* see opaque_u32 */
	/* Where st->ip was read from: the stack slot of a return address. */
	__u64 slot;
	/* The uprobes trampoline's address and the next return instance
	 * (struct return_instance *) a return to it is taken from; ri 0: no
	 * uretprobe pending, or none left. */
	__u64 tramp, ri;
	__u32 ri_reads; /* of SMOLDER_URETPROBE_READS, left */
	__u64 regs[SMOLDER_DWARF_GPRS];          /* by DWARF number, if interrupted */
	struct pt_regs saved;                    /* the sampled registers, as read */
	__u64 sig[SMOLDER_SIGFRAME_NREGS];       /* a signal frame's, as read */
	struct smolder_user_stack stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_state);
} walk_scratch SEC(".maps");

/* The per-CPU scratch state; NULL only if it is missing. */
static __always_inline struct walk_state *walk_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&walk_scratch, &zero);
}

#define FNV_PRIME 0x100000001b3ULL
#define FNV_OFFSET 0xcbf29ce484222325ULL

/* v, as the verifier sees it after a trip through memory (st->opaque):
 * any 32-bit number, neither a constant nor traced back to what it was
 * made of. For find_mapping's binary search: where proc->n is above the
 * maximum, the clamp makes hi a constant, and so every lo and hi after it;
 * the verifier then decides each "lo >= hi" itself and walks each of the
 * search's 2^7 paths apart, as it does when an index into proc->m is traced
 * back to lo and hi and marks them precise (100,000 of the 135,000
 * instructions it processed for the CFI program). */
static __always_inline __u32 opaque_u32(struct walk_state *st, __u32 v)
{
	*(volatile __u32 *)&st->opaque = v;
	return *(volatile __u32 *)&st->opaque;
}

/* An index into proc->m: masked, so the access is in bounds. */
static __always_inline __u32 mapping_index(struct walk_state *st, __u32 i)
{
	return opaque_u32(st, i) & (SMOLDER_UNWIND_MAPPINGS_MAX - 1);
}
_Static_assert((SMOLDER_UNWIND_MAPPINGS_MAX & (SMOLDER_UNWIND_MAPPINGS_MAX - 1)) == 0,
	       "the mapping index is masked");

/* The mapping of proc holding ip, or NULL. */
static __always_inline const struct smolder_unwind_mapping *
find_mapping(struct walk_state *st, const struct smolder_unwind_proc *proc, __u64 ip)
{
	__u64 lo = 0, hi = proc->n; /* 64-bit, as in find_row */
	const struct smolder_unwind_mapping *m;

	if (hi > SMOLDER_UNWIND_MAPPINGS_MAX)
		hi = SMOLDER_UNWIND_MAPPINGS_MAX;
	hi = opaque_u32(st, hi);
	for (int i = 0; i < 7; i++) { /* 2^7 > SMOLDER_UNWIND_MAPPINGS_MAX */
		__u64 mid;

		if (lo >= hi)
			break;
		mid = lo + (hi - lo) / 2;
		if (proc->m[mapping_index(st, mid)].end <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= SMOLDER_UNWIND_MAPPINGS_MAX || lo >= proc->n)
		return NULL;
	m = &proc->m[mapping_index(st, lo)];
	if (ip < m->start || ip >= m->end)
		return NULL;
	return m;
}

/* The rule of the row holding file address pc among the rows [first,
 * first + n), or NULL. */
static __always_inline const struct smolder_unwind_rule *find_row(__u32 first, __u32 n, __u64 pc)
{
	/* 64-bit, though they hold 32-bit numbers (lo = mid + 1 <= hi, no
	 * wrap): no zero-extension of each at each step for the verifier to
	 * walk through. */
	__u64 lo = 0, hi = n;
	const union smolder_unwind_elem *r;
	__u32 idx;

	for (int i = 0; i < SMOLDER_UNWIND_SEARCH_STEPS; i++) {
		__u64 mid;

		if (lo >= hi)
			break;
		mid = lo + (hi - lo) / 2;
		idx = first + (__u32)mid;
		r = bpf_map_lookup_elem(&unwind_rows, &idx);
		if (!r)
			return NULL;
		if (r->row.pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	idx = first + (__u32)lo - 1;
	r = bpf_map_lookup_elem(&unwind_rows, &idx);
	if (!r)
		return NULL;
	idx = first + n + r->row.rule;
	r = bpf_map_lookup_elem(&unwind_rows, &idx);
	return r ? &r->rule : NULL;
}

static __always_inline int read_user_u64(__u64 addr, __u64 *v)
{
	return bpf_probe_read_user(v, sizeof(*v), (const void *)addr);
}

/* [addr] and [addr + 8] in one read: the saved rbp and the return address
 * of a frame that pushed rbp after the call. The walk needs both, so the
 * one read fails exactly when one of two would. */
static __always_inline int read_user_pair(__u64 addr, __u64 *lo, __u64 *hi)
{
	__u64 pair[2];

	if (bpf_probe_read_user(pair, sizeof(pair), (const void *)addr))
		return -1;
	*lo = pair[0];
	*hi = pair[1];
	return 0;
}

/* One frame by frame pointer: [bp] is the caller's bp, [bp + 8] its
 * return address. */
static __always_inline int step_frame_pointer(struct walk_state *st)
{
	__u64 ra, bp;

	if (st->bp == 0)
		return SMOLDER_UNWIND_END_FP_ZERO;
	if (st->bp < st->sp)
		return SMOLDER_UNWIND_END_BAD_FRAME;
	if (read_user_pair(st->bp, &bp, &ra))
		return SMOLDER_UNWIND_END_READ;
	st->slot = st->bp + 8;
	st->sp = st->bp + 16;
	st->bp = bp;
	st->ip = ra;
	return -1;
}

/* Register reg (a DWARF number) of the frame being stepped, into *v; false
 * when the walk does not know it there: any but rsp and rbp above the frame
 * the sample (or a signal) interrupted, whose callees may have changed it. */
static __always_inline bool frame_reg(const struct walk_state *st, __u32 reg, __u64 *v)
{
	reg &= SMOLDER_DWARF_GPRS - 1;
	if (reg == SMOLDER_DWARF_RSP)
		*v = st->sp;
	else if (reg == SMOLDER_DWARF_RBP)
		*v = st->bp;
	else if (st->interrupted)
		*v = st->regs[reg];
	else
		return false;
	return true;
}

/* A signal trampoline: the frame the signal interrupted has its registers,
 * all of them, in the ucontext at rsp (one read). */
static __always_inline int step_signal(struct walk_state *st)
{
	__u64 *g = st->sig;

	if (bpf_probe_read_user(g, sizeof(st->sig), (const void *)(st->sp + SMOLDER_SIGFRAME_REGS)))
		return SMOLDER_UNWIND_END_READ;
	/* sigcontext's order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip */
	for (int i = 0; i < 8; i++)
		st->regs[8 + i] = g[i];
	st->regs[5] = g[8];
	st->regs[4] = g[9];
	st->regs[SMOLDER_DWARF_RBP] = g[10];
	st->regs[3] = g[11];
	st->regs[1] = g[12];
	st->regs[0] = g[13];
	st->regs[2] = g[14];
	st->regs[SMOLDER_DWARF_RSP] = g[15];
	st->bp = g[10];
	st->sp = g[15];
	st->ip = g[16];
	/* Interrupted just as it returned to the trampoline, the frame had
	 * popped the return address from here. */
	st->slot = st->sp - 8;
	st->interrupted = 1;
	return -1;
}

/* The CFA of a row, into *cfa; -1 when found, else how the walk ends. */
static __always_inline int row_cfa(const struct walk_state *st,
				   const struct smolder_unwind_rule *r, __u64 *cfa)
{
	__u64 base, index;

	switch (r->cfa_rule) {
	case SMOLDER_CFA_REG:
		if (!frame_reg(st, r->cfa_reg, &base))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		*cfa = base + r->cfa_offset;
		return -1;
	case SMOLDER_CFA_PLT:
		*cfa = st->sp + r->cfa_offset + (((st->ip & 15) >= r->cfa_arg) ? 8 : 0);
		return -1;
	case SMOLDER_CFA_DEREF:
		if (!frame_reg(st, r->cfa_reg, &base))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		if (read_user_u64(base + r->cfa_offset, cfa))
			return SMOLDER_UNWIND_END_READ;
		*cfa += 8 * (__u64)r->cfa_arg;
		return -1;
	case SMOLDER_CFA_DEREF_INDEXED:
		if (!frame_reg(st, r->cfa_reg, &base) || !frame_reg(st, r->cfa_arg, &index))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		if (read_user_u64(base + r->cfa_offset + 8 * index, cfa))
			return SMOLDER_UNWIND_END_READ;
		*cfa += 8;
		return -1;
	}
	return SMOLDER_UNWIND_END_UNSUPPORTED;
}

/* One frame by a CFI row; -1 to go on, else how the walk ends. */
static __always_inline int step_row(struct walk_state *st, const struct smolder_unwind_rule *r)
{
	__u64 cfa = 0, ra, bp = st->bp, v;
	int end;

	switch (r->cfa_rule) {
	case SMOLDER_CFA_NONE:
		st->interrupted = 0;
		return step_frame_pointer(st);
	case SMOLDER_CFA_STOP:
		return SMOLDER_UNWIND_END_STOP;
	case SMOLDER_CFA_UNSUPPORTED:
		return SMOLDER_UNWIND_END_UNSUPPORTED;
	case SMOLDER_CFA_SIGNAL:
		return step_signal(st);
	}
	end = row_cfa(st, r, &cfa);
	if (end >= 0)
		return end;
	if (cfa <= st->sp)
		return SMOLDER_UNWIND_END_BAD_FRAME;
	st->interrupted = 0;
	/* A slot below sp is dead: an epilogue popped the register (GCC
	 * notes the pop's CFA change, not the register's restore), which
	 * holds its caller's value again. agent/unwind_walk.c does the same:
	 * its copy of the stack starts at sp. */
	if (r->rbp_rule == SMOLDER_RBP_AT_CFA && r->rbp_offset == -16 && cfa - 16 >= st->sp) {
		if (read_user_pair(cfa - 16, &bp, &ra))
			return SMOLDER_UNWIND_END_READ;
		st->slot = cfa - 8;
		st->ip = ra;
		st->sp = cfa;
		st->bp = bp;
		return -1;
	}
	if (read_user_u64(cfa - 8, &ra))
		return SMOLDER_UNWIND_END_READ;
	if (r->rbp_rule == SMOLDER_RBP_AT_CFA && cfa + r->rbp_offset >= st->sp) {
		if (read_user_u64(cfa + r->rbp_offset, &v))
			return SMOLDER_UNWIND_END_READ;
		bp = v;
	} else if (r->rbp_rule == SMOLDER_RBP_AT_RBP) {
		if (read_user_u64(st->bp + r->rbp_offset, &v))
			return SMOLDER_UNWIND_END_READ;
		bp = v;
	}
	st->slot = cfa - 8;
	st->ip = ra;
	st->sp = cfa;
	st->bp = bp;
	return -1;
}

/* The CFA's distance from rsp at byte off of a perf trampoline of size
 * bytes (unwind.h): 16 from the call (size - 7) to the ret (size - 1). */
static __always_inline __u64 py_trampoline_cfa(__u64 off, __u64 size)
{
	return off + 7 >= size && off + 1 < size ? 16 : 8;
}

/* One frame through a CPython perf trampoline; -1 to go on. */
static __always_inline int step_py_trampoline(struct walk_state *st,
					      const struct smolder_unwind_mapping *m, __u64 pc)
{
	__u64 size = m->n_rows & 0xff, stride = m->n_rows >> 8, cfa, ra;

	if (size < SMOLDER_PY_TRAMPOLINE_MIN || stride < size || stride > SMOLDER_PY_TRAMPOLINE_MAX)
		return SMOLDER_UNWIND_END_BAD_FRAME;
	cfa = st->sp + py_trampoline_cfa((pc - m->start) % stride, size);
	if (read_user_u64(cfa - 8, &ra))
		return SMOLDER_UNWIND_END_READ;
	st->interrupted = 0;
	st->slot = cfa - 8;
	st->ip = ra;
	st->sp = cfa;
	return -1;
}

/* What stays the same for a whole walk, on the caller's stack: bpf_loop
 * passes its callback a pointer there and nowhere else. */
struct walk_ctx {
	struct walk_state *st;
	const struct smolder_unwind_proc *proc; /* NULL: frame pointers only */
};

/* Records the frame at st->ip; false when the stack is full. */
static __always_inline bool push_frame(struct walk_state *st)
{
	__u32 n = st->stack.len;

	if (n >= SMOLDER_MAX_STACK_DEPTH) {
		st->stack.end = SMOLDER_UNWIND_END_TRUNCATED;
		return false;
	}
	st->stack.pcs[n] = st->ip;
	st->stack.len = n + 1;
	st->hash = (st->hash ^ st->ip) * FNV_PRIME;
	return true;
}

/* What the walk reads of the kernel's uprobes state: CO-RE, by name (the
 * same on 6.1 and 6.18, at other offsets), so that a vmlinux.h without
 * them (CONFIG_UPROBES off) builds too. struct xol_area is private to
 * kernel/events/uprobes.c, but in the kernel's BTF. */
struct return_instance___smolder {
	unsigned long stack;          /* sp at the function's entry: the slot */
	unsigned long orig_ret_vaddr; /* the return address the slot held */
	struct return_instance___smolder *next; /* the one pending before */
} __attribute__((preserve_access_index));

struct uprobe_task___smolder {
	struct return_instance___smolder *return_instances; /* newest first */
} __attribute__((preserve_access_index));

struct xol_area___smolder {
	unsigned long vaddr; /* the trampoline: slot 0 of the [uprobes] vma */
} __attribute__((preserve_access_index));

struct uprobes_state___smolder {
	struct xol_area___smolder *xol_area;
} __attribute__((preserve_access_index));

struct mm_struct___smolder {
	struct uprobes_state___smolder uprobes_state;
} __attribute__((preserve_access_index));

struct task_struct___smolder {
	struct uprobe_task___smolder *utask; /* NULL until its first uprobe */
	struct mm_struct___smolder *mm;
} __attribute__((preserve_access_index));

/* The walk's st->ip, read from st->slot, is the trampoline's address: puts
 * back the return address it stands for, that of the newest pending
 * instance whose slot is not below this one. One below was left by frames
 * a longjmp went past (the kernel drops it at the next return), or shares
 * its slot with the one just used (a probed function's tail call into
 * another: the "chained" instance, holding the same address). With no
 * instance left, ip stays the trampoline's, and the walk goes on as from
 * unknown code.
 *
 * leaf: st is the sampled frame, which has just returned to the trampoline
 * from the slot st->slot, and is at its first byte, or trapped on it (6.1's
 * trampoline is an int3, which leaves ip one past it): only an instance of
 * exactly that slot stands for it.
 *
 * A global function, verified once on its own, not again for each state
 * its callers are verified in (inlined into the frame-pointer walk's loop,
 * its own loop made smolder_fp 270,000 instructions). Its one argument is
 * a number, as Linux 5.11 takes pointers to a global function from no
 * caller (5.12): it finds the state where every walk keeps it, the per-CPU
 * scratch. */
__noinline int smolder_uretprobe_return(__u32 leaf)
{
	struct walk_state *st = walk_scratch_get();

	if (!st || st->ip - st->tramp > (leaf ? 1 : 0))
		return 0;
	for (int i = 0; i < SMOLDER_URETPROBE_READS; i++) {
		struct return_instance___smolder *ri = (void *)st->ri;
		__u64 stack;

		if (!ri || st->ri_reads == 0)
			break;
		st->ri_reads--;
		stack = BPF_CORE_READ(ri, stack);
		if (stack < st->slot) {
			st->ri = (__u64)BPF_CORE_READ(ri, next);
			continue;
		}
		if (leaf && stack != st->slot)
			break;
		st->ri = (__u64)BPF_CORE_READ(ri, next);
		st->ip = BPF_CORE_READ(ri, orig_ret_vaddr);
		break;
	}
	return 0;
}

/* The uretprobes pending on the current task, the one walked (the sampled
 * task, the one switched out, or the one in an allocator probe): st->tramp
 * and the newest return instance, or st->ri 0. A task that never hit a
 * uprobe has no utask: one load. A task sampled at the trampoline has just
 * returned to it from the slot below sp: its ip is put back too. */
static __always_inline void walk_start_uretprobes(struct walk_state *st)
{
	struct task_struct___smolder *task = (void *)bpf_get_current_task_btf();
	struct uprobe_task___smolder *utask;

	st->slot = 0;
	st->ri = 0;
	st->tramp = 0;
	st->ri_reads = SMOLDER_URETPROBE_READS;
	if (!bpf_core_field_exists(task->utask))
		return; /* a kernel without CONFIG_UPROBES */
	utask = task->utask;
	if (!utask)
		return;
	st->ri = (__u64)BPF_CORE_READ(utask, return_instances);
	if (st->ri)
		st->tramp = BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
	if (!st->tramp)
		st->ri = 0;
	if (st->ri && st->ip - st->tramp <= 1) {
		st->slot = st->sp - 8;
		smolder_uretprobe_return(1); /* on st, the scratch */
	}
}

/* How a step that went on (-1) may still end the walk: a return address
 * of 0, or one in the kernel. True when the walk ends here. A return to
 * the uprobes trampoline is first put back (smolder_uretprobe_return). */
static __always_inline bool step_ends(struct walk_state *st, int end)
{
	if (end < 0 && st->ri && st->ip == st->tramp)
		smolder_uretprobe_return(0); /* on st, the scratch */
	if (end < 0 && st->ip == 0)
		end = SMOLDER_UNWIND_END_FP_ZERO;
	if (end < 0 && st->ip >= SMOLDER_KERNEL_START)
		end = SMOLDER_UNWIND_END_BAD_FRAME;
	if (end < 0)
		return false;
	st->stack.end = (__u32)end;
	return true;
}

/* One frame of the walk: records st->ip and steps to its caller; nonzero
 * when the walk ends. A global function: the verifier checks it once, on
 * its own, with st and proc any values of their types (NULL too, hence the
 * test), instead of again for each state bpf_loop's callback is verified
 * in. Its arguments are pointers to sized types, which the verifier allows
 * a global function since Linux 5.12. */
__noinline int smolder_walk_frame(struct walk_state *st, const struct smolder_unwind_proc *proc)
{
	const struct smolder_unwind_mapping *m = NULL;
	const struct smolder_unwind_rule *r = NULL;
	__u64 pc;
	int end;

	if (!st || !push_frame(st))
		return 1;
	/* A return address is after its call: its row is the call's. */
	pc = st->interrupted ? st->ip : st->ip - 1;
	if (proc)
		m = find_mapping(st, proc, st->ip);
	if (m && m->first_row == SMOLDER_UNWIND_PY_TRAMPOLINE) {
		end = step_py_trampoline(st, m, pc);
	} else {
		if (m && m->n_rows)
			r = find_row(m->first_row, m->n_rows, pc - m->bias);
		else if (m && m->first_row == SMOLDER_UNWIND_PENDING)
			st->no_tables = 1;
		if (r) {
			end = step_row(st, r);
		} else {
			st->interrupted = 0;
			end = step_frame_pointer(st);
		}
	}
	/* One step_ends for the three kinds of step: one copy of its call. */
	return step_ends(st, end);
}

static long walk_one(__u64 index, void *ctx)
{
	struct walk_ctx *wc = ctx;

	return smolder_walk_frame(wc->st, wc->proc) ? 1 : 0;
}

/* Sets st to start a walk at (ip, sp, bp), those registers alone known. */
static __always_inline void walk_start(struct walk_state *st, __u32 tgid, __u64 start_ticks,
				       __u64 ip, __u64 sp, __u64 bp)
{
	st->ip = ip;
	st->sp = sp;
	st->bp = bp;
	st->interrupted = 0;
	st->no_tables = 0;
	st->tgid = tgid;
	st->start_ticks = start_ticks;
	st->hash = FNV_OFFSET;
	st->stack.len = 0;
	st->stack.end = SMOLDER_UNWIND_END_TRUNCATED;
	walk_start_uretprobes(st);
}

/* The general registers of r by DWARF number, into regs. */
static __always_inline void regs_by_dwarf_number(const struct pt_regs *r, __u64 *regs)
{
	regs[0] = r->ax;
	regs[1] = r->dx;
	regs[2] = r->cx;
	regs[3] = r->bx;
	regs[4] = r->si;
	regs[5] = r->di;
	regs[SMOLDER_DWARF_RBP] = r->bp;
	regs[SMOLDER_DWARF_RSP] = r->sp;
	regs[8] = r->r8;
	regs[9] = r->r9;
	regs[10] = r->r10;
	regs[11] = r->r11;
	regs[12] = r->r12;
	regs[13] = r->r13;
	regs[14] = r->r14;
	regs[15] = r->r15;
}

/* The sampled frame's other registers, from st->saved (the pt_regs the
 * caller read): for CFI whose CFA is in one of them there. */
static __always_inline void walk_take_saved_regs(struct walk_state *st)
{
	regs_by_dwarf_number(&st->saved, st->regs);
	st->regs[SMOLDER_DWARF_RBP] = st->bp;
	st->regs[SMOLDER_DWARF_RSP] = st->sp;
	st->interrupted = 1;
}

/* The hash a stack is stored under covers how its walk ended; never 0. */
static __always_inline struct walk_state *walk_finish(struct walk_state *st)
{
	st->hash = (st->hash ^ st->stack.end) * FNV_PRIME;
	if (st->hash == 0)
		st->hash = 1;
	return st;
}

/* Walks the user stack from st's start by CFI rows, or frame pointers
 * where no table is loaded: one frame per bpf_loop iteration (Linux 5.17).
 * The result is in st. */
static __always_inline struct walk_state *walk_user_stack(struct walk_state *st)
{
	struct walk_ctx wc;
	__u32 tgid = st->tgid;

	wc.st = st;
	wc.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (wc.proc && wc.proc->start_ticks != st->start_ticks)
		wc.proc = NULL; /* another process's, under a reused pid */
	st->no_tables = !wc.proc;
	bpf_loop(SMOLDER_MAX_STACK_DEPTH + 1, walk_one, &wc, 0);
	return walk_finish(st);
}

/* One frame of the frame-pointer walk, on the walk's state in the per-CPU
 * scratch: records st->ip and steps to its caller; nonzero when the walk
 * ends. A global function, verified once on its own rather than in each
 * of the loop's 128 iterations, where any branch that goes on (a return to
 * the uprobes trampoline) doubles what the verifier walks: smolder_fp
 * takes 10,400 instructions so, 50,000 inlined (19,100 inlined without the
 * uretprobes). No argument: no pointer before Linux 5.12 (see
 * smolder_uretprobe_return). */
__noinline int smolder_fp_frame(void)
{
	struct walk_state *st = walk_scratch_get();

	if (!st || !push_frame(st))
		return 1;
	return step_ends(st, step_frame_pointer(st)) ? 1 : 0;
}

/* The fallback for kernels without bpf_loop: frame pointers only, in a
 * bounded loop the verifier walks through (Linux 5.3), on st, the per-CPU
 * scratch. Code built without frame pointers ends the stack there, with
 * how it ended. */
static __always_inline struct walk_state *walk_user_stack_fp(struct walk_state *st)
{
	for (int i = 0; i <= SMOLDER_MAX_STACK_DEPTH; i++) {
		if (smolder_fp_frame())
			break;
	}
	return walk_finish(st);
}

#endif
