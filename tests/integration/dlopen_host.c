/* Workload for test_dlopen.py: a long-running process that loads a library
 * with dlopen() while it is being profiled.
 *
 *   smolder_it_dlopen MODULE SECONDS
 *
 * Prints {"event":"ready","pids":[P]} and burns CPU in host_spin (its own
 * executable) until a line arrives on stdin, so the agent has sampled it and
 * read its maps before the library is there. Then dlopen()s MODULE (not
 * linked: the executable has no DT_NEEDED on it), prints
 * {"event":"dlopened","realtime_ns":T}, burns SECONDS of wall time in the
 * module's dlmod_burn (its leaf is dlmod_spin), prints
 * {"event":"done","realtime_ns":T} and idles until stdin closes, still
 * alive, so nothing but the dlopen tells the agent its maps changed.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "workload.h"

volatile uint64_t sink;

NOINLINE uint64_t host_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, xorshift_rounds(sink | 1, n));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MODULE SECONDS\n", argv[0]);
		return 2;
	}
	uint64_t burn_ns = (uint64_t)(atof(argv[2]) * 1e9);

	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	while (stdin_poll() <= 0)
		host_spin(100000);
	wait_stdin_line();

	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
		return 1;
	}
	uint64_t (*burn)(uint64_t) = (uint64_t (*)(uint64_t))dlsym(h, "dlmod_burn");

	if (!burn) {
		fprintf(stderr, "dlsym dlmod_burn: %s\n", dlerror());
		return 1;
	}
	printf("{\"event\":\"dlopened\",\"realtime_ns\":%" PRIu64 "}\n", clock_ns(CLOCK_REALTIME));
	fflush(stdout);
	burn(burn_ns);
	printf("{\"event\":\"done\",\"realtime_ns\":%" PRIu64 ",\"process_cpu_ns\":%" PRIu64 "}\n",
	       clock_ns(CLOCK_REALTIME), process_cpu_ns());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
