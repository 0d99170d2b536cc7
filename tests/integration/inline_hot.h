/* The hot loop of test_inline.py, in a header of its own: always inlined
 * into its caller in inline_main.c, so a profile must show it as an inlined
 * frame of that caller's location, named with this file and a line of the
 * loop. The test finds the loop's lines by the INLINE_LOOP_* markers; keep
 * them on the first and last line of the loop.
 */
#ifndef SMOLDER_TEST_INLINE_HOT_H
#define SMOLDER_TEST_INLINE_HOT_H

#include <stdint.h>

#include "workload.h"

ALWAYS_INLINE uint64_t inline_hot(uint64_t x, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) { /* INLINE_LOOP_BEGIN */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x *= 0x2545F4914F6CDD1DULL;
	} /* INLINE_LOOP_END */
	return x;
}

#endif
