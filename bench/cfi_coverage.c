/* cfi_coverage FILE [-v] < CALLS: what of FILE's unwind table (the rows the
 * symbolizer builds, symbolizer/unwind_table.c) the BPF walk can follow.
 * For bench/cfi_coverage.sh.
 *
 * Each row is one of:
 *   any      followed in every frame: a CFA from rsp or rbp (added to or
 *            read from), the PLT's, a signal frame, the outermost frame;
 *   leaf     a CFA from another register (rax, rsi, r9, ...): followed in
 *            the frame the sample (or a signal) interrupted, where the
 *            registers are known, not above it;
 *   none     no CFI covers it (padding, code without CFI): frame pointers;
 *   unsupported  CFI the walk cannot follow anywhere.
 * CALLS holds the addresses of FILE's call instructions, one a line in hex
 * (from objdump): a frame above the leaf stands at a call, so a leaf row
 * holding one is a place the walk stops ("leaf at a call"). A row the walk
 * cannot follow is unsupported or a leaf row at a call.
 *
 * Prints "FILE rows N any N leaf N leaf_at_call N none N unsupported N";
 * with -v, then each row it cannot follow: "PC END RULE". */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libelf.h>

#include "sym.h"
#include "unwind.h"
#include "unwind_table.h"

enum row_class { CLASS_ANY, CLASS_LEAF, CLASS_NONE, CLASS_UNSUPPORTED };

static bool needs_leaf_reg(unsigned reg)
{
	return reg != SMOLDER_DWARF_RSP && reg != SMOLDER_DWARF_RBP;
}

static enum row_class classify(const struct smolder_unwind_row *r)
{
	switch (r->cfa_rule) {
	case SMOLDER_CFA_NONE:
		return CLASS_NONE;
	case SMOLDER_CFA_UNSUPPORTED:
		return CLASS_UNSUPPORTED;
	case SMOLDER_CFA_REG:
	case SMOLDER_CFA_DEREF:
		return needs_leaf_reg(r->cfa_reg) ? CLASS_LEAF : CLASS_ANY;
	case SMOLDER_CFA_DEREF_INDEXED:
		return needs_leaf_reg(r->cfa_reg) || needs_leaf_reg(r->cfa_arg) ? CLASS_LEAF
										 : CLASS_ANY;
	}
	return CLASS_ANY; /* PLT (rsp and rip), SIGNAL, STOP */
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The call addresses on stdin, sorted; NULL on a failed allocation. */
static uint64_t *read_calls(size_t *n)
{
	size_t cap = 1024;
	uint64_t *v = malloc(cap * sizeof(*v)), a;

	*n = 0;
	while (v && scanf("%" SCNx64, &a) == 1) {
		if (*n == cap) {
			uint64_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				free(v);
				return NULL;
			}
			v = nv;
			cap *= 2;
		}
		v[(*n)++] = a;
	}
	if (v)
		qsort(v, *n, sizeof(*v), compare_u64);
	return v;
}

/* Whether a call lies in [lo, hi). */
static bool has_call(const uint64_t *calls, size_t n, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = n;

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (calls[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < n && calls[a] < hi;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "any", "leaf", "none", "unsupported" };
	bool verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
	size_t count[4] = { 0 }, at_call = 0, n_calls;
	uint64_t *calls;
	struct sym_unwind_table t;
	Elf *elf;
	int fd, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: cfi_coverage FILE [-v] < CALL_ADDRESSES\n");
		return 2;
	}
	calls = read_calls(&n_calls);
	elf_version(EV_CURRENT);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	if (!calls || !elf) {
		fprintf(stderr, "cfi_coverage: cannot read %s\n", argv[1]);
		return 1;
	}
	rc = sym_unwind_table_build(elf, &t);
	if (rc) {
		fprintf(stderr, "cfi_coverage: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	for (size_t i = 0; i < t.n; i++) {
		enum row_class c = classify(&t.rows[i]);

		count[c]++;
		if (c == CLASS_LEAF && i + 1 < t.n &&
		    has_call(calls, n_calls, t.rows[i].pc, t.rows[i + 1].pc))
			at_call++;
	}
	printf("%s rows %zu any %zu leaf %zu leaf_at_call %zu none %zu unsupported %zu\n", argv[1],
	       t.n, count[CLASS_ANY], count[CLASS_LEAF], at_call, count[CLASS_NONE],
	       count[CLASS_UNSUPPORTED]);
	for (size_t i = 0; verbose && i + 1 < t.n; i++) {
		enum row_class c = classify(&t.rows[i]);
		bool stops = c == CLASS_UNSUPPORTED ||
			     (c == CLASS_LEAF &&
			      has_call(calls, n_calls, t.rows[i].pc, t.rows[i + 1].pc));

		if (stops)
			printf("%" PRIx64 " %" PRIx64 " %s\n", (uint64_t)t.rows[i].pc,
			       (uint64_t)t.rows[i + 1].pc, names[c]);
	}
	sym_unwind_table_release(&t);
	elf_end(elf);
	close(fd);
	free(calls);
	return 0;
}
