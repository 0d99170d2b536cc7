/* libsmolder_it_pltlib.so, for the tests of plt_loop.c: a function so small
 * that a loop calling it spends a good part of its time in the PLT stub
 * that leads to it. */
#include <stdint.h>

#include "workload.h"

NOINLINE uint64_t plt_tiny(uint64_t x)
{
	return x * 3 + 1;
}
