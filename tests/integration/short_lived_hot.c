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
	return store_sink(&shorthot_sink,
			  lcg_rounds_k(shorthot_sink | 1, n, 2862933555777941757ULL, 3037000493ULL));
}

NOINLINE uint64_t shorthot_burn(uint64_t cpu_ns)
{
	return spin_for(thread_cpu_ns, cpu_ns, shorthot_spin, SPIN_ROUNDS);
}
