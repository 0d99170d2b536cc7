/* sym_read FILE... [-n REPEAT]: what reading one ELF file costs the parser
 * worker, part by part, best of REPEAT (default 5) runs with the file in
 * the page cache (a restarted agent's case): the content id (SHA-256 of
 * the bytes), the symbol indexes alone (sym_elf_read_fd_no_unwind: headers
 * checked, functions from .symtab/.dynsym sorted, .gopclntab, PLT stubs,
 * build-id), two of their parts on their own (the function table, the PLT
 * stubs), the same read with the unwind table (sym_elf_read_fd), and the
 * DWARF open (sym_dwarf_open, searching the host's debug directories as an
 * agent without --debug-dir does). Wall and CPU time of this process, in
 * ms, each the least of the runs (the two may come from different runs),
 * and the symbols' first run alone: a worker reads each file once, into a
 * heap that has not held it before, and pays the page faults the later
 * runs do not.
 * For issue 14 item 2 (is a cache of the symbol indexes worth it?). */
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "content_id.h"
#include "debuginfo.h"
#include "elf_file.h"

struct cost {
	double wall, cpu;
};

static double clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum part { CONTENT_ID, SYMBOLS, FUNCTIONS, PLT, WITH_UNWIND, DWARF, PARTS };

static const char *const part_names[PARTS] = {
	"content_id", "symbols", "functions", "plt", "with_unwind", "dwarf_open",
};

/* One run of one part on the file at fd; 0 or a negative errno. */
static int run(enum part p, int fd, size_t *nfuncs)
{
	char hex[SYM_CONTENT_ID_LEN + 1];
	struct sym_elf *se = NULL;
	int err = 0;

	switch (p) {
	case CONTENT_ID:
		return sym_content_id_fd(fd, hex);
	case SYMBOLS:
		err = sym_elf_read_fd_no_unwind(fd, &se);
		if (!err)
			*nfuncs = se->nfuncs;
		sym_elf_free(se);
		return err;
	case WITH_UNWIND:
		err = sym_elf_read_fd(fd, &se);
		sym_elf_free(se);
		return err;
	case FUNCTIONS:
	case PLT: {
		Elf *e = elf_begin(fd, ELF_C_READ, NULL);

		se = calloc(1, sizeof(*se));
		if (!e || !se) {
			free(se);
			elf_end(e);
			return -1;
		}
		err = p == FUNCTIONS ? sym_elf_read_functions(e, se) : sym_elf_read_plt(e, se);
		elf_end(e);
		sym_elf_free(se);
		return err;
	}
	case DWARF: {
		struct sym_debug_search s = { .proc_root = "/proc" };
		struct sym_dwarf *d = NULL;
		char id[2 * SYM_BUILD_ID_MAX + 1] = "";

		sym_elf_peek_build_id(fd, id);
		err = sym_dwarf_open(fd, id[0] ? id : NULL, &s, &d);
		sym_dwarf_free(d);
		return err;
	}
	default:
		return -1;
	}
}

int main(int argc, char **argv)
{
	int repeat = 5;

	elf_version(EV_CURRENT);
	if (sym_content_id_init()) {
		fprintf(stderr, "sym_read: no SHA-256\n");
		return 1;
	}
	printf("| file | MB | functions | symbols, first run ms (CPU) |");
	for (int p = 0; p < PARTS; p++)
		printf(" %s ms (CPU) |", part_names[p]);
	printf("\n|---|---:|---:|---:|");
	for (int p = 0; p < PARTS; p++)
		printf("---:|");
	printf("\n");
	for (int a = 1; a < argc; a++) {
		struct cost best[PARTS], first = { 0, 0 };
		size_t nfuncs = 0;
		off_t size;
		int fd;

		if (!strcmp(argv[a], "-n") && a + 1 < argc) {
			repeat = atoi(argv[++a]);
			continue;
		}
		fd = open(argv[a], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[a]);
			continue;
		}
		size = lseek(fd, 0, SEEK_END);
		for (int p = 0; p < PARTS; p++) {
			best[p] = (struct cost){ 1e9, 1e9 };
			for (int i = 0; i < repeat; i++) {
				double w0, c0, w, c;

				lseek(fd, 0, SEEK_SET);
				w0 = clock_s(CLOCK_MONOTONIC);
				c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
				if (run((enum part)p, fd, &nfuncs) < 0 && i == 0)
					fprintf(stderr, "sym_read: %s: %s failed\n", argv[a],
						part_names[p]);
				w = clock_s(CLOCK_MONOTONIC) - w0;
				c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
				if (p == SYMBOLS && i == 0)
					first = (struct cost){ w, c };
				if (w < best[p].wall)
					best[p].wall = w;
				if (c < best[p].cpu)
					best[p].cpu = c;
			}
		}
		printf("| %s | %.1f | %zu | %.1f (%.1f) |", argv[a], (double)size / 1e6, nfuncs,
		       first.wall * 1e3, first.cpu * 1e3);
		for (int p = 0; p < PARTS; p++)
			printf(" %.1f (%.1f) |", best[p].wall * 1e3, best[p].cpu * 1e3);
		printf("\n");
		close(fd);
	}
	return 0;
}
