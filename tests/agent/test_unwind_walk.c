/* Unit tests of the user-space stack walk (agent/unwind_walk.h) on stacks
 * and rows made by hand: every rule of a row, the frame-pointer fallback,
 * a signal frame, each way a walk ends, and copies and rows made to lead a
 * walk out of its buffer (run under ASan as well: a read out of the copy
 * is a failure even where the walk's answer is right). What each walk must
 * give is worked out here from bpf/unwind.bpf.h, step by step in the
 * comments. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample.h"
#include "slim_rows.h"
#include "unwind_walk.h"

/* The stack copy: BASE + i is stack[i]. */
#define BASE 0x7ffe00000000ull
#define STACK_LEN 0x2000
static uint8_t stack[STACK_LEN];

/* Mapping A holds file addresses 0x1000.. at 0x10000..: FN(file address). */
#define A_START 0x10000ull
#define A_END 0x20000ull
#define A_BIAS 0xf000ull
#define FN(x) ((uint64_t)(x) + A_BIAS)
/* Mapping B has no table; C's rows start after its first bytes. */
#define B_START 0x30000ull
#define B_END 0x40000ull
#define C_START 0x50000ull
#define C_END 0x60000ull

#define ROW(pc_, rule, reg, off, rbp_rule_, rbp_off, arg)                               \
	{ .pc = (pc_), .cfa_rule = (rule), .cfa_reg = (reg), .cfa_offset = (off),        \
	  .rbp_rule = (rbp_rule_), .rbp_offset = (rbp_off), .cfa_arg = (arg) }
#define RSP SMOLDER_DWARF_RSP
#define RBP SMOLDER_DWARF_RBP
#define RAX 0
#define R9 9

static const struct smolder_unwind_row rows_a[] = {
	ROW(0x1000, SMOLDER_CFA_REG, RSP, 8, SMOLDER_RBP_SAME, 0, 0),   /* a leaf */
	ROW(0x1100, SMOLDER_CFA_REG, RBP, 16, SMOLDER_RBP_AT_CFA, -16, 0),
	ROW(0x1200, SMOLDER_CFA_REG, RSP, 48, SMOLDER_RBP_SAME, 0, 0),
	ROW(0x1300, SMOLDER_CFA_STOP, 0, 0, 0, 0, 0),
	ROW(0x1400, SMOLDER_CFA_NONE, 0, 0, 0, 0, 0),
	ROW(0x1500, SMOLDER_CFA_PLT, RSP, 8, SMOLDER_RBP_SAME, 0, 11),
	ROW(0x1600, SMOLDER_CFA_DEREF, RBP, -8, SMOLDER_RBP_AT_RBP, 0, 1),
	ROW(0x1680, SMOLDER_CFA_DEREF, RBP, -8, SMOLDER_RBP_AT_CFA, -24, 1),
	ROW(0x1700, SMOLDER_CFA_DEREF_INDEXED, RSP, 16, SMOLDER_RBP_SAME, 0, R9),
	ROW(0x1800, SMOLDER_CFA_REG, RAX, 8, SMOLDER_RBP_SAME, 0, 0),
	ROW(0x1900, SMOLDER_CFA_SIGNAL, 0, 0, 0, 0, 0),
	ROW(0x1a00, SMOLDER_CFA_UNSUPPORTED, 0, 0, 0, 0, 0),
	ROW(0x1b00, SMOLDER_CFA_REG, RSP, 0, SMOLDER_RBP_SAME, 0, 0),   /* CFA == sp */
	ROW(0x1c00, SMOLDER_CFA_REG, RSP, INT32_MAX, SMOLDER_RBP_SAME, 0, 0),
	ROW(0x1d00, SMOLDER_CFA_REG, RSP, INT32_MIN, SMOLDER_RBP_SAME, 0, 0),
	ROW(0x1e00, 12, RSP, 8, SMOLDER_RBP_SAME, 0, 0),               /* no such rule */
	ROW(0x1f00, SMOLDER_CFA_DEREF_INDEXED, RSP, 16, SMOLDER_RBP_SAME, 0, 63),
	ROW(0x2000, SMOLDER_CFA_REG, RSP, 8, SMOLDER_RBP_AT_RBP, INT16_MIN, 0),
	ROW(0x2100, SMOLDER_CFA_NONE, 0, 0, 0, 0, 0),
	/* An epilogue after pop rbp: GCC notes the CFA, not rbp's restore. */
	ROW(0x2200, SMOLDER_CFA_REG, RSP, 24, SMOLDER_RBP_AT_CFA, -48, 0),
	ROW(0x2240, SMOLDER_CFA_REG, RSP, 8, SMOLDER_RBP_AT_CFA, -16, 0),
	ROW(0x2280, SMOLDER_CFA_NONE, 0, 0, 0, 0, 0),
};
static const struct smolder_unwind_row rows_c[] = {
	ROW(0x100, SMOLDER_CFA_STOP, 0, 0, 0, 0, 0),
};

#define N_ROWS_A (sizeof(rows_a) / sizeof(rows_a[0]))
#define N_MAPS 3
/* Each test runs twice: with the rows as the symbolizer builds them, and
 * as the BPF rows array holds them (slim rows, then their rules). */
static struct unwind_walk_mapping maps[N_MAPS];

static void use_fat_rows(void)
{
	maps[0] = (struct unwind_walk_mapping){ .start = A_START, .end = A_END, .bias = A_BIAS,
						.rows = rows_a, .n_rows = N_ROWS_A };
	maps[1] = (struct unwind_walk_mapping){ .start = B_START, .end = B_END };
	maps[2] = (struct unwind_walk_mapping){ .start = C_START, .end = C_END, .bias = C_START,
						.rows = rows_c, .n_rows = 1 };
}

static union smolder_unwind_elem *slim_a, *slim_c;

static void use_slim_rows(void)
{
	size_t n_a = 0, n_c = 0;

	CHECK(slim_rows_make(rows_a, N_ROWS_A, &slim_a, &n_a) == 0);
	CHECK(slim_rows_make(rows_c, 1, &slim_c, &n_c) == 0);
	/* Rows whose rules repeat share them. */
	CHECK(n_a > N_ROWS_A && n_a < 2 * N_ROWS_A);
	CHECK(n_c == 2);
	maps[0] = (struct unwind_walk_mapping){ .start = A_START, .end = A_END, .bias = A_BIAS,
						.elems = slim_a, .n_rows = N_ROWS_A,
						.n_elems = n_a };
	maps[1] = (struct unwind_walk_mapping){ .start = B_START, .end = B_END };
	maps[2] = (struct unwind_walk_mapping){ .start = C_START, .end = C_END, .bias = C_START,
						.elems = slim_c, .n_rows = 1, .n_elems = n_c };
}

static void put(uint64_t addr, uint64_t v)
{
	if (addr < BASE || addr - BASE > STACK_LEN - 8) {
		check_failures++;
		fprintf(stderr, "put outside the test's stack: 0x%llx\n", (unsigned long long)addr);
		return;
	}
	memcpy(stack + (addr - BASE), &v, 8);
}

static struct unwind_walk_regs regs_at(uint64_t ip, uint64_t sp, uint64_t bp)
{
	struct unwind_walk_regs r = { .ip = ip };

	for (int i = 0; i < SMOLDER_DWARF_GPRS; i++)
		r.regs[i] = 0x5a5a0000 + (uint64_t)i; /* known, never addresses */
	r.regs[RSP] = sp;
	r.regs[RBP] = bp;
	return r;
}

struct result {
	size_t n;
	unsigned int end;
	uint64_t pcs[SMOLDER_MAX_STACK_DEPTH + 8];
};

static struct result walk_mem(const struct unwind_walk_mapping *m, size_t n_maps,
			      const struct unwind_walk_regs *r,
			      const struct unwind_walk_memory *mem, size_t max)
{
	struct result res;

	memset(&res, 0xee, sizeof(res));
	res.n = unwind_walk(m, n_maps, r, mem, res.pcs, max, &res.end);
	return res;
}

static struct result walk(const struct unwind_walk_regs *r)
{
	struct unwind_walk_memory mem = { BASE, stack, STACK_LEN };

	return walk_mem(maps, N_MAPS, r, &mem, SMOLDER_MAX_STACK_DEPTH);
}

static void check_walk(int line, const char *what, const struct result *got, unsigned int end,
		       const uint64_t *pcs, size_t n)
{
	if (got->n != n || got->end != end) {
		check_fail(__FILE__, line, what, ": %zu frames ending %u, want %zu ending %u",
			   got->n, got->end, n, end);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (got->pcs[i] != pcs[i])
			check_fail(__FILE__, line, what, ": frame %zu is 0x%llx, want 0x%llx", i,
				   (unsigned long long)got->pcs[i], (unsigned long long)pcs[i]);
}

#define EXPECT(what, got, end, ...)                                                     \
	do {                                                                            \
		const uint64_t want_[] = { __VA_ARGS__ };                               \
		struct result got_ = (got);                                             \
		check_walk(__LINE__, what, &got_, end, want_, sizeof(want_) / sizeof(want_[0]));  \
	} while (0)

static void reset(void)
{
	memset(stack, 0, sizeof(stack));
}

/* rsp+8 in the leaf, an rbp frame (the pair at CFA-16), an rsp+48 frame,
 * the outermost. The sampled ip is exact: at a row's first byte it is that
 * row's, where a return address there would be the row before's. */
static void test_chain(void)
{
	uint64_t sp = BASE + 0x100;

	reset();
	put(sp, FN(0x1120));             /* leaf: CFA sp+8, ra at sp */
	put(BASE + 0x200, BASE + 0x300); /* rbp frame: CFA rbp+16 = 0x210 */
	put(BASE + 0x208, FN(0x1210));
	put(BASE + 0x238, FN(0x1320));   /* rsp+48 from 0x210: ra at 0x238 */
	struct unwind_walk_regs r = regs_at(FN(0x1000), sp, BASE + 0x200);
	EXPECT("chain", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1000), FN(0x1120), FN(0x1210),
	       FN(0x1320));

	/* A return address at a row's start belongs to the row before: FN(0x1100)
	 * - 1 is the leaf's rsp+8 (ra at sp + 8), not the rbp frame's. */
	reset();
	put(sp, FN(0x1100));
	put(sp + 8, FN(0x1320));
	r = regs_at(FN(0x1010), sp, 0);
	EXPECT("return address at a row's start", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1010),
	       FN(0x1100), FN(0x1320));
}

/* Sampled in an epilogue, after rbp was popped: its slot (CFA-48, or the
 * pair's CFA-16) is below sp, dead, and the copy starts at sp; rbp holds
 * the caller's value already and the walk goes on with it. */
static void test_epilogue(void)
{
	uint64_t sp = BASE + 0x100;
	struct unwind_walk_memory mem = { sp, stack + 0x100, STACK_LEN - 0x100 };
	struct unwind_walk_regs r;

	reset();
	put(sp + 16, FN(0x1120));        /* CFA sp+24: ra at sp+16 */
	put(BASE + 0x200, BASE + 0x300); /* the caller's rbp frame */
	put(BASE + 0x208, FN(0x1320));
	r = regs_at(FN(0x2200), sp, BASE + 0x200);
	EXPECT("epilogue, rbp popped", walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, FN(0x2200), FN(0x1120), FN(0x1320));

	/* The pair's slot below sp: only the return address is read. */
	reset();
	put(sp, FN(0x1120));
	put(BASE + 0x200, BASE + 0x300);
	put(BASE + 0x208, FN(0x1320));
	r = regs_at(FN(0x2240), sp, BASE + 0x200);
	EXPECT("epilogue, pair slot dead", walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, FN(0x2240), FN(0x1120), FN(0x1320));
}

/* The PLT's CFA is sp+8 below the threshold (ip & 15 < 11), sp+16 from it. */
static void test_plt(void)
{
	uint64_t sp = BASE + 0x100;
	struct unwind_walk_regs r;

	reset();
	put(sp, FN(0x1310));
	put(sp + 8, FN(0x1320));
	r = regs_at(FN(0x1506), sp, 0);
	EXPECT("plt below", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1506), FN(0x1310));
	r = regs_at(FN(0x150b), sp, 0);
	EXPECT("plt at", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x150b), FN(0x1320));
}

/* CFA = *(rbp - 8) + 8; the caller's rbp *(rbp + 0), or *(CFA - 24): seen by
 * the frame-pointer step of the frame after (mapping B, no table). */
static void test_deref(void)
{
	uint64_t sp = BASE + 0x100, bp = BASE + 0x400;
	struct unwind_walk_regs r;

	reset();
	put(bp - 8, BASE + 0x500);       /* CFA 0x508, ra at 0x500 */
	put(BASE + 0x500, B_START + 0x40);
	put(bp, BASE + 0x700);           /* AT_RBP 0: the caller's rbp */
	put(BASE + 0x508 - 24, BASE + 0x800); /* AT_CFA -24 */
	put(BASE + 0x700, 0);
	put(BASE + 0x708, FN(0x1320));
	put(BASE + 0x800, 0);
	put(BASE + 0x808, FN(0x1310));
	r = regs_at(FN(0x1610), sp, bp);
	EXPECT("deref, rbp at rbp", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1610),
	       B_START + 0x40, FN(0x1320));
	r = regs_at(FN(0x1690), sp, bp);
	EXPECT("deref, rbp at cfa-24", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1690),
	       B_START + 0x40, FN(0x1310));
}

/* CFA = *(rsp + 16 + 8 * r9) + 8, with r9 known only where interrupted;
 * an index register number masked to 4 bits (63 is r15), as in BPF. */
static void test_deref_indexed(void)
{
	uint64_t sp = BASE + 0x100;
	struct unwind_walk_regs r;

	reset();
	put(sp + 16 + 8 * 3, BASE + 0x200);
	put(BASE + 0x200, FN(0x1320));
	r = regs_at(FN(0x1710), sp, 0);
	r.regs[R9] = 3;
	EXPECT("indexed", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1710), FN(0x1320));
	r = regs_at(FN(0x1f10), sp, 0);
	r.regs[15] = 3;
	EXPECT("indexed, register 63", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1f10), FN(0x1320));
	/* 8 * 2^61 wraps to 0, as BPF's u64 does: the read is at rsp + 16. */
	put(sp + 16, BASE + 0x300);
	put(BASE + 0x300, FN(0x1310));
	r = regs_at(FN(0x1710), sp, 0);
	r.regs[R9] = 1ull << 61;
	EXPECT("indexed, wrapping index", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1710),
	       FN(0x1310));

	/* Above the sampled frame r9 is not known. */
	reset();
	put(sp, FN(0x1710));
	r = regs_at(FN(0x1010), sp, 0);
	EXPECT("indexed above", walk(&r), SMOLDER_UNWIND_END_UNSUPPORTED, FN(0x1010), FN(0x1710));
}

/* CFA = rax + 8: in the sampled frame, not above it. */
static void test_other_register(void)
{
	uint64_t sp = BASE + 0x100;
	struct unwind_walk_regs r;

	reset();
	put(BASE + 0x300, FN(0x1320));
	r = regs_at(FN(0x1810), sp, 0);
	r.regs[RAX] = BASE + 0x300;
	EXPECT("rax", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1810), FN(0x1320));
	put(sp, FN(0x1810));
	r = regs_at(FN(0x1010), sp, 0);
	r.regs[RAX] = BASE + 0x300;
	EXPECT("rax above", walk(&r), SMOLDER_UNWIND_END_UNSUPPORTED, FN(0x1010), FN(0x1810));
	r = regs_at(FN(0x1a10), sp, 0);
	EXPECT("unsupported row", walk(&r), SMOLDER_UNWIND_END_UNSUPPORTED, FN(0x1a10));
	r = regs_at(FN(0x1e10), sp, 0);
	EXPECT("unknown rule", walk(&r), SMOLDER_UNWIND_END_UNSUPPORTED, FN(0x1e10));
}

/* NONE, no mapping, a mapping without rows, an address before a table's
 * first row: frame pointers, [rbp] the caller's rbp, [rbp + 8] its return
 * address. */
static void test_frame_pointers(void)
{
	uint64_t sp = BASE + 0x100, bp = BASE + 0x200;
	const uint64_t ips[] = { FN(0x1410), FN(0x2110), 0x5000, B_START + 8, A_END,
				 C_START + 0x10, 0x7fff00000000 };
	struct unwind_walk_regs r;

	reset();
	put(bp, BASE + 0x300);
	put(bp + 8, B_START + 0x20);
	put(BASE + 0x300, 0);
	put(BASE + 0x308, FN(0x1320));
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		r = regs_at(ips[i], sp, bp);
		EXPECT("frame pointers", walk(&r), SMOLDER_UNWIND_END_STOP, ips[i],
		       B_START + 0x20, FN(0x1320));
	}
	/* rbp 0: FP_ZERO; rbp below sp: BAD_FRAME. */
	r = regs_at(0x5000, sp, 0);
	EXPECT("rbp 0", walk(&r), SMOLDER_UNWIND_END_FP_ZERO, 0x5000);
	r = regs_at(0x5000, sp, sp - 8);
	EXPECT("rbp below sp", walk(&r), SMOLDER_UNWIND_END_BAD_FRAME, 0x5000);
	/* C's own row at 0x100 is used from there on. */
	r = regs_at(C_START + 0x100, sp, bp);
	EXPECT("first row", walk(&r), SMOLDER_UNWIND_END_STOP, C_START + 0x100);
	/* No mappings at all: frame pointers throughout. */
	{
		struct unwind_walk_memory mem = { BASE, stack, STACK_LEN };

		r = regs_at(FN(0x1410), sp, bp);
		put(BASE + 0x308, 0x6000);
		EXPECT("no mappings", walk_mem(NULL, 0, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
		       SMOLDER_UNWIND_END_FP_ZERO, FN(0x1410), B_START + 0x20, 0x6000);
	}
}

/* A handler's leaf returns to __restore_rt; the ucontext at its rsp + 40
 * holds the interrupted frame, whose ip is exact and whose registers (rax
 * here) are known again. */
static void test_signal(void)
{
	uint64_t sp = BASE + 0x100, uc = sp + 8, g[SMOLDER_SIGFRAME_NREGS];
	struct unwind_walk_regs r;

	reset();
	put(sp, FN(0x1908));
	for (int i = 0; i < SMOLDER_SIGFRAME_NREGS; i++)
		g[i] = 0x1000 + (uint64_t)i;
	g[13] = BASE + 0x600;  /* rax */
	g[15] = BASE + 0x500;  /* rsp */
	g[16] = FN(0x1800);    /* rip, at a row's start: that row's */
	for (int i = 0; i < SMOLDER_SIGFRAME_NREGS; i++)
		put(uc + SMOLDER_SIGFRAME_REGS + 8 * (uint64_t)i, g[i]);
	put(BASE + 0x600, FN(0x1320));
	r = regs_at(FN(0x1010), sp, 0);
	EXPECT("signal", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1010), FN(0x1908), FN(0x1800),
	       FN(0x1320));

	/* r9 of the interrupted frame is g[1], for DEREF_INDEXED there. */
	g[1] = 2;
	g[16] = FN(0x1710);
	put(uc + SMOLDER_SIGFRAME_REGS + 8, g[1]);
	put(uc + SMOLDER_SIGFRAME_REGS + 16 * 8, g[16]);
	put(BASE + 0x500 + 16 + 16, BASE + 0x680);
	put(BASE + 0x680, FN(0x1310));
	EXPECT("signal, r9", walk(&r), SMOLDER_UNWIND_END_STOP, FN(0x1010), FN(0x1908),
	       FN(0x1710), FN(0x1310));

	/* The ucontext cut by the copy's end: READ. */
	reset();
	sp = BASE + STACK_LEN - 100;
	put(sp, FN(0x1908));
	r = regs_at(FN(0x1010), sp, 0);
	EXPECT("signal past the copy", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x1010), FN(0x1908));
}

/* How walks end: reads out of the copy, a CFA not above sp, return
 * address 0 or in the kernel, 127 frames. */
static void test_ends(void)
{
	struct unwind_walk_regs r;
	uint64_t sp;

	reset();
	r = regs_at(FN(0x1010), BASE + STACK_LEN - 4, 0);
	EXPECT("ra past the end", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x1010));
	r = regs_at(FN(0x1010), BASE - 8, 0);
	EXPECT("ra below the copy", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x1010));
	/* The rbp/ra pair half in the copy. */
	r = regs_at(FN(0x1110), BASE + 0x100, BASE + STACK_LEN - 8);
	EXPECT("pair half out", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x1110));
	r = regs_at(0x5000, BASE + 0x100, BASE + STACK_LEN - 8);
	EXPECT("fp pair half out", walk(&r), SMOLDER_UNWIND_END_READ, 0x5000);
	/* DEREF's read out of the copy. */
	r = regs_at(FN(0x1610), BASE + 0x100, BASE + 4);
	EXPECT("deref out", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x1610));
	/* RBP_AT_RBP's read: rbp - 32768 is below the copy. */
	put(BASE + 0x100, FN(0x1320));
	r = regs_at(FN(0x2010), BASE + 0x100, BASE + 0x200);
	EXPECT("rbp at rbp out", walk(&r), SMOLDER_UNWIND_END_READ, FN(0x2010));

	/* CFA == sp, and CFA from rax below sp. */
	r = regs_at(FN(0x1b10), BASE + 0x100, 0);
	EXPECT("cfa == sp", walk(&r), SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1b10));
	r = regs_at(FN(0x1810), BASE + 0x100, 0);
	r.regs[RAX] = BASE + 0x100 - 8;
	EXPECT("cfa below sp", walk(&r), SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1810));

	/* A return address of 0 ends the walk before it is a frame; one in the
	 * kernel half is a bad frame. */
	sp = BASE + 0x100;
	put(sp, 0);
	r = regs_at(FN(0x1010), sp, 0);
	EXPECT("ra 0", walk(&r), SMOLDER_UNWIND_END_FP_ZERO, FN(0x1010));
	put(sp, SMOLDER_KERNEL_START);
	EXPECT("ra in the kernel", walk(&r), SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1010));
	put(sp, SMOLDER_KERNEL_START - 1); /* a frame: no mapping, then rbp 0 */
	EXPECT("ra just below the kernel", walk(&r), SMOLDER_UNWIND_END_FP_ZERO, FN(0x1010),
	       SMOLDER_KERNEL_START - 1);

	/* The leaf's own address as every return address: the walk goes up 8
	 * bytes a frame until 127 frames, or max. */
	reset();
	for (uint64_t a = BASE; a < BASE + STACK_LEN; a += 8)
		put(a, FN(0x1010));
	r = regs_at(FN(0x1010), BASE, 0);
	{
		struct result got = walk(&r);
		bool same = true;

		CHECK_INT(got.n, SMOLDER_MAX_STACK_DEPTH);
		CHECK_INT(got.end, SMOLDER_UNWIND_END_TRUNCATED);
		for (size_t i = 0; i < got.n; i++)
			same = same && got.pcs[i] == FN(0x1010);
		CHECK(same, "every frame the leaf");
		CHECK_U64(got.pcs[SMOLDER_MAX_STACK_DEPTH], 0xeeeeeeeeeeeeeeeeull); /* untouched */
	}
	{
		struct unwind_walk_memory mem = { BASE, stack, STACK_LEN };
		struct result got = walk_mem(maps, N_MAPS, &r, &mem, 10);

		CHECK_INT(got.n, 10);
		CHECK_INT(got.end, SMOLDER_UNWIND_END_TRUNCATED);
		CHECK_U64(got.pcs[10], 0xeeeeeeeeeeeeeeeeull);
		got = walk_mem(maps, N_MAPS, &r, &mem, 0);
		CHECK_INT(got.n, 0);
		CHECK_INT(got.end, SMOLDER_UNWIND_END_TRUNCATED);
		got = walk_mem(maps, N_MAPS, &r, &mem, 1000);
		CHECK_INT(got.n, SMOLDER_MAX_STACK_DEPTH);
		CHECK_U64(got.pcs[SMOLDER_MAX_STACK_DEPTH], 0xeeeeeeeeeeeeeeeeull);
	}
	/* The copy ends before 127: READ at its end, one frame a word. */
	{
		struct unwind_walk_memory mem = { BASE, stack, 64 };
		struct result got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);

		CHECK_INT(got.n, 9);
		CHECK_INT(got.end, SMOLDER_UNWIND_END_READ);
	}
}

/* Copies and rows made to lead the walk out of its buffer. Each buffer is
 * malloc'd to its exact length, for ASan to see a read past it. */
static void test_hostile(void)
{
	size_t len = 16;
	uint8_t *buf = malloc(4096);
	struct unwind_walk_memory mem;
	struct unwind_walk_regs r;
	struct result got;
	uint64_t top = UINT64_MAX - 15, v;

	if (!buf)
		abort();
	memset(buf, 0, 4096);
	/* A copy at the top of the address space that claims 4096 bytes, 4080
	 * of them past 2^64: cut at 16. ra FN(0x1320) at top + 8. */
	v = FN(0x1320);
	memcpy(buf + 8, &v, 8);
	mem = (struct unwind_walk_memory){ top, buf, 4096 };
	r = regs_at(FN(0x1010), top + 8, 0);
	/* CFA top + 16 wraps to 0, not above sp. */
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("top, cfa wraps", got, SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1010));
	/* A pair across 2^64: fails, though the buffer has the bytes. */
	r = regs_at(0x5000, 0, top + 8);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("top, pair across 2^64", got, SMOLDER_UNWIND_END_READ, 0x5000);
	/* DEREF's *(rbp - 8) with rbp 4: a read at 2^64 - 4. */
	r = regs_at(FN(0x1610), 0, 4);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("top, deref across 2^64", got, SMOLDER_UNWIND_END_READ, FN(0x1610));
	r = regs_at(0x5000, 0, UINT64_MAX);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("top, rbp at 2^64 - 1", got, SMOLDER_UNWIND_END_READ, 0x5000);
	free(buf);

	/* The rest on a copy of exactly len bytes at BASE. */
	buf = calloc(1, len);
	if (!buf)
		abort();
	mem = (struct unwind_walk_memory){ BASE, buf, len };
	/* CFA sp + INT32_MAX: past the copy; sp + INT32_MIN: below sp, or,
	 * from a small sp, wrapped above it and past the copy. */
	r = regs_at(FN(0x1c10), BASE, 0);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("cfa_offset INT32_MAX", got, SMOLDER_UNWIND_END_READ, FN(0x1c10));
	r = regs_at(FN(0x1d10), BASE, 0);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("cfa_offset INT32_MIN", got, SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1d10));
	r = regs_at(FN(0x1d10), 0x100, 0);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("cfa_offset INT32_MIN wraps", got, SMOLDER_UNWIND_END_READ, FN(0x1d10));
	/* sp near 2^64: CFA sp + 8 wraps below it. */
	r = regs_at(FN(0x1010), UINT64_MAX - 4, 0);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("sp wraps", got, SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1010));
	/* A pair at 2^64 - 8 from a frame pointer, from a pair row. */
	r = regs_at(0x5000, 0, UINT64_MAX - 7);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("fp pair at the top", got, SMOLDER_UNWIND_END_READ, 0x5000);
	r = regs_at(FN(0x1110), 0, UINT64_MAX - 31);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("cfa pair at the top", got, SMOLDER_UNWIND_END_READ, FN(0x1110));
	/* An index (negative, as a u64) that brings rsp + 16 + 8 * r9 back to
	 * 8 bytes before the copy's end: it reads 0 there, a CFA of 8, below
	 * sp. From sp 4 bytes higher, the read is 4 bytes before the end. */
	r = regs_at(FN(0x1710), BASE + 0x1000, 0);
	r.regs[R9] = (uint64_t)-(int64_t)(0x1008 / 8);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("index back into the copy", got, SMOLDER_UNWIND_END_BAD_FRAME, FN(0x1710));
	r.regs[SMOLDER_DWARF_RSP] = BASE + 0x1004;
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("index to 4 before the end", got, SMOLDER_UNWIND_END_READ, FN(0x1710));
	/* Empty and missing copies: every read fails. */
	mem.len = 0;
	r = regs_at(FN(0x1010), BASE, 0);
	got = walk_mem(maps, N_MAPS, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("empty copy", got, SMOLDER_UNWIND_END_READ, FN(0x1010));
	got = walk_mem(maps, N_MAPS, &r, NULL, SMOLDER_MAX_STACK_DEPTH);
	EXPECT("no copy", got, SMOLDER_UNWIND_END_READ, FN(0x1010));
	free(buf);

	/* Mappings out of order: some walk, in bounds. */
	{
		const struct unwind_walk_mapping bad[] = { maps[2], maps[0], maps[1], maps[0] };
		struct unwind_walk_memory full = { BASE, stack, STACK_LEN };

		reset();
		r = regs_at(FN(0x1010), BASE + 0x100, 0);
		got = walk_mem(bad, 4, &r, &full, SMOLDER_MAX_STACK_DEPTH);
		CHECK(got.n >= 1 && got.n <= SMOLDER_MAX_STACK_DEPTH && got.end < SMOLDER_UNWIND_END_COUNT);
	}
}

/* CPython's perf trampolines (-X perf): an arena, one every 16 bytes, each
 * `sub $8,%rsp; call *%rcx; add $8,%rsp; ret` (11 bytes): CFA rsp+16 from
 * the call (byte 4) to the ret (byte 10), rsp+8 elsewhere. */
#define T_START 0x70000ull
static void test_py_trampolines(void)
{
	struct unwind_walk_mapping m[2] = {
		maps[0],
		{ .start = T_START, .end = T_START + 0x1000, .py_trampoline = 16 << 8 | 11 },
	};
	struct unwind_walk_memory mem = { BASE, stack, STACK_LEN };
	uint64_t sp = BASE + 0x100;
	struct unwind_walk_regs r;

	/* A leaf called from the third trampoline: its return address is the
	 * add (byte 6), one word under the sub's slot: CFA sp + 16. */
	reset();
	put(sp, T_START + 0x26);
	put(sp + 16, FN(0x1320));
	r = regs_at(FN(0x1000), sp, 0);
	EXPECT("through a trampoline", walk_mem(m, 2, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, FN(0x1000), T_START + 0x26, FN(0x1320));
	/* Sampled in one: at the sub (byte 0) and the ret (byte 10) the
	 * return address is at sp; at the call (byte 4) one word up. */
	reset();
	put(sp, FN(0x1320));
	put(sp + 8, FN(0x1320));
	r = regs_at(T_START + 0x10, sp, 0);
	EXPECT("at the sub", walk_mem(m, 2, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, T_START + 0x10, FN(0x1320));
	r = regs_at(T_START + 0x1a, sp, 0);
	EXPECT("at the ret", walk_mem(m, 2, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, T_START + 0x1a, FN(0x1320));
	reset();
	put(sp, 0x1234); /* the sub's slot: not a return address */
	put(sp + 8, FN(0x1320));
	r = regs_at(T_START + 0x14, sp, 0);
	EXPECT("at the call", walk_mem(m, 2, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_STOP, T_START + 0x14, FN(0x1320));
	/* A stride below the size is no arena: the walk ends there. */
	m[1].py_trampoline = 8 << 8 | 11;
	EXPECT("stride below size", walk_mem(m, 2, &r, &mem, SMOLDER_MAX_STACK_DEPTH),
	       SMOLDER_UNWIND_END_BAD_FRAME, T_START + 0x14);
}

static void run_all(void)
{
	test_chain();
	test_epilogue();
	test_plt();
	test_deref();
	test_deref_indexed();
	test_other_register();
	test_frame_pointers();
	test_signal();
	test_ends();
	test_hostile();
	test_py_trampolines();
}

/* What slim rows refuse: a pc past 32 bits; and a rule index past the
 * table's rules ends nothing outside it (frame pointers there). */
static void test_slim_bounds(void)
{
	const struct smolder_unwind_row far[] = {
		ROW(0x1000, SMOLDER_CFA_REG, RSP, 8, SMOLDER_RBP_SAME, 0, 0),
		ROW(0x100000000ull, SMOLDER_CFA_NONE, 0, 0, 0, 0, 0),
	};
	union smolder_unwind_elem *e = NULL, bad[2];
	size_t n = 0;
	struct unwind_walk_memory mem = { BASE, stack, STACK_LEN };
	struct unwind_walk_mapping m = { .start = A_START, .end = A_END, .bias = A_BIAS,
					 .elems = bad, .n_rows = 1, .n_elems = 2 };
	struct unwind_walk_regs r;
	struct result got;

	CHECK(slim_rows_make(far, 2, &e, &n) == -ERANGE && !e && n == 0);
	bad[0].row = (struct smolder_unwind_slim_row){ .pc = 0x1000, .rule = 1 };
	bad[1].rule = (struct smolder_unwind_rule){ .cfa_rule = SMOLDER_CFA_STOP };
	memset(stack, 0, sizeof(stack));
	r = regs_at(FN(0x1010), BASE + 0x100, 0);
	got = walk_mem(&m, 1, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	/* Rule 1 is past the one rule: no row, frame pointers, rbp 0. */
	CHECK(got.n == 1 && got.end == SMOLDER_UNWIND_END_FP_ZERO);
	bad[0].row.rule = 0;
	bad[1].rule = (struct smolder_unwind_rule){ .cfa_rule = SMOLDER_CFA_STOP };
	m.n_elems = 2;
	got = walk_mem(&m, 1, &r, &mem, SMOLDER_MAX_STACK_DEPTH);
	CHECK(got.n == 1 && got.end == SMOLDER_UNWIND_END_STOP);
}

int main(void)
{
	use_fat_rows();
	run_all();
	use_slim_rows();
	run_all();
	test_slim_bounds();
	free(slim_a);
	free(slim_c);
	return check_report("unwind_walk");
}
