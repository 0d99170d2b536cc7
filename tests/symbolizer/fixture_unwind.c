/* A fixture for test_unwind_table.py: frames of the shapes the unwind
 * table must describe, built without frame pointers at -O2 by gcc and
 * clang (PIE and not): a plain chain of calls, a variable-length frame
 * (alloca: the CFA moves to rbp), an over-aligned local (the stack is
 * realigned: a dereferenced CFA or a DRAP register), a qsort comparator
 * (calls through libc's PLT) and a signal handler. */
#include <alloca.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

volatile int sink;

NOINLINE int leaf(int n)
{
	return sink + n;
}

NOINLINE int variable_frame(int n)
{
	volatile char *p = alloca((size_t)n + 1);

	p[0] = (char)n;
	return leaf(p[0]);
}

NOINLINE int realigned(int n)
{
	char buf[256] __attribute__((aligned(64)));

	memset(buf, n, sizeof(buf));
	return leaf(buf[n & 255]) + (int)((unsigned long)buf & 63);
}

static int compare(const void *a, const void *b)
{
	return leaf(*(const int *)a) - leaf(*(const int *)b);
}

static void on_signal(int sig)
{
	sink += leaf(sig);
}

int main(int argc, char **argv)
{
	int v[8] = { 5, 3, 7, 1, 8, 2, 6, 4 };

	(void)argv;
	signal(SIGUSR1, on_signal);
	raise(SIGUSR1);
	qsort(v, 8, sizeof(v[0]), compare);
	printf("%d\n", variable_frame(argc * 16) + realigned(argc) + v[0]);
	return 0;
}
