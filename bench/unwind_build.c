/* unwind_build FILE [REPEAT]: how long the symbolizer takes to build the
 * unwind table of FILE (its .eh_frame through libdw), best of REPEAT
 * (default 5) runs after the file is in the page cache, with the table's
 * size. For bench/unwind.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libelf.h>

#include "sym.h"
#include "unwind.h"
#include "unwind_table.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int repeat = argc > 2 ? atoi(argv[2]) : 5;
	double best = 1e9;
	size_t rows = 0, fdes_skipped = 0, unsupported = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: unwind_build FILE [REPEAT]\n");
		return 2;
	}
	elf_version(EV_CURRENT);
	for (int i = 0; i < repeat; i++) {
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		struct sym_unwind_table t;
		Elf *elf;
		double t0, dt;
		int rc;

		if (fd < 0) {
			perror(argv[1]);
			return 1;
		}
		t0 = now_s();
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		rc = elf ? sym_unwind_table_build(elf, &t) : -1;
		dt = now_s() - t0;
		if (rc) {
			fprintf(stderr, "unwind_build: %s: %s\n", argv[1], strerror(-rc));
			return 1;
		}
		if (dt < best)
			best = dt;
		rows = t.n;
		unsupported = t.unsupported_rows;
		fdes_skipped = t.skipped_fdes;
		sym_unwind_table_release(&t);
		elf_end(elf);
		close(fd);
	}
	printf("%s %.1f ms %zu rows %zu bytes %zu unsupported %zu skipped\n", argv[1], best * 1e3,
	       rows, rows * sizeof(struct smolder_unwind_row), unsupported, fdes_skipped);
	return 0;
}
