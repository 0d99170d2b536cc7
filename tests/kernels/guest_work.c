/* The guest's workloads (test_kernel.py), built without frame pointers so
 * that only the agent's .eh_frame walk takes their stacks back to main.
 *
 *   smolder_kt_qsort SECONDS   sorts over and over: main -> run_qsort ->
 *                              libc's qsort -> compare_hot, which burns;
 *   smolder_kt_short SECONDS   main -> run_short -> short_hot, then exits:
 *                              the short-lived process, started after the
 *                              agent, that discovery must see come and go.
 *
 * One source, two executables: the service name is the executable's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

volatile uint64_t sink;
static uint64_t end_ns;

NOINLINE int compare_hot(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	store_sink(&sink, lcg_rounds(sink | 1, 1000));
	return x < y ? -1 : x > y;
}

NOINLINE void run_qsort(void)
{
	static uint64_t v[4096];
	uint64_t s = 7;

	while (wall_ns() < end_ns) {
		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			v[i] = rng_next(&s);
		qsort(v, sizeof(v) / sizeof(v[0]), sizeof(v[0]), compare_hot);
	}
}

NOINLINE uint64_t short_hot(uint64_t n)
{
	return store_sink(&sink, xorshift_rounds(sink | 1, n));
}

NOINLINE void run_short(void)
{
	while (wall_ns() < end_ns)
		short_hot(100000);
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');

	end_ns = wall_ns() + (uint64_t)(seconds_from_args(argc, argv, 1, 10.0) * 1e9);
	if (strstr(self ? self + 1 : argv[0], "short"))
		run_short();
	else
		run_qsort();
	return 0;
}
