/* Heap thresholds for start-up and for the run (see heap_tuning.h). */
#include "heap_tuning.h"

#include <malloc.h>

/* Above any buffer start-up allocates (the BTF, its type index). */
#define START_THRESHOLD (64 << 20)
/* A freed block of this size or more goes back to the kernel at once; the
 * heap keeps at most this much free at its top. */
#define RUN_THRESHOLD (4 << 20)

void heap_tune_for_start(void)
{
	mallopt(M_MMAP_THRESHOLD, START_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, START_THRESHOLD);
}

void heap_tune_for_run(void)
{
	mallopt(M_MMAP_THRESHOLD, RUN_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, RUN_THRESHOLD);
	malloc_trim(0);
}
