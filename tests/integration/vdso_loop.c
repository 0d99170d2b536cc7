/* Workload for test_vdso.py: a process that lives in the vDSO.
 *
 *   smolder_it_vdso [SECONDS]
 *
 * Reads CLOCK_MONOTONIC for SECONDS of wall time, through libc's
 * clock_gettime, which calls the kernel's vDSO (__vdso_clock_gettime) and
 * makes no system call: most samples are taken in code no file on disk
 * holds, mapped by the kernel at exec. Prints the number of reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static uint64_t read_clock_many(uint64_t *last)
{
	uint64_t n = 0;

	for (int i = 0; i < 1000; i++, n++)
		*last = now_ns();
	return n;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	uint64_t start = now_ns(), last = start, reads = 0;

	while (last - start < (uint64_t)(seconds * 1e9))
		reads += read_clock_many(&last);
	printf("%llu\n", (unsigned long long)reads);
	return 0;
}
