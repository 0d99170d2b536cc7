/* libsmolder_it_shorthot.so, for test_short_lived_lib.py: the library whose
 * function must be named in the samples of a process that lived ~200 ms.
 * Built with frame pointers (see meson.build), like the workloads.
 */
#include <stdint.h>

#include "short_lived_hot.h"
#include "workload.h"

/* ~150 us a call: the thread CPU clock (a real system call) is read between
 * calls, so well under 1% of the time is spent outside this function. */
#define SPIN_ROUNDS 100000

volatile uint64_t shorthot_sink;

NOINLINE uint64_t shorthot_spin(uint64_t n)
{
	KEEP_FRAME();
	uint64_t x = shorthot_sink | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 2862933555777941757ULL + 3037000493ULL;
	shorthot_sink = x;
	return x;
}

NOINLINE uint64_t shorthot_burn(uint64_t cpu_ns)
{
	uint64_t start = thread_cpu_ns(), used;

	do {
		shorthot_spin(SPIN_ROUNDS);
		used = thread_cpu_ns() - start;
	} while (used < cpu_ns);
	return used;
}
