/* The parser worker alone, for test_worker.c: what the agent's executable
 * does when run as SYM_WORKER_ARGV1, without the rest of the agent. */
#include <stdio.h>
#include <string.h>

#include "sym.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], SYM_WORKER_ARGV1)) {
		fprintf(stderr, "usage: worker_host %s MEMORY_CAP [--self-test]\n", SYM_WORKER_ARGV1);
		return 2;
	}
	return sym_worker_main(argc, argv);
}
