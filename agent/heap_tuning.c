/* Heap thresholds for start-up and for the run (see heap_tuning.h). */
#define _DEFAULT_SOURCE /* sbrk */
#include "heap_tuning.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Above any buffer start-up allocates (the BTF, its type index). */
#define START_THRESHOLD (64 << 20)
/* How far the heap grows at once during start-up: room for two BTF
 * parses. */
#define START_TOP_PAD (32 << 20)
/* A freed block of this size or more goes back to the kernel at once; the
 * heap keeps at most this much free at its top. */
#define RUN_THRESHOLD (4 << 20)
#define RUN_TOP_PAD (128 << 10) /* glibc's default */
#define HUGE_PAGE ((uintptr_t)2 << 20)

/* The part of the heap grown for start-up, in whole huge pages. */
static void *start_lo, *start_hi;

void heap_tune_for_start(void)
{
	uintptr_t before, after;
	void *volatile grow; /* else the compiler drops malloc and free */

	mallopt(M_MMAP_THRESHOLD, START_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, START_THRESHOLD);
	mallopt(M_TOP_PAD, START_TOP_PAD);
	/* Grow the heap now, so that its new part can be marked. */
	before = (uintptr_t)sbrk(0);
	grow = malloc(HUGE_PAGE);
	free(grow);
	after = (uintptr_t)sbrk(0);
	before = (before + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	after &= ~(HUGE_PAGE - 1);
	if (after <= before)
		return;
	/* Huge pages for it: a page fault costs tens of microseconds on a
	 * virtual machine, and the BTF parses fault in some 14 MB (the first
	 * parse took 42 ms with 4 KiB pages, 6-11 ms with 2 MiB ones). */
	if (madvise((void *)before, after - before, MADV_HUGEPAGE) == 0) {
		start_lo = (void *)before;
		start_hi = (void *)after;
	}
}

void heap_tune_for_run(void)
{
	/* Later growth gets small pages again: a huge page half used by
	 * small allocations would hold 2 MiB. */
	if (start_lo)
		madvise(start_lo, (size_t)((char *)start_hi - (char *)start_lo), MADV_NOHUGEPAGE);
	mallopt(M_TOP_PAD, RUN_TOP_PAD);
	mallopt(M_MMAP_THRESHOLD, RUN_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, RUN_THRESHOLD);
	malloc_trim(0);
}
