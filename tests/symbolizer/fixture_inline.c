/* A -O2 -g fixture for the DWARF tests: an always_inline function inlined
 * into two callers, one of them itself inlined. What each address holds is
 * told by binutils' addr2line, never by the code under test. */
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) unsigned long mix(unsigned long x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 31 + (unsigned long)i;
	return x;
}

static inline __attribute__((always_inline)) unsigned long twice(unsigned long x, int n)
{
	return mix(mix(x, n), n) ^ 0x5a5a;
}

__attribute__((noinline)) unsigned long inline_outer(unsigned long x, int n)
{
	return twice(x, n) + 1;
}

__attribute__((noinline)) unsigned long inline_plain(unsigned long x, int n)
{
	return mix(x, n) - 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;

	printf("%lu\n", inline_outer((unsigned long)argc, n) + inline_plain(3, n));
	(void)argv;
	return 0;
}
