/* smolder_it_forged, for test_forged_build_id.py: the process that maps the
 * hostile libforged.so (linked, DT_NEEDED after libc's, so the loader maps
 * it below libc and it comes first in /proc/PID/maps) and burns CPU in it
 * until told to stop, run in a root of its own with a copy of the host's
 * libc and loader.
 *
 *   smolder_it_forged
 *
 * Prints {"event":"ready","pids":[P]} and burns at once (the test starts
 * it before the agent); a line on stdin ends the burn: it prints
 * {"event":"done","pid":P} and idles until stdin closes. */
#include <stdint.h>
#include <stdio.h>

#include "workload.h"

uint64_t forged_spin_hot(uint64_t n);

volatile uint64_t caller_sink;

/* A frame of the executable's own between main and the library. */
NOINLINE void forged_caller(void)
{
	while (!stdin_poll())
		caller_sink += forged_spin_hot(100000);
}

int main(void)
{
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	forged_caller();
	printf("{\"event\":\"done\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
