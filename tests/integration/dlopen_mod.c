/* libsmolder_it_dlmod.so, for test_dlopen.py: loaded only by dlopen() from
 * dlopen_host.c, never linked. Built with frame pointers (see meson.build).
 */
#include <stdint.h>

#include "workload.h"

volatile uint64_t dlmod_sink;

NOINLINE uint64_t dlmod_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&dlmod_sink, mix_rounds(dlmod_sink | 1, n));
}

/* Spins for budget_ns of wall time and returns the wall time it spun; the
 * clock (vDSO) is read every ~150 us. */
uint64_t dlmod_burn(uint64_t budget_ns);

NOINLINE uint64_t dlmod_burn(uint64_t budget_ns)
{
	return spin_for(wall_ns, budget_ns, dlmod_spin, 100000);
}
