/* Workload for test_inline.py: the CPU goes to an always_inline loop
 * (inline_hot.h) inlined into inline_caller, a frame of its own called from
 * main. Built at -O2, so the inlining is real, with frame pointers.
 *
 *   smolder_it_inline [SECONDS]
 *
 * Prints {"event":"ready","pids":[P]}, waits for a line on stdin, calls
 * inline_caller for SECONDS (default 8) of wall time, prints
 * {"event":"done","process_cpu_ns":N} and waits for stdin to close. The
 * test finds the call's line by the INLINE_CALL marker.
 */
#include <inttypes.h>
#include <stdio.h>

#include "inline_hot.h"
#include "workload.h"

/* ~0.5 ms a call: the clock read between calls is well under 1%. */
#define ROUNDS 500000

volatile uint64_t inline_sink;

NOINLINE uint64_t inline_caller(uint64_t n)
{
	KEEP_FRAME();
	uint64_t x = inline_hot(inline_sink | 1, n); /* INLINE_CALL */

	inline_sink = x;
	return x;
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 8.0);

	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	wait_stdin_line();
	spin_for(wall_ns, (uint64_t)(seconds * 1e9), inline_caller, ROUNDS);
	printf("{\"event\":\"done\",\"process_cpu_ns\":%" PRIu64 "}\n", process_cpu_ns());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
