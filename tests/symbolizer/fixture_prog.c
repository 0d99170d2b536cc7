/* Fixture for the symbolizer tests, built PIE, non-PIE and stripped: a
 * program with known functions that prints where they were loaded ("NAME
 * ADDRESS" lines, then "ready") and waits to be killed, so that a test can
 * name its addresses through /proc as the agent does. */
#include <stdio.h>
#include <unistd.h>

#include "fixture.h"

volatile int fixture_sink;

FIXTURE_FN int fixture_alpha(int x)
{
	fixture_sink += x;
	return fixture_sink * 3;
}

FIXTURE_FN int fixture_beta(int x)
{
	for (int i = 0; i < x; i++)
		fixture_sink ^= i * 7;
	return fixture_sink - 1;
}

static FIXTURE_FN int fixture_gamma_local(int x)
{
	fixture_sink -= x * 5;
	return fixture_sink + 11;
}

/* A weak alias at a global function's address, named so that it would
 * sort first: the global name is the one to report. */
FIXTURE_FN int fixture_delta(int x)
{
	fixture_sink *= x + 13;
	return fixture_sink;
}
int fixture_c_weak_alias(int x) __attribute__((weak, alias("fixture_delta")));

/* A function whose symbol has no size (as hand-written assembly often has):
 * it covers what lies up to the next symbol. A local symbol shares its
 * address, named to sort first: the global one is the one to report. */
__asm__(".text\n"
	".type fixture_a_local_alias, @function\n"
	"fixture_a_local_alias:\n"
	".globl fixture_nosize\n"
	".type fixture_nosize, @function\n"
	"fixture_nosize:\n"
	"\tnop\n\tnop\n\tnop\n\tnop\n"
	"\tret\n");
int fixture_nosize(void);

int main(void)
{
	printf("fixture_alpha %p\n", (void *)fixture_alpha);
	printf("fixture_beta %p\n", (void *)fixture_beta);
	printf("fixture_gamma_local %p\n", (void *)fixture_gamma_local);
	printf("fixture_delta %p\n", (void *)fixture_delta);
	printf("fixture_nosize %p\n", (void *)fixture_nosize);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
