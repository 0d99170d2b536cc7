/* unwind_dump FILE: the unwind table the symbolizer builds for FILE, one
 * row a line ("PC RULE OFFSET RBP-RULE RBP-OFFSET", PC in hex), after a
 * first line "rows N unsupported N skipped N". For test_unwind_table.py,
 * which holds it against binutils' readelf -wF. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unwind_table.h"

static const char *const cfa_names[] = {
	[SMOLDER_CFA_NONE] = "none", [SMOLDER_CFA_RSP] = "rsp", [SMOLDER_CFA_RBP] = "rbp",
	[SMOLDER_CFA_PLT] = "plt", [SMOLDER_CFA_DEREF_RBP] = "deref_rbp",
	[SMOLDER_CFA_SIGNAL] = "signal", [SMOLDER_CFA_STOP] = "stop",
	[SMOLDER_CFA_UNSUPPORTED] = "unsupported",
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
		bool plt = r->cfa_rule == SMOLDER_CFA_PLT;

		printf("%" PRIx64 " %s %d %s %d\n", (uint64_t)r->pc, cfa_names[r->cfa_rule], r->cfa_offset,
		       plt ? "threshold" : rbp_names[r->rbp_rule], plt ? r->rbp_rule : r->rbp_offset);
	}
	sym_unwind_table_release(&t);
	elf_end(elf);
	close(fd);
	return 0;
}
