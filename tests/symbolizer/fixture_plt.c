/* A program whose calls to libc go through PLT stubs, for
 * test_plt_names.py: puts both called and its address taken (its stub is
 * then in .plt.got, through an R_X86_64_GLOB_DAT slot, in a PIE), the
 * others called only (.plt, or .plt.sec with IBT). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int (*volatile fixture_plt_taken)(const char *) = puts;

int main(int argc, char **argv)
{
	const char *x = getenv("FIXTURE_PLT");
	size_t n = strlen(argv[0]) + (x ? strlen(x) : 0);

	puts(argv[0]);
	fixture_plt_taken("taken");
	return (int)(n + (size_t)atoi(argc > 1 ? argv[1] : "0")) & 1;
}
