/* plt_names FILE [ADDR...]: the PLT stubs the symbolizer names in FILE,
 * for test_plt_names.py, which holds them against objdump's.
 *
 * First one line per function whose name ends in "@plt": "stub ADDR END
 * NAME" (hex, END past its last byte); then, for each ADDR given (hex),
 * "at ADDR NAME" with the name sym_elf_lookup gives there ("-" for none). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_file.h"

static bool is_stub(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && !strcmp(name + len - 4, "@plt");
}

int main(int argc, char **argv)
{
	struct sym_elf *elf;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: plt_names FILE [ADDR...]\n");
		return 2;
	}
	err = sym_elf_open(argv[1], &elf);
	if (err) {
		fprintf(stderr, "plt_names: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	for (size_t i = 0; i < elf->nfuncs; i++)
		if (is_stub(elf->funcs[i].name))
			printf("stub %" PRIx64 " %" PRIx64 " %s\n", elf->funcs[i].addr,
			       elf->funcs[i].end, elf->funcs[i].name);
	for (int i = 2; i < argc; i++) {
		uint64_t addr = strtoull(argv[i], NULL, 16);
		const char *name;

		printf("at %" PRIx64 " %s\n", addr, sym_elf_lookup(elf, addr, &name) ? "-" : name);
	}
	sym_elf_free(elf);
	return 0;
}
