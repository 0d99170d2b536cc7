/* A library for test_unwind.py's dlopen case: loaded only after the agent
 * has started, built at -O2 without frame pointers. Its work is at the end
 * of a chain of its own, mod_link_3 .. mod_link_1, down to mod_hot. */
#include <stdint.h>

#include "workload.h"

volatile uint64_t mod_sink;

NOINLINE uint64_t mod_hot(uint64_t n)
{
	return store_sink(&mod_sink, xorshift_rounds(mod_sink | 1, n));
}

NOINLINE uint64_t mod_link_1(uint64_t n)
{
	uint64_t r = mod_hot(n);

	mod_sink += r;
	return r + 1;
}

NOINLINE uint64_t mod_link_2(uint64_t n)
{
	uint64_t r = mod_link_1(n);

	mod_sink += r;
	return r + 2;
}

NOINLINE uint64_t mod_link_3(uint64_t n)
{
	uint64_t r = mod_link_2(n);

	mod_sink += r;
	return r + 3;
}
