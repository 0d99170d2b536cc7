/* unwind_dump FILE: the unwind table the symbolizer builds for FILE, one
 * row a line ("PC RULE OFFSET RBP-RULE RBP-OFFSET ARG", PC in hex), after a
 * first line "rows N unsupported N skipped N". RULE is a register's name
 * for CFA = register + OFFSET (readelf's "rsp+8"), deref_REG for
 * CFA = *(REG + OFFSET) + ARG, indexed_REG for CFA = *(REG + OFFSET +
 * 8 * ARG) + 8 (ARG a register), plt with ARG its threshold, or
 * none, signal, stop, unsupported (ARG "-" where it means nothing). For
 * test_unwind_table.py, which holds it against binutils' readelf -wF. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unwind_table.h"

static const char *const cfa_names[] = {
	[SMOLDER_CFA_NONE] = "none", [SMOLDER_CFA_REG] = "", [SMOLDER_CFA_PLT] = "plt",
	[SMOLDER_CFA_DEREF] = "deref_", [SMOLDER_CFA_DEREF_INDEXED] = "indexed_",
	[SMOLDER_CFA_SIGNAL] = "signal", [SMOLDER_CFA_STOP] = "stop",
	[SMOLDER_CFA_UNSUPPORTED] = "unsupported",
};
/* x86_64's DWARF register numbers, as readelf names them. */
static const char *const reg_names[16] = {
	"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};
static const char *const rbp_names[] = {
	[SMOLDER_RBP_SAME] = "same", [SMOLDER_RBP_AT_CFA] = "at_cfa",
	[SMOLDER_RBP_AT_RBP] = "at_rbp", [SMOLDER_RBP_UNDEFINED] = "undefined",
};

int main(int argc, char **argv)
{
	struct sym_unwind_table t;
	Elf *elf;
	int fd, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: unwind_dump FILE\n");
		return 2;
	}
	elf_version(EV_CURRENT);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	if (!elf) {
		fprintf(stderr, "unwind_dump: cannot read %s\n", argv[1]);
		return 1;
	}
	rc = sym_unwind_table_build(elf, &t);
	if (rc) {
		fprintf(stderr, "unwind_dump: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	printf("rows %zu unsupported %zu skipped %zu\n", t.n, t.unsupported_rows, t.skipped_fdes);
	for (size_t i = 0; i < t.n; i++) {
		const struct smolder_unwind_row *r = &t.rows[i];
		bool with_reg = r->cfa_rule == SMOLDER_CFA_REG || r->cfa_rule == SMOLDER_CFA_DEREF ||
				r->cfa_rule == SMOLDER_CFA_DEREF_INDEXED;
		char arg[16] = "-";

		if (r->cfa_rule == SMOLDER_CFA_PLT)
			snprintf(arg, sizeof(arg), "%u", (unsigned)r->cfa_arg);
		else if (r->cfa_rule == SMOLDER_CFA_DEREF)
			snprintf(arg, sizeof(arg), "%u", 8u * r->cfa_arg);
		else if (r->cfa_rule == SMOLDER_CFA_DEREF_INDEXED)
			snprintf(arg, sizeof(arg), "%s", reg_names[r->cfa_arg & 15]);
		printf("%" PRIx64 " %s%s %d %s %d %s\n", (uint64_t)r->pc, cfa_names[r->cfa_rule],
		       with_reg ? reg_names[r->cfa_reg] : "", r->cfa_offset, rbp_names[r->rbp_rule],
		       r->rbp_offset, arg);
	}
	sym_unwind_table_release(&t);
	elf_end(elf);
	close(fd);
	return 0;
}
