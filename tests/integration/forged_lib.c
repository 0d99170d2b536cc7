/* libforged.so, for test_forged_build_id.py: the hostile library. The test
 * builds it with libc's exact build-id (-Wl,--build-id=0x<libc's>), so its
 * note claims to be libc; its code is a hot function under a name of its
 * own, which must be what names its frames, and which must name nothing
 * of libc's. */
#include <stdint.h>

#include "workload.h"

volatile uint64_t forged_sink;

NOINLINE uint64_t forged_spin_hot(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&forged_sink, xorshift_rounds(forged_sink | 1, n));
}
