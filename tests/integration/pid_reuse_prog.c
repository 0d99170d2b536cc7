/* Workloads for test_pid_reuse.py, built twice from this file:
 * smolder_it_reuse_a (REUSE_VARIANT=a, hot function reuse_hot_a) and
 * smolder_it_reuse_b (REUSE_VARIANT=b, hot function reuse_hot_b). Two
 * executables, two names, two hot functions, one after the other under the
 * same pid (pid_reuse_launch.c forces it).
 *
 *   smolder_it_reuse_X SECONDS
 *
 * Burns SECONDS of its thread's CPU time in reuse_hot_X, prints
 * {"event":"burned","prog":"X","pid":P,"process_cpu_ns":N} and exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "workload.h"

#ifndef REUSE_VARIANT
#error "build with -DREUSE_VARIANT=a or b"
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define REUSE_HOT CAT(reuse_hot_, REUSE_VARIANT)

volatile uint64_t sink;

/* The same body in both variants: the names, in two executables, are what
 * tells them apart. */
NOINLINE uint64_t REUSE_HOT(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, lcg_rounds(sink | 1, n));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	spin_for(thread_cpu_ns, (uint64_t)(atof(argv[1]) * 1e9), REUSE_HOT, 100000);
	printf("{\"event\":\"burned\",\"prog\":\"%s\",\"pid\":%d,\"process_cpu_ns\":%" PRIu64 "}\n",
	       STR(REUSE_VARIANT), (int)getpid(), process_cpu_ns());
	return fflush(stdout) == 0 ? 0 : 1;
}
