/* A program whose allocator is jemalloc, for test_memory_probes.c: linked
 * with -ljemalloc, which the dynamic linker searches before libc, so that
 * its malloc is the one bound. Prints where ("malloc ADDRESS", then
 * "ready") and waits to be killed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A block held: the allocator has been at work. */
void *volatile kept;

int main(void)
{
	kept = malloc(64);
	printf("malloc %p\n", (void *)malloc);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
