/* The user-space copy of bpf/unwind.bpf.h's walk: see unwind_walk.h. Each
 * function here has the name of the BPF function it mirrors, and does what
 * it does in the same order; keep them in step. Address arithmetic wraps
 * modulo 2^64 as it does in BPF (unsigned, so defined); only the bounds
 * check of a read must not. */
#include <stdbool.h>
#include <string.h>

#include "sample.h"
#include "unwind_walk.h"

#define WALK_GO_ON (-1)

struct walk_state {
	uint64_t ip, sp, bp;
	/* This frame was interrupted (the sampled one, or by a signal), not
	 * making a call: its ip is exact and regs holds its registers. */
	bool interrupted;
	uint64_t regs[SMOLDER_DWARF_GPRS];
	const struct unwind_walk_mapping *maps;
	size_t n_maps;
	/* The copy: [base, base + len), len cut so that base + len cannot
	 * pass 2^64. */
	uint64_t base;
	const uint8_t *bytes;
	size_t len;
};

/* bpf_probe_read_user on the copy: all of [addr, addr + size) in it, or a
 * failure. Written as differences from base, which cannot wrap, since addr
 * and the offsets that made it are the process's to choose. */
static bool read_user(const struct walk_state *st, uint64_t addr, void *out, size_t size)
{
	uint64_t off;

	if (addr < st->base)
		return false;
	off = addr - st->base;
	if (off > st->len || st->len - off < size)
		return false;
	memcpy(out, st->bytes + off, size);
	return true;
}

static bool read_user_u64(const struct walk_state *st, uint64_t addr, uint64_t *v)
{
	return read_user(st, addr, v, sizeof(*v));
}

/* One read of both, as in BPF: it fails when either is outside the copy. */
static bool read_user_pair(const struct walk_state *st, uint64_t addr, uint64_t *lo,
			   uint64_t *hi)
{
	uint64_t pair[2];

	if (!read_user(st, addr, pair, sizeof(pair)))
		return false;
	*lo = pair[0];
	*hi = pair[1];
	return true;
}

/* BPF searches at most SMOLDER_UNWIND_MAPPINGS_MAX, the most the agent
 * loads; for those the answer is the same, and more cost a step or two. */
static const struct unwind_walk_mapping *find_mapping(const struct walk_state *st, uint64_t ip)
{
	size_t lo = 0, hi = st->n_maps;
	const struct unwind_walk_mapping *m;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->maps[mid].end <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= st->n_maps)
		return NULL;
	m = &st->maps[lo];
	if (ip < m->start || ip >= m->end)
		return NULL;
	return m;
}

/* The rule of the last row with row.pc <= pc, into *out; false if none.
 * BPF stops after SMOLDER_UNWIND_SEARCH_STEPS, which finishes any table
 * the rows map holds. */
static bool find_row(const struct unwind_walk_mapping *m, uint64_t pc,
		     struct smolder_unwind_rule *out)
{
	size_t lo = 0, hi = m->n_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t at = m->elems ? m->elems[mid].row.pc : m->rows[mid].pc;

		if (at <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	if (m->elems) {
		size_t rule = m->elems[lo - 1].row.rule;

		if (rule >= m->n_elems - m->n_rows)
			return false;
		*out = m->elems[m->n_rows + rule].rule;
		return true;
	}
	*out = (struct smolder_unwind_rule){
		.cfa_offset = m->rows[lo - 1].cfa_offset,
		.rbp_offset = m->rows[lo - 1].rbp_offset,
		.cfa_rule = m->rows[lo - 1].cfa_rule,
		.cfa_reg = m->rows[lo - 1].cfa_reg,
		.rbp_rule = m->rows[lo - 1].rbp_rule,
		.cfa_arg = m->rows[lo - 1].cfa_arg,
	};
	return true;
}

static int step_frame_pointer(struct walk_state *st)
{
	uint64_t ra, bp;

	if (st->bp == 0)
		return SMOLDER_UNWIND_END_FP_ZERO;
	if (st->bp < st->sp)
		return SMOLDER_UNWIND_END_BAD_FRAME;
	if (!read_user_pair(st, st->bp, &bp, &ra))
		return SMOLDER_UNWIND_END_READ;
	st->sp = st->bp + 16;
	st->bp = bp;
	st->ip = ra;
	return WALK_GO_ON;
}

/* False where the walk does not know reg: any but rsp and rbp above an
 * interrupted frame, since its callees may have changed it. */
static bool frame_reg(const struct walk_state *st, unsigned int reg, uint64_t *v)
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

static int step_signal(struct walk_state *st)
{
	uint64_t g[SMOLDER_SIGFRAME_NREGS];

	if (!read_user(st, st->sp + SMOLDER_SIGFRAME_REGS, g, sizeof(g)))
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
	st->interrupted = true;
	return WALK_GO_ON;
}

/* The offsets are signed: sign-extended, then added modulo 2^64 as BPF's
 * __u64 + __s32 is. */
static uint64_t plus(uint64_t a, int64_t off)
{
	return a + (uint64_t)off;
}

static int row_cfa(const struct walk_state *st, const struct smolder_unwind_rule *r,
		   uint64_t *cfa)
{
	uint64_t base, index;

	switch (r->cfa_rule) {
	case SMOLDER_CFA_REG:
		if (!frame_reg(st, r->cfa_reg, &base))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		*cfa = plus(base, r->cfa_offset);
		return WALK_GO_ON;
	case SMOLDER_CFA_PLT:
		*cfa = plus(st->sp, r->cfa_offset) +
		       (((st->ip & 15) >= (uint64_t)r->cfa_arg) ? 8 : 0);
		return WALK_GO_ON;
	case SMOLDER_CFA_DEREF:
		if (!frame_reg(st, r->cfa_reg, &base))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		if (!read_user_u64(st, plus(base, r->cfa_offset), cfa))
			return SMOLDER_UNWIND_END_READ;
		*cfa += 8 * (uint64_t)r->cfa_arg;
		return WALK_GO_ON;
	case SMOLDER_CFA_DEREF_INDEXED:
		if (!frame_reg(st, r->cfa_reg, &base) || !frame_reg(st, r->cfa_arg, &index))
			return SMOLDER_UNWIND_END_UNSUPPORTED;
		if (!read_user_u64(st, plus(base, r->cfa_offset) + 8 * index, cfa))
			return SMOLDER_UNWIND_END_READ;
		*cfa += 8;
		return WALK_GO_ON;
	}
	return SMOLDER_UNWIND_END_UNSUPPORTED;
}

static int step_row(struct walk_state *st, const struct smolder_unwind_rule *r)
{
	uint64_t cfa = 0, ra, bp = st->bp, v;
	int end;

	switch (r->cfa_rule) {
	case SMOLDER_CFA_NONE:
		st->interrupted = false;
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
	st->interrupted = false;
	/* A slot below sp is dead: an epilogue popped the register (GCC
	 * notes the pop's CFA change, not the register's restore), which
	 * holds its caller's value again. */
	if (r->rbp_rule == SMOLDER_RBP_AT_CFA && r->rbp_offset == -16 && cfa - 16 >= st->sp) {
		if (!read_user_pair(st, cfa - 16, &bp, &ra))
			return SMOLDER_UNWIND_END_READ;
		st->ip = ra;
		st->sp = cfa;
		st->bp = bp;
		return WALK_GO_ON;
	}
	if (!read_user_u64(st, cfa - 8, &ra))
		return SMOLDER_UNWIND_END_READ;
	if (r->rbp_rule == SMOLDER_RBP_AT_CFA && plus(cfa, r->rbp_offset) >= st->sp) {
		if (!read_user_u64(st, plus(cfa, r->rbp_offset), &v))
			return SMOLDER_UNWIND_END_READ;
		bp = v;
	} else if (r->rbp_rule == SMOLDER_RBP_AT_RBP) {
		if (!read_user_u64(st, plus(st->bp, r->rbp_offset), &v))
			return SMOLDER_UNWIND_END_READ;
		bp = v;
	}
	st->ip = ra;
	st->sp = cfa;
	st->bp = bp;
	return WALK_GO_ON;
}

/* How a step that went on may still end the walk: a return address of 0,
 * or one in the kernel. True when the walk ends here, with *end set. */
static bool step_ends(const struct walk_state *st, int step, unsigned int *end)
{
	if (step < 0 && st->ip == 0)
		step = SMOLDER_UNWIND_END_FP_ZERO;
	if (step < 0 && st->ip >= SMOLDER_KERNEL_START)
		step = SMOLDER_UNWIND_END_BAD_FRAME;
	if (step < 0)
		return false;
	*end = (unsigned int)step;
	return true;
}

/* step_py_trampoline and py_trampoline_cfa: one frame through a CPython
 * perf trampoline. */
static int step_py_trampoline(struct walk_state *st, const struct unwind_walk_mapping *m,
			      uint64_t pc)
{
	uint64_t size = m->py_trampoline & 0xff, stride = m->py_trampoline >> 8, off, cfa, ra;

	if (size < SMOLDER_PY_TRAMPOLINE_MIN || stride < size || stride > SMOLDER_PY_TRAMPOLINE_MAX)
		return SMOLDER_UNWIND_END_BAD_FRAME;
	off = (pc - m->start) % stride;
	cfa = st->sp + (off + 7 >= size && off + 1 < size ? 16 : 8);
	if (!read_user_u64(st, cfa - 8, &ra))
		return SMOLDER_UNWIND_END_READ;
	st->interrupted = false;
	st->ip = ra;
	st->sp = cfa;
	return -1;
}

/* One frame: walk_one, with push_frame's check of room done by the caller. */
static int walk_one(struct walk_state *st)
{
	const struct unwind_walk_mapping *m;
	struct smolder_unwind_rule r;
	/* A return address is after its call: its row is the call's. */
	uint64_t pc = st->interrupted ? st->ip : st->ip - 1;

	m = find_mapping(st, st->ip);
	if (m && m->py_trampoline)
		return step_py_trampoline(st, m, pc);
	if (m && m->n_rows && (m->rows || (m->elems && m->n_elems >= m->n_rows)) &&
	    find_row(m, pc - m->bias, &r))
		return step_row(st, &r);
	st->interrupted = false;
	return step_frame_pointer(st);
}

size_t unwind_walk(const struct unwind_walk_mapping *maps, size_t n_maps,
		   const struct unwind_walk_regs *regs, const struct unwind_walk_memory *mem,
		   uint64_t *pcs, size_t max, unsigned int *end)
{
	struct walk_state st = {
		.ip = regs->ip,
		.sp = regs->regs[SMOLDER_DWARF_RSP],
		.bp = regs->regs[SMOLDER_DWARF_RBP],
		.interrupted = true,
		.maps = maps,
		.n_maps = maps ? n_maps : 0,
	};
	size_t limit = max < SMOLDER_MAX_STACK_DEPTH ? max : SMOLDER_MAX_STACK_DEPTH;
	size_t n = 0;

	memcpy(st.regs, regs->regs, sizeof(st.regs));
	if (mem && mem->bytes) {
		st.base = mem->base;
		st.bytes = mem->bytes;
		st.len = mem->len;
		/* A copy claiming bytes past 2^64 (base + len wraps) is cut there,
		 * so that an address read is the address meant. */
		if (st.len && st.len - 1 > UINT64_MAX - st.base)
			st.len = (size_t)(UINT64_MAX - st.base) + 1;
	}
	/* As bpf_loop(SMOLDER_MAX_STACK_DEPTH + 1, walk_one): a stack with
	 * no room left for the next frame ends truncated. */
	*end = SMOLDER_UNWIND_END_TRUNCATED;
	for (int i = 0; i <= SMOLDER_MAX_STACK_DEPTH; i++) {
		if (n >= limit)
			break;
		pcs[n++] = st.ip;
		if (step_ends(&st, walk_one(&st), end))
			break;
	}
	return n;
}
