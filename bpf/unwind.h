/* Unwind rows: how to find a frame's caller at one address, made from the
 * CFI (.eh_frame, .debug_frame) of an executable file by the symbolizer
 * (symbolizer/unwind_table.c) and walked in BPF, on x86_64.
 *
 * A file's rows are sorted by pc and cover its code without gaps: a row
 * holds from its pc up to the next row's. Addresses are the file's own
 * (its ELF virtual addresses), so one table serves every process that maps
 * the file, whatever the load address.
 *
 * Every rule here is one the walk can follow with the registers it has and
 * reads of the user stack. It always has rip, rsp and rbp; the other
 * general registers (rax, rsi, r9, ...) only for the sampled frame, and for
 * the frame a signal interrupted (their values are in the signal frame),
 * since no CFI says where a caller's copy of them is. REG below is the
 * row's cfa_reg, INDEX its cfa_arg (x86_64 DWARF numbers):
 *   CFA    = REG + cfa_offset                  SMOLDER_CFA_REG
 *          = rsp + cfa_offset + (((rip & 15) >= cfa_arg) ? 8 : 0)
 *                                              SMOLDER_CFA_PLT (lazy-binding PLT entries)
 *          = *(REG + cfa_offset) + 8 * cfa_arg SMOLDER_CFA_DEREF (a realigned stack:
 *                                              main's *(rbp - 8); OpenSSL's saved rsp,
 *                                              `breg7 40; deref; plus_uconst 8`)
 *          = *(REG + cfa_offset + 8 * INDEX) + 8
 *                                              SMOLDER_CFA_DEREF_INDEXED (OpenSSL's
 *                                              bn_mul_mont: rsp saved past a frame of
 *                                              r9 words)
 *   A row whose CFA needs a register other than rsp and rbp ends the walk
 *   as unsupported in a frame that does not have it.
 *   return address = *(CFA - 8), always, on x86_64 (checked when the table
 *   is built: a row with another rule is SMOLDER_CFA_UNSUPPORTED);
 *   caller's rbp = unchanged                   SMOLDER_RBP_SAME
 *                = *(CFA + rbp_offset)         SMOLDER_RBP_AT_CFA
 *                = *(rbp + rbp_offset)         SMOLDER_RBP_AT_RBP (with DEREF on rbp)
 * and three that end or change the walk:
 *   SMOLDER_CFA_STOP    the return address is undefined: the outermost
 *                       frame (_start, a thread's start): the stack is whole;
 *   SMOLDER_CFA_SIGNAL  a signal trampoline (__restore_rt): the interrupted
 *                       registers are in the ucontext at rsp;
 *   SMOLDER_CFA_NONE    no CFI covers this address (hand-written code
 *                       without it, padding): walk by frame pointer;
 *   SMOLDER_CFA_UNSUPPORTED  CFI the walk cannot follow (see
 *                       bench/cfi_coverage.sh for what is left, and where).
 */
#ifndef SMOLDER_BPF_UNWIND_H
#define SMOLDER_BPF_UNWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum smolder_cfa_rule {
	SMOLDER_CFA_NONE = 0,
	SMOLDER_CFA_REG,
	SMOLDER_CFA_PLT,
	SMOLDER_CFA_DEREF,
	SMOLDER_CFA_DEREF_INDEXED,
	SMOLDER_CFA_SIGNAL,
	SMOLDER_CFA_STOP,
	SMOLDER_CFA_UNSUPPORTED,
};

enum smolder_rbp_rule {
	SMOLDER_RBP_SAME = 0,
	SMOLDER_RBP_AT_CFA,
	SMOLDER_RBP_AT_RBP,
	SMOLDER_RBP_UNDEFINED,
};

/* A row as the symbolizer builds it (16 bytes). The bit fields are laid
 * out alike by gcc and clang (x86_64 and BPF: little-endian, lowest bits
 * first). */
struct smolder_unwind_row {
	__u64 pc;          /* the file's address at which the row starts */
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa_rule : 4; /* enum smolder_cfa_rule */
	__u8 cfa_reg : 4;  /* the register the CFA is computed from */
	__u8 rbp_rule : 2; /* enum smolder_rbp_rule */
	__u8 cfa_arg : 6;  /* DEREF: 8s added after the read; DEREF_INDEXED: the
			    * index register; PLT: the threshold */
};
_Static_assert(sizeof(struct smolder_unwind_row) == 16, "rows are 16 bytes");

/* A row's rule: the row without its pc (8 bytes). A file has few distinct
 * rules (cc1's 478k rows: 652; libLLVM's 949k: 585). */
struct smolder_unwind_rule {
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa_rule : 4;
	__u8 cfa_reg : 4;
	__u8 rbp_rule : 2;
	__u8 cfa_arg : 6;
};
_Static_assert(sizeof(struct smolder_unwind_rule) == 8, "rules are 8 bytes");

/* A row in the rows array: its pc (the file's address, which fits in 32
 * bits: a table with a pc above is not loaded) and its rule's index among
 * the table's rules. */
struct smolder_unwind_slim_row {
	__u32 pc;
	__u32 rule;
};

/* The rows array's element, 8 bytes: every loaded table is its n rows,
 * sorted by pc, followed by its rules; the rule of the row at index
 * first + i is the element at first + n + row.rule. Half what the rows
 * themselves take: twice the tables in the same memory (a build host's
 * cc1, cc1plus, libLLVM and libclang-cpp together are 2.8M rows). */
union smolder_unwind_elem {
	struct smolder_unwind_slim_row row;
	struct smolder_unwind_rule rule;
};
_Static_assert(sizeof(union smolder_unwind_elem) == 8, "elements are 8 bytes");

/* x86_64's DWARF register numbers: rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp,
 * r8..r15 are 0..15, the return address (rip) 16. */
#define SMOLDER_DWARF_RBP 6
#define SMOLDER_DWARF_RSP 7
#define SMOLDER_DWARF_GPRS 16
#define SMOLDER_DWARF_RA 16

/* Where the kernel puts the interrupted registers for a signal handler:
 * struct rt_sigframe's ucontext at the handler's return (rsp, once
 * __restore_rt is reached), uc_mcontext at 40, then r8..r15, rdi, rsi,
 * rbp, rbx, rdx, rax, rcx, rsp, rip (arch/x86/include/uapi/asm/sigcontext.h).
 */
#define SMOLDER_SIGFRAME_REGS 40
#define SMOLDER_SIGFRAME_NREGS 17

/* A process's executable mappings, for the walk to find (load bias and
 * rows) the file of an address: sorted by start, at most
 * SMOLDER_UNWIND_MAPPINGS_MAX (beyond, the agent keeps the largest). A
 * mapping with n_rows 0 has no table loaded: frame pointers there. Its
 * first_row SMOLDER_UNWIND_PENDING says why: its file has not been read,
 * since no stack has been seen to pass through it (most of a process's
 * libraries are never on a sampled stack); the walk then also asks for a
 * copy of the stack, which the agent walks once it has read the files the
 * copy points into. */
#define SMOLDER_UNWIND_MAPPINGS_MAX 64
#define SMOLDER_UNWIND_PROCS_MAX 8192
#define SMOLDER_UNWIND_PENDING 0xffffffffu
/* A mapping whose first_row is this is an arena of CPython 3.12+'s perf
 * trampolines (python -X perf), from the mapping's start, one every
 * n_rows >> 8 bytes (3.12: back to back; 3.13: 16-byte aligned), each
 * n_rows & 0xff bytes: `sub $8,%rsp; call *%rcx; add $8,%rsp; ret`, after
 * an endbr64 where built with CET. They have neither CFI nor a frame
 * pointer: the CFA is rsp + 16 from the call to the add (the sub done,
 * the add not), rsp + 8 elsewhere; the return address below it, rbp
 * untouched. */
#define SMOLDER_UNWIND_PY_TRAMPOLINE 0xfffffffeu
#define SMOLDER_PY_TRAMPOLINE_MIN 11
#define SMOLDER_PY_TRAMPOLINE_MAX 64
/* Elements of all loaded tables together: the default of
 * --unwind-table-max-bytes (64M) / sizeof(union smolder_unwind_elem). */
#define SMOLDER_UNWIND_ROWS_DEFAULT (8u << 20)
/* A binary search of 2^24 elements (the largest array, 128M) takes 24
 * steps. */
#define SMOLDER_UNWIND_SEARCH_STEPS 24

struct smolder_unwind_mapping {
	__u64 start, end; /* the mapping's addresses */
	__u64 bias;       /* file address = address - bias */
	__u32 first_row;  /* into the rows map: its rows, then its rules */
	__u32 n_rows;
};

struct smolder_unwind_proc {
	__u64 start_ticks; /* the process these mappings are of */
	__u32 n;
	__u32 pad;
	struct smolder_unwind_mapping m[SMOLDER_UNWIND_MAPPINGS_MAX];
};

/* How a walk of a user stack ended. STOP is a whole stack, and so is
 * FP_ZERO when the agent names its last frame a thread's root (_start,
 * clone, clone3, start_thread); the agent ends the others with a frame
 * that names the reason, and counts them by reason. */
enum smolder_unwind_end {
	SMOLDER_UNWIND_END_STOP = 0,     /* CFI: the outermost frame */
	SMOLDER_UNWIND_END_FP_ZERO,      /* frame pointers: rbp 0, or return address 0 */
	SMOLDER_UNWIND_END_TRUNCATED,    /* SMOLDER_MAX_STACK_DEPTH frames, more to go */
	SMOLDER_UNWIND_END_READ,         /* the stack could not be read there */
	SMOLDER_UNWIND_END_UNSUPPORTED,  /* CFI the walk cannot follow */
	SMOLDER_UNWIND_END_BAD_FRAME,    /* a frame that does not move up the stack */
	SMOLDER_UNWIND_END_COUNT,
};

#endif
