/* Workload for test_short_lived_lib.py: a process that lives a fraction of a
 * second, all of it on CPU in a shared library it is linked against.
 *
 *   smolder_it_shortlib MILLISECONDS
 *
 * Burns MILLISECONDS of its own CPU time in shorthot_burn (from
 * libsmolder_it_shorthot.so), prints one JSON line
 * {"event":"done","pid":P,"process_cpu_ns":N} with the CPU time its process
 * clock shows at the end of main (exec, the dynamic loader and the burn), and
 * exits. No handshake: the test runs it ten times in a row, each a new
 * process the agent must discover and name before it is gone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "short_lived_hot.h"
#include "workload.h"

/* A frame of the executable's own between main and the library. */
NOINLINE uint64_t run_burn(uint64_t cpu_ns)
{
	uint64_t used = shorthot_burn(cpu_ns);

	__asm__ volatile("" ::: "memory");
	return used;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MILLISECONDS\n", argv[0]);
		return 2;
	}
	uint64_t ms = strtoull(argv[1], NULL, 10);

	run_burn(ms * 1000000ULL);
	printf("{\"event\":\"done\",\"pid\":%d,\"process_cpu_ns\":%" PRIu64 "}\n",
	       (int)getpid(), process_cpu_ns());
	return fflush(stdout) == 0 ? 0 : 1;
}
