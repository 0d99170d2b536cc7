/* Workload for test_debug_dir.py and test_debuginfod.py: built with -g, then
 * run from a stripped copy (strip --strip-all, no .symtab, no DWARF), so its
 * hot function can only be named from a separate debug file. Built twice,
 * with a different STRIPPED_VARIANT string, so that each test has a binary
 * (and build-id) of its own.
 *
 *   smolder_it_dbgdir|smolder_it_dbgd [SECONDS]
 *
 * Prints {"event":"ready","pids":[P],"variant":V}, waits for a line on
 * stdin, calls stripped_hot from stripped_loop for SECONDS (default 8) of
 * wall time, prints {"event":"done","process_cpu_ns":N} and waits for stdin
 * to close. The tests find the hot function's lines by the STRIPPED_HOT_*
 * markers: keep them on its first and last line.
 */
#include <inttypes.h>
#include <stdio.h>

#include "workload.h"

#ifndef STRIPPED_VARIANT
#error "build with -DSTRIPPED_VARIANT=\"name\""
#endif

#define ROUNDS 200000

volatile uint64_t stripped_sink;

NOINLINE uint64_t stripped_hot(uint64_t n)
{ /* STRIPPED_HOT_BEGIN */
	KEEP_FRAME();
	return store_sink(&stripped_sink, xorshift_rounds(stripped_sink | 1, n));
} /* STRIPPED_HOT_END */

NOINLINE uint64_t stripped_loop(double seconds)
{
	return spin_for(wall_ns, (uint64_t)(seconds * 1e9), stripped_hot, ROUNDS);
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 8.0);

	printf("{\"event\":\"ready\",\"pids\":[%d],\"variant\":\"%s\"}\n", (int)getpid(),
	       STRIPPED_VARIANT);
	fflush(stdout);
	wait_stdin_line();
	stripped_loop(seconds);
	printf("{\"event\":\"done\",\"process_cpu_ns\":%" PRIu64 "}\n", process_cpu_ns());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
