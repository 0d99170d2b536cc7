/* libsmolder_it_dlmod.so, for test_dlopen.py: loaded only by dlopen() from
 * dlopen_host.c, never linked. Built with frame pointers (see meson.build).
 */
#include <stdint.h>

#include "workload.h"

volatile uint64_t dlmod_sink;

NOINLINE uint64_t dlmod_spin(uint64_t n)
{
	KEEP_FRAME();
	uint64_t x = dlmod_sink | 1, y = 0x9E3779B97F4A7C15ULL;

	for (uint64_t i = 0; i < n; i++) {
		x = (x ^ (x >> 31)) * y;
		y += 0x632BE59BD9B4E019ULL;
	}
	dlmod_sink = x;
	return x;
}

/* Spins for budget_ns of wall time; the clock (vDSO) is read every ~150 us. */
uint64_t dlmod_burn(uint64_t budget_ns);

NOINLINE uint64_t dlmod_burn(uint64_t budget_ns)
{
	uint64_t start = wall_ns(), r = 0;

	while (wall_ns() - start < budget_ns)
		r += dlmod_spin(100000);
	return r;
}
